#include "shield/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/subject.h"
#include "policy/abi.h"
#include "policy/canary_report.h"
#include "policy/keys.h"
#include "policy/store.h"
#include "protocol/payloads.h"
#include "registry/schema.h"
#include "shield/http_jobs.h"
#include "shield/shield.h"
#include "spine/kv.h"

typedef enum { KIND_POLICIES, KIND_SCHEMAS } kind_t;
typedef enum { OP_LIST, OP_GET, OP_PUT, OP_DELETE, OP_REPORT, OP_PROMOTE } op_t;
/* What a policy path names after its key: the key itself, its candidate, or the promotion
 * of its candidate (/admin/policies/<key>[/canary|/promote]). */
typedef enum { SUB_NONE, SUB_CANARY, SUB_PROMOTE } sub_t;

typedef struct job {
  arq_http_job_t base;
  kind_t kind;
  op_t op;
  char key[256];   /* in the bucket: "acme", "acme.canary"; OP_REPORT, OP_PROMOTE: "acme" */
  char only[ARQ_ID_MAX_LEN + 1]; /* OP_LIST of a tenant admin: the one key it may see */
  char message[256]; /* schemas: the type the set must contain, optional */
  uint64_t revision; /* OP_PROMOTE: the candidate revision meant (?revision=), 0: any */
  uint8_t *body;
  size_t body_len;
} job_t;

/* Admin requests in flight on the node; beyond, 503. */
#define ADMIN_MAX_QUEUED 64

struct arq_admin {
  arq_shield_t *shield;
  arq_http_jobs_t *jobs;
  natsConnection *nc; /* the job thread's */
};

static void answer(job_t *j, int status, const char *content_type, const void *body, size_t len) {
  arq_http_job_answer(&j->base, status, content_type, body, len);
}

static void answer_error(job_t *j, int status, const char *details) {
  arq_http_job_error(&j->base, status, details);
}

static void release(arq_http_job_t *base) {
  job_t *j = (job_t *)base;
  free(j->body);
  free(j);
}

/* ---- the work, on the admin thread ---- */

/* Checks a schema set and returns the gzip bytes to store, or -1 with the answer set. */
static int prepare_schema(arq_admin_t *a, job_t *j, arq_buf_t *store) {
  size_t limit = (size_t)a->shield->cfg->platform.registry.max_schema_bytes;
  arq_schema_error_t err;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  bool gz = j->body_len >= 2 && j->body[0] == 0x1f && j->body[1] == 0x8b;
  if (gz && arq_schema_gunzip(j->body, j->body_len, limit, &plain, &plain_len, &err)) {
    answer_error(j, 400, err.message);
    return -1;
  }
  arq_schema_t *s = NULL;
  int rc = arq_schema_load(gz ? plain : j->body, gz ? plain_len : j->body_len, limit, &s, &err);
  if (rc) {
    answer_error(j, 400, err.message);
  } else if (j->message[0] && !arq_schema_find_message(s, j->message)) {
    answer_error(j, 400, "the set has no such message type");
    rc = -1;
  } else if (gz) {
    arq_buf_append(store, j->body, j->body_len);
  } else {
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (arq_schema_gzip(j->body, j->body_len, &packed, &packed_len)) {
      answer_error(j, 500, "cannot compress");
      rc = -1;
    } else {
      arq_buf_append(store, packed, packed_len);
    }
    free(packed);
  }
  arq_schema_free(s);
  free(plain);
  return rc;
}

/* {"key":...,"revision":N} and, when bytes >= 0, "bytes":N between them. */
static void write_entry(arq_json_writer_t *w, const char *key, int bytes, uint64_t revision) {
  arq_json_w_object_begin(w);
  arq_json_w_key(w, "key", 3);
  arq_json_w_string(w, key, strlen(key));
  if (bytes >= 0) {
    arq_json_w_key(w, "bytes", 5);
    arq_json_w_int64(w, bytes);
  }
  arq_json_w_key(w, "revision", 8);
  arq_json_w_uint64(w, revision);
  arq_json_w_object_end(w);
}

static void list_entry(arq_json_writer_t *w, kvStore *kv, const char *key) {
  kvEntry *e = NULL;
  if (kvStore_Get(&e, kv, key) != NATS_OK)
    return;
  write_entry(w, key, kvEntry_ValueLen(e), kvEntry_Revision(e));
  kvEntry_Destroy(e);
}

static void list(job_t *j, kvStore *kv) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &b);
  arq_json_w_array_begin(&w);
  if (j->only[0]) {
    /* a tenant admin sees its own key and its candidate's, if stored, and no other */
    char canary[ARQ_POLICY_KEY_CAP];
    arq_policy_canary_key(canary, j->only);
    list_entry(&w, kv, j->only);
    list_entry(&w, kv, canary);
  } else {
    kvKeysList keys = {0};
    if (kvStore_Keys(&keys, kv, NULL) == NATS_OK)
      for (int i = 0; i < keys.Count; i++)
        list_entry(&w, kv, keys.Keys[i]);
    kvKeysList_Destroy(&keys);
  }
  arq_json_w_array_end(&w);
  answer(j, 200, "application/json", b.data, b.len);
  arq_buf_free(&b);
}

static uint64_t revision_of(kvStore *kv, const char *key) {
  kvEntry *e = NULL;
  uint64_t rev = kvStore_Get(&e, kv, key) == NATS_OK ? kvEntry_Revision(e) : 0;
  kvEntry_Destroy(e);
  return rev;
}

/* GET /admin/policies/<key>/canary: what every Shield says about the candidate, as
 * `arq policy canary --json` prints it. */
static void report(arq_admin_t *a, job_t *j, kvStore *kv) {
  arq_canary_report_t r;
  memset(&r, 0, sizeof r);
  memcpy(r.key, j->key, strnlen(j->key, ARQ_ID_MAX_LEN)); /* a valid base: at most 64 bytes */
  char canary[ARQ_POLICY_KEY_CAP], err[256];
  arq_policy_canary_key(canary, j->key);
  if (!(r.candidate_revision = revision_of(kv, canary))) {
    answer_error(j, 404, "no candidate policy");
    return;
  }
  r.active_revision = revision_of(kv, j->key);
  if (arq_canary_report_collect(a->nc, &r, a->shield->cfg->api.collect_ms, err, sizeof err)) {
    answer_error(j, 503, err);
    return;
  }
  arq_buf_t b;
  arq_buf_init(&b);
  arq_canary_report_write(&b, &r);
  answer(j, 200, "application/json", b.data, b.len);
  arq_buf_free(&b);
}

/* POST /admin/policies/<key>/promote[?revision=R] (policy/store.h). */
static void promote(job_t *j, jsCtx *js, kvStore *kv) {
  char err[512];
  arq_promotion_t p;
  arq_promote_status_t st = arq_policy_promote(js, kv, j->key, j->revision, &p, err, sizeof err);
  if (st != ARQ_PROMOTED) {
    answer_error(j, (int)st, err);
    return;
  }
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &b);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "key", 3);
  arq_json_w_string(&w, j->key, strlen(j->key));
  arq_json_w_key(&w, "revision", 8);
  arq_json_w_uint64(&w, p.revision);
  arq_json_w_key(&w, "candidate_revision", 18);
  arq_json_w_uint64(&w, p.candidate_revision);
  arq_json_w_key(&w, "previous_revision", 17);
  if (p.previous_revision)
    arq_json_w_uint64(&w, p.previous_revision);
  else
    arq_json_w_null(&w);
  arq_json_w_key(&w, "candidate_removed", 17);
  arq_json_w_bool(&w, p.candidate_removed);
  arq_json_w_object_end(&w);
  answer(j, 200, "application/json", b.data, b.len);
  arq_buf_free(&b);
  ARQ_LOG(ARQ_LOG_INFO, "admin", "candidate policy promoted", {"key", j->key});
}

static void serve_job(arq_admin_t *a, job_t *j) {
  const arq_config_t *cfg = a->shield->cfg;
  char err[256];
  if (!a->nc && arq_nats_connect(cfg, "arqon-shield admin", 2000, &a->nc, err, sizeof err) != NATS_OK) {
    a->nc = NULL;
    answer_error(j, 503, err);
    return;
  }
  const char *bucket = j->kind == KIND_POLICIES ? cfg->platform.overseer.kv_bucket : cfg->platform.registry.kv_bucket;
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  if (arq_kv_open(a->nc, bucket, true, cfg->nats.stream_replicas, &js, &kv, err, sizeof err) != NATS_OK) {
    answer_error(j, 503, err);
    return;
  }
  kvEntry *e = NULL;
  arq_buf_t store;
  arq_buf_init(&store);
  uint64_t rev = 0;
  switch (j->op) {
  case OP_LIST:
    list(j, kv);
    break;
  case OP_REPORT:
    report(a, j, kv);
    break;
  case OP_PROMOTE:
    promote(j, js, kv);
    break;
  case OP_GET:
    if (kvStore_Get(&e, kv, j->key) == NATS_OK && kvEntry_Operation(e) == kvOp_Put)
      answer(j, 200, j->kind == KIND_POLICIES ? "application/wasm" : "application/gzip",
             kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
    else
      answer_error(j, 404, "no such key");
    kvEntry_Destroy(e);
    break;
  case OP_DELETE:
    if (kvStore_Get(&e, kv, j->key) != NATS_OK) {
      answer_error(j, 404, "no such key");
    } else if (kvStore_Delete(kv, j->key) != NATS_OK) {
      answer_error(j, 503, nats_GetLastError(NULL));
    } else {
      answer(j, 200, "application/json", "{\"deleted\":true}", 16);
    }
    kvEntry_Destroy(e);
    break;
  case OP_PUT: {
    const char *why = NULL;
    if (j->kind == KIND_POLICIES) {
      why = arq_policy_abi_check(j->body, j->body_len);
      if (why)
        answer_error(j, 400, why);
      else
        arq_buf_append(&store, j->body, j->body_len);
    } else if (prepare_schema(a, j, &store)) {
      why = "refused";
    }
    if (why)
      break;
    if (kvStore_Put(&rev, kv, j->key, store.data, (int)store.len) != NATS_OK) {
      answer_error(j, 503, nats_GetLastError(NULL));
      break;
    }
    arq_buf_t body;
    arq_buf_init(&body);
    arq_json_writer_t w;
    arq_json_writer_init(&w, &body);
    write_entry(&w, j->key, -1, rev);
    answer(j, 200, "application/json", body.data, body.len);
    arq_buf_free(&body);
    ARQ_LOG(ARQ_LOG_INFO, "admin", j->kind == KIND_POLICIES ? "policy stored" : "schema stored",
            {"key", j->key});
    break;
  }
  }
  arq_buf_free(&store);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
}

static bool serve(arq_http_job_t *base, void *ctx) {
  serve_job(ctx, (job_t *)base);
  return false; /* answered */
}

static void close_nats(void *ctx) {
  arq_admin_t *a = ctx;
  if (a->nc) {
    natsConnection_Close(a->nc);
    natsConnection_Destroy(a->nc);
    a->nc = NULL;
  }
}

arq_admin_t *arq_admin_start(arq_shield_t *s) {
  arq_admin_t *a = calloc(1, sizeof *a);
  if (!a)
    arq_oom("admin");
  a->shield = s;
  if (!(a->jobs = arq_http_jobs_start("admin", ADMIN_MAX_QUEUED, a, close_nats))) {
    free(a);
    return NULL;
  }
  return a;
}

void arq_admin_stop(arq_admin_t *a) {
  if (!a)
    return;
  arq_http_jobs_stop(a->jobs);
  free(a);
}

/* ---- on the worker: authority and routing ---- */

static bool is_method(const arq_http_request_t *r, const char *m) {
  return r->method_len == strlen(m) && !memcmp(r->method, m, r->method_len);
}

/* What a request asks for, read from its head alone. */
typedef struct {
  kind_t kind;
  op_t op;
  sub_t sub;
  bool known_method; /* one the resource takes (a GET without a key is OP_LIST) */
  bool key_too_long;
  char key[256]; /* a policy's: the tenant id or _global, whatever `sub` names */
} target_t;

/* Returns false for a path outside /admin/policies and /admin/schemas. */
static bool parse_target(const arq_http_request_t *r, target_t *t) {
  memset(t, 0, sizeof *t);
  const char *path = r->path + 7; /* after "/admin/" */
  size_t rest = r->path_len - 7;
  size_t prefix;
  if (rest >= 8 && !memcmp(path, "policies", 8)) {
    t->kind = KIND_POLICIES;
    prefix = 8;
  } else if (rest >= 7 && !memcmp(path, "schemas", 7)) {
    t->kind = KIND_SCHEMAS;
    prefix = 7;
  } else {
    return false;
  }
  const char *key = path + prefix;
  size_t key_len = rest - prefix;
  if (key_len && *key == '/') {
    key++;
    key_len--;
  } else if (key_len) {
    return false; /* "/admin/policiesX" */
  }
  const char *slash = t->kind == KIND_POLICIES ? memchr(key, '/', key_len) : NULL;
  if (slash) {
    size_t sub_len = key_len - (size_t)(slash + 1 - key);
    if (sub_len == 6 && !memcmp(slash + 1, "canary", 6))
      t->sub = SUB_CANARY;
    else if (sub_len == 7 && !memcmp(slash + 1, "promote", 7))
      t->sub = SUB_PROMOTE;
    else
      return false;
    key_len = (size_t)(slash - key);
  }
  t->key_too_long = key_len >= sizeof t->key;
  if (!t->key_too_long) {
    memcpy(t->key, key, key_len);
    t->key[key_len] = '\0';
  }
  t->known_method = true;
  if (t->sub == SUB_PROMOTE)
    t->known_method = is_method(r, "POST");
  if (t->sub == SUB_PROMOTE)
    t->op = OP_PROMOTE;
  else if (is_method(r, "GET"))
    t->op = t->sub == SUB_CANARY ? OP_REPORT : key_len ? OP_GET : OP_LIST;
  else if (is_method(r, "PUT"))
    t->op = OP_PUT;
  else if (is_method(r, "DELETE"))
    t->op = OP_DELETE;
  else
    t->known_method = false;
  return true;
}

/* Who holds the token. */
typedef struct {
  bool platform;                     /* role == [auth] platform_admin_role */
  char tenant[ARQ_ID_MAX_LEN + 1];   /* a tenant admin (role "admin") of this tenant */
} admin_t;

/* The caller must hold an admin token: a platform admin's, or a tenant admin's. Returns 0,
 * or the status of the refusal. */
static int authenticate(arq_conn_t *c, const arq_http_request_t *r, admin_t *who, const char **why) {
  const arq_config_t *cfg = c->w->shield->cfg;
  char token[8192];
  arq_http_bearer(r, token, sizeof token);
  arq_identity_t id;
  if (arq_auth_verify(c->w->shield->auth, token, (int64_t)time(NULL), &id, why)) {
    arq_counter_inc(c->w->shield->m.auth_failures);
    return 401;
  }
  /* No platform_admin_role configured: nobody is a platform admin (fail closed). */
  who->platform = cfg->auth.platform_admin_role && !strcmp(id.role, cfg->auth.platform_admin_role);
  bool admin = who->platform || !strcmp(id.role, "admin");
  snprintf(who->tenant, sizeof who->tenant, "%s", id.tenant);
  arq_identity_free(&id);
  if (!admin)
    return *why = "an admin token (role admin) is required", 403;
  return 0;
}

/* A platform admin may do everything. A tenant admin administers the policy of its own
 * tenant (the list shows it that key only) and reads schemas: a schema set and `_global`
 * apply to every tenant. Returns 0, or 403 with the reason. */
static int permit(const admin_t *who, const target_t *t, const char **why) {
  /* per worker thread: the reason is read before the thread serves another request */
  static _Thread_local char reason[2 * ARQ_ID_MAX_LEN + 64];
  if (who->platform)
    return 0;
  if (t->kind == KIND_SCHEMAS) {
    if (t->known_method && (t->op == OP_GET || t->op == OP_LIST))
      return 0;
    return *why = "only a platform admin may write schemas", 403;
  }
  if (t->known_method && t->op == OP_LIST)
    return 0;
  if (!t->key_too_long && !strcmp(t->key, ARQ_POLICY_GLOBAL))
    return *why = "only a platform admin may administer _global", 403;
  if (t->key_too_long || strcmp(t->key, who->tenant)) {
    snprintf(reason, sizeof reason, "an admin of tenant %s may only administer %s", who->tenant,
             who->tenant);
    return *why = reason, 403;
  }
  return 0;
}

int arq_admin_authorize_head(arq_conn_t *c, const arq_http_request_t *r, const char **why) {
  admin_t who;
  int status = authenticate(c, r, &who, why);
  if (status)
    return status;
  target_t t;
  if (!parse_target(r, &t))
    return 0; /* no such resource: arq_admin_handle answers 404, for any admin */
  return permit(&who, &t, why);
}

static void refuse(arq_conn_t *c, int status, const char *details) {
  arq_http_reply_error(c, status, arq_http_status_reason(status), details);
}

void arq_admin_handle(arq_conn_t *c, const arq_http_request_t *r, const uint8_t *body, size_t len) {
  arq_shield_t *s = c->w->shield;
  const char *why = NULL;
  admin_t who;
  target_t t;
  /* Checked again even when the connection asked arq_admin_authorize_head before reading
   * the body: it costs one signature check, and no path here depends on that call. */
  int status = authenticate(c, r, &who, &why);
  if (status) {
    refuse(c, status, why);
    return;
  }
  if (!parse_target(r, &t)) {
    refuse(c, 404, "no such admin resource");
    return;
  }
  if ((status = permit(&who, &t, &why))) {
    refuse(c, status, why);
    return;
  }
  if (t.key_too_long) {
    refuse(c, 400, "key too long");
    return;
  }
  bool valid_key = t.kind == KIND_POLICIES ? arq_policy_base_valid(t.key) : arq_subject_valid(t.key);
  if (!t.known_method && t.sub == SUB_PROMOTE) {
    static const char refusal[] = "{\"error\":\"Method Not Allowed\",\"details\":\"use POST\"}";
    arq_http_reply(c, 405, "application/json", refusal, sizeof refusal - 1, false, "Allow: POST\r\n");
    return;
  }
  if (!t.known_method) {
    static const char refusal[] = "{\"error\":\"Method Not Allowed\",\"details\":\"use GET, PUT or DELETE\"}";
    arq_http_reply(c, 405, "application/json", refusal, sizeof refusal - 1, false,
                   "Allow: GET, PUT, DELETE\r\n");
    return;
  }
  if (t.op != OP_LIST && !valid_key) {
    refuse(c, 400, t.key[0] ? "invalid key" : "a key is required");
    return;
  }
  if (t.op == OP_PUT) {
    if (r->content_length > (int64_t)(size_t)s->cfg->shield.admin_max_body_bytes) {
      refuse(c, 413, "body too large");
      return;
    }
    if (!len) {
      refuse(c, 400, "a body is required");
      return;
    }
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j)
    arq_oom("admin job");
  j->kind = t.kind;
  j->op = t.op;
  memcpy(j->key, t.key, sizeof j->key);
  if (t.sub == SUB_CANARY && (t.op == OP_PUT || t.op == OP_DELETE))
    arq_policy_canary_key(j->key, t.key); /* a valid base: the candidate's key fits */
  char revision[24];
  if (t.op == OP_PROMOTE && arq_http_query_param(r->query, r->query_len, "revision", revision, sizeof revision) > 0) {
    char *end = NULL;
    unsigned long long v = strtoull(revision, &end, 10);
    if (*end || !v || revision[0] == '-') {
      free(j);
      refuse(c, 400, "revision: a revision number (1 or more)");
      return;
    }
    j->revision = v;
  }
  if (t.op == OP_LIST && t.kind == KIND_POLICIES && !who.platform)
    snprintf(j->only, sizeof j->only, "%s", who.tenant);
  if (j->kind == KIND_SCHEMAS && arq_http_query_param(r->query, r->query_len, "message", j->message,
                                                      sizeof j->message) < 0)
    j->message[0] = '\0';
  if (len) {
    j->body = malloc(len);
    if (!j->body)
      arq_oom("admin body");
    memcpy(j->body, body, len);
    j->body_len = len;
  }
  j->base.run = serve;
  j->base.release = release;
  j->base.keep_alive = r->keep_alive;
  if (!arq_http_jobs_submit(s->admin->jobs, c, &j->base)) {
    release(&j->base);
    refuse(c, 503, "too many admin requests in progress");
  }
}
