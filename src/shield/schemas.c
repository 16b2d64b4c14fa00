#include "shield/schemas.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/subject.h"
#include "registry/schema.h"
#include "shield/shield.h"
#include "spine/watch.h"

/* A compiled schema shared read-only by the workers. */
typedef struct {
  atomic_int refs;
  char id[256];
  arq_schema_t *schema;
} shared_schema_t;

struct arq_schemas {
  arq_shield_t *shield;
  arq_kv_watch_t *watch;
  atomic_bool ready;
};

/* One configured mapping as a worker sees it. */
typedef struct {
  shared_schema_t *schema;               /* NULL: missing, fail closed */
  const arq_schema_message_t *message;   /* NULL: the schema lacks the message */
} bound_mapping_t;

struct arq_worker_schemas {
  arq_worker_t *w;
  bound_mapping_t *mappings; /* parallel to cfg->platform.registry.mappings */
  arq_schema_limits_t limits;
};

typedef struct {
  arq_task_t task;
  arq_worker_t *w;
  char id[256];
  shared_schema_t *schema; /* NULL: deleted */
} install_t;

static void unref(shared_schema_t *s) {
  if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
    arq_schema_free(s->schema);
    free(s);
  }
}

/* ---- workers ---- */

arq_worker_schemas_t *arq_worker_schemas_new(arq_worker_t *w) {
  const arq_config_t *cfg = w->shield->cfg;
  arq_worker_schemas_t *ws = calloc(1, sizeof *ws);
  if (!ws)
    arq_oom("schemas");
  ws->w = w;
  ws->mappings = calloc(cfg->platform.registry.nmappings + 1, sizeof *ws->mappings);
  if (!ws->mappings)
    arq_oom("schemas");
  ws->limits.max_size = (size_t)cfg->shield.max_message_bytes;
  ws->limits.strict_unknown = cfg->platform.registry.strict_unknown;
  return ws;
}

void arq_worker_schemas_free(arq_worker_schemas_t *ws) {
  if (!ws)
    return;
  for (size_t i = 0; i < ws->w->shield->cfg->platform.registry.nmappings; i++)
    unref(ws->mappings[i].schema);
  free(ws->mappings);
  free(ws);
}

static void run_install(arq_loop_t *loop, arq_task_t *task) {
  install_t *in = task->data;
  arq_worker_schemas_t *ws = in->w->schemas;
  const arq_config_t *cfg = in->w->shield->cfg;
  for (size_t i = 0; i < cfg->platform.registry.nmappings; i++) {
    const arq_schema_mapping_t *m = &cfg->platform.registry.mappings[i];
    if (strcmp(m->schema_id, in->id))
      continue;
    unref(ws->mappings[i].schema);
    ws->mappings[i].schema = NULL;
    ws->mappings[i].message = NULL;
    if (in->schema) {
      atomic_fetch_add(&in->schema->refs, 1);
      ws->mappings[i].schema = in->schema;
      ws->mappings[i].message = arq_schema_find_message(in->schema->schema, m->message);
    }
  }
  unref(in->schema); /* this task's reference */
  free(in);
}

bool arq_schemas_check(arq_worker_t *w, const char *subject, const uint8_t *data, size_t len,
                       char *reason, size_t cap) {
  arq_worker_schemas_t *ws = w->schemas;
  if (!ws)
    return true;
  const arq_config_t *cfg = w->shield->cfg;
  size_t subject_len = strlen(subject);
  for (size_t i = 0; i < cfg->platform.registry.nmappings; i++) {
    const arq_schema_mapping_t *m = &cfg->platform.registry.mappings[i];
    if (!arq_subject_match(m->subject, subject, subject_len))
      continue;
    const bound_mapping_t *b = &ws->mappings[i];
    if (!b->schema) {
      snprintf(reason, cap, "schema %s is not available", m->schema_id);
      return false;
    }
    if (!b->message) {
      snprintf(reason, cap, "schema %s has no message %s", m->schema_id, m->message);
      return false;
    }
    arq_schema_error_t err;
    if (arq_schema_validate(b->schema->schema, b->message, data, len, &ws->limits, &err)) {
      snprintf(reason, cap, "%s", err.message);
      return false;
    }
    return true; /* the first matching mapping decides */
  }
  return true;
}

/* ---- the watch ---- */

static void install(arq_shield_t *s, const char *id, shared_schema_t *schema) {
  for (size_t i = 0; i < s->nworkers; i++) {
    install_t *in = calloc(1, sizeof *in);
    if (!in)
      arq_oom("schema install");
    in->task.cb = run_install;
    in->task.data = in;
    in->w = &s->workers[i];
    snprintf(in->id, sizeof in->id, "%s", id);
    if (schema)
      atomic_fetch_add(&schema->refs, 1);
    in->schema = schema;
    arq_loop_post(s->workers[i].loop, &in->task);
  }
  unref(schema);
}

static void on_entry(void *arg, kvEntry *e) {
  arq_schemas_t *r = arg;
  const arq_config_t *cfg = r->shield->cfg;
  const char *id = kvEntry_Key(e);
  char rev[24];
  snprintf(rev, sizeof rev, "%llu", (unsigned long long)kvEntry_Revision(e));
  if (strlen(id) >= sizeof ((shared_schema_t *)0)->id)
    return;
  if (kvEntry_Operation(e) != kvOp_Put) {
    ARQ_LOG(ARQ_LOG_INFO, "registry", "schema removed: mapped subjects now reject", {"schema_id", id},
            {"revision", rev});
    install(r->shield, id, NULL);
    return;
  }
  arq_schema_error_t err;
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  arq_schema_t *schema = NULL;
  size_t limit = (size_t)cfg->platform.registry.max_schema_bytes;
  if (arq_schema_gunzip(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), limit, &raw, &raw_len, &err) ||
      arq_schema_load(raw, raw_len, limit, &schema, &err)) {
    ARQ_LOG(ARQ_LOG_ERROR, "registry", "schema refused; the previous one stays", {"schema_id", id},
            {"revision", rev}, {"error", err.message});
    free(raw);
    return;
  }
  free(raw);
  shared_schema_t *sh = calloc(1, sizeof *sh);
  if (!sh)
    arq_oom("schema");
  atomic_init(&sh->refs, 1);
  snprintf(sh->id, sizeof sh->id, "%s", id);
  sh->schema = schema;
  ARQ_LOG(ARQ_LOG_INFO, "registry", "schema installed", {"schema_id", id}, {"revision", rev});
  install(r->shield, id, sh);
}

static void on_ready(void *arg) {
  arq_schemas_t *r = arg;
  atomic_store(&r->ready, true);
  ARQ_LOG(ARQ_LOG_INFO, "registry", "schemas loaded", {"bucket", r->shield->cfg->platform.registry.kv_bucket});
}

arq_schemas_t *arq_schemas_start(arq_shield_t *s) {
  if (!s->cfg->platform.registry.enabled)
    return NULL;
  arq_schemas_t *r = calloc(1, sizeof *r);
  if (!r)
    arq_oom("schemas");
  r->shield = s;
  arq_kv_watch_spec_t spec = {s->cfg->platform.registry.kv_bucket, "registry", on_entry, on_ready, r,
                              (int)s->cfg->platform.registry.cache_ttl_seconds, s->cfg->nats.stream_replicas};
  r->watch = arq_kv_watch_start(s->cfg, &spec);
  if (!r->watch) {
    free(r);
    return NULL;
  }
  return r;
}

void arq_schemas_stop(arq_schemas_t *r) {
  if (!r)
    return;
  arq_kv_watch_stop(r->watch);
  free(r);
}

bool arq_schemas_ready(const arq_schemas_t *r) { return !r || atomic_load(&r->ready); }
