#include "shield/api.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "common/base64.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/trace.h"
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "protocol/payloads.h"
#include "protocol/subjects.h"
#include "shield/api_keys.h"
#include "shield/http_jobs.h"
#include "shield/http_routes.h"
#include "shield/shield.h"
#include "spine/kv.h"
#include "spine/retired.h"

#define API_SENDER "api"
#define API_MAX_ROOMS 1000  /* rooms of one broadcast */
#define API_MAX_HEADERS 64  /* as a client's envelope */
#define API_TYPE_MAX 128    /* bytes of an event type */
#define API_REASON_MAX 123  /* what a close frame carries */

typedef enum {
  EP_PUBLISH,
  EP_BROADCAST,
  EP_SEND_USER,
  EP_DISCONNECT,
  EP_PRESENCE,
  EP_HISTORY,
  EP_ROOMS,
  EP_INFO,
  EP_COUNT
} endpoint_t;

static const char *const endpoint_names[EP_COUNT] = {"publish", "broadcast", "send_user", "disconnect",
                                                      "presence", "history",  "rooms",     "info"};

typedef char api_id_t[ARQ_ID_MAX_LEN + 1];

typedef struct {
  arq_http_job_t base;
  arq_api_t *api;
  endpoint_t ep;
  api_id_t tenant, user;
  api_id_t *rooms; /* one for every endpoint but broadcast's list */
  size_t nrooms;
  char type[API_TYPE_MAX + 1];
  uint8_t *data;
  size_t data_len;
  Arqon__V1__Envelope__HeadersEntry *headers; /* keys and values owned */
  size_t nheaders;
  char reason[API_REASON_MAX + 1];
  uint64_t since_seq;
  uint64_t limit; /* 0: the Brain's default */
  bool has_since;
  /* publish and broadcast: one result per room, answered when the last is settled */
  struct {
    int status; /* 0: acknowledged */
    const char *why;
  } *results;
  atomic_size_t unsettled;
} api_job_t;

struct arq_api {
  arq_shield_t *s;
  pthread_rwlock_t keys_lock;
  arq_api_keys_t *keys; /* NULL: no keys file, every request is 401 */
  arq_http_jobs_t *jobs;
  /* The job thread's. */
  natsConnection *nc;
  jsCtx *js;
  uint64_t next_msg_id;
  /* Publishes awaiting their acknowledgement: Nats-Msg-Id -> inflight_t. */
  pthread_mutex_t inflight_lock;
  arq_strmap_t inflight;
};

/* ---- metrics ---- */

static void count(arq_api_t *a, const char *endpoint, int status) {
  char code[8];
  snprintf(code, sizeof code, "%d", status);
  const char *const labels[] = {"endpoint", endpoint, "status", code, NULL};
  arq_counter_inc(arq_metrics_counter(a->s->metrics, "shield_api_requests_total",
                                      "Server API requests answered, by endpoint and status.", labels));
}

/* ---- keys ---- */

static void keys_swap(arq_api_t *a, arq_api_keys_t *k) {
  pthread_rwlock_wrlock(&a->keys_lock);
  arq_api_keys_t *old = a->keys;
  a->keys = k;
  pthread_rwlock_unlock(&a->keys_lock);
  arq_api_keys_free(old);
}

void arq_api_reload_keys(arq_api_t *a) {
  const char *path = a->s->cfg->api.keys_file;
  if (!path)
    return;
  char err[512];
  arq_api_keys_t *k = arq_api_keys_load(path, err, sizeof err);
  if (!k) {
    ARQ_LOG(ARQ_LOG_ERROR, "api", "keys file not reloaded; the keys in force stay", {"error", err});
    return;
  }
  char n[24];
  snprintf(n, sizeof n, "%zu", arq_api_keys_count(k));
  keys_swap(a, k);
  ARQ_LOG(ARQ_LOG_INFO, "api", "keys file reloaded", {"path", path}, {"keys", n});
}

/* The key's tenant ("*": every tenant), or 401 with the reason. */
static int authenticate(arq_api_t *a, const arq_http_request_t *r, char *tenant, const char **why) {
  char key[ARQ_API_KEY_MAX_LEN + 2];
  if (!arq_http_credentials(r, "apikey", key, sizeof key))
    return *why = "an `Authorization: apikey <key>` header is required", 401;
  pthread_rwlock_rdlock(&a->keys_lock);
  bool configured = a->keys != NULL;
  bool found = configured && arq_api_keys_find(a->keys, key, strlen(key), tenant);
  pthread_rwlock_unlock(&a->keys_lock);
  if (!configured)
    return *why = "the server API has no keys ([api] keys_file)", 401;
  if (!found)
    return *why = "unknown API key", 401;
  return 0;
}

int arq_api_authorize_head(arq_api_t *a, const arq_http_request_t *r, const char **why) {
  char tenant[ARQ_ID_MAX_LEN + 1];
  return authenticate(a, r, tenant, why);
}

/* ---- the job thread ---- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer_json(api_job_t *j, int status, const arq_buf_t *body) {
  arq_http_job_answer(&j->base, status, "application/json", body->data, body->len);
  count(j->api, endpoint_names[j->ep], status);
}

static void answer_error(api_job_t *j, int status, const char *details) {
  arq_http_job_error(&j->base, status, details);
  count(j->api, endpoint_names[j->ep], status);
}

static void answer_ok(api_job_t *j) {
  static const arq_buf_t ok = {.data = (char *)"{\"ok\":true}", .len = 11};
  answer_json(j, 200, &ok);
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure);

static int connect_nats(arq_api_t *a, api_job_t *j) {
  if (a->nc && natsConnection_Status(a->nc) == NATS_CONN_STATUS_CONNECTED)
    return 0;
  char err[256];
  if (!a->nc && arq_nats_connect(a->s->cfg, "arqon-shield api", 2000, &a->nc, err, sizeof err) != NATS_OK) {
    a->nc = NULL;
    answer_error(j, 503, err);
    return -1;
  }
  if (natsConnection_Status(a->nc) != NATS_CONN_STATUS_CONNECTED) {
    answer_error(j, 503, "NATS unavailable");
    return -1;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.AckHandler = on_ack;
  jo.PublishAsync.AckHandlerClosure = a;
  jo.PublishAsync.MaxPending = 65536;
  if (!a->js && natsConnection_JetStream(&a->js, a->nc, &jo) != NATS_OK) {
    a->js = NULL;
    answer_error(j, 503, "JetStream unavailable");
    return -1;
  }
  return 0;
}

/* A message with the headers the Shield stamps on a client's, for the API. */
static natsMsg *stamped(arq_api_t *a, const char *subject, const char *reply, const char *tenant,
                        const char *trace, const void *data, size_t len) {
  natsMsg *m = NULL;
  if (natsMsg_Create(&m, subject, reply, data, (int)len) != NATS_OK)
    return NULL;
  char traceparent[ARQ_TRACEPARENT_LEN + 1];
  uint64_t span = (uint64_t)now_ms() << 8 | 1;
  arq_traceparent_format(traceparent, trace, span);
  natsStatus st = natsMsgHeader_Set(m, ARQ_HEADER_TRACEPARENT, traceparent);
  if (st == NATS_OK) st = natsMsgHeader_Set(m, ARQ_HEADER_TRACE_ID, trace);
  if (st == NATS_OK) st = natsMsgHeader_Set(m, ARQ_HEADER_TENANT, tenant);
  if (st == NATS_OK) st = natsMsgHeader_Set(m, ARQ_HEADER_SENDER, API_SENDER);
  if (st == NATS_OK) st = natsMsgHeader_Set(m, ARQ_HEADER_NODE, a->s->node_id);
  if (st == NATS_OK) st = natsMsgHeader_Set(m, ARQ_HEADER_ORIGIN, "api");
  if (st != NATS_OK) {
    natsMsg_Destroy(m);
    return NULL;
  }
  return m;
}

static void audit(arq_api_t *a, api_job_t *j, const char *target, const char *trace) {
  arq_buf_t out;
  arq_buf_init(&out);
  const char *const fields[][2] = {{"action", endpoint_names[j->ep]}, {"sender", API_SENDER},
                                   {"node", a->s->node_id},           {"target", target},
                                   {"type", j->type[0] ? j->type : NULL}, {"trace_id", trace}};
  arq_payload_audit(&out, now_ms(), "api", -1, fields, sizeof fields / sizeof fields[0]);
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_audit(subject, sizeof subject, j->tenant);
  natsConnection_Publish(a->nc, subject, out.data, (int)out.len);
  arq_buf_free(&out);
}

/* What the Shield stamps on a client's envelope, for the API: a fresh trace id (written to
 * `trace`), the tenant, the room (or none), the time and the sender "api". */
static void stamp(Arqon__V1__Envelope *e, const char *tenant, const char *room, char trace[ARQ_TRACE_ID_LEN + 1]) {
  arq_trace_id_new(trace);
  e->trace_id = trace;
  e->tenant_id = (char *)tenant;
  e->room_id = room ? (char *)room : (char *)"";
  e->timestamp = now_ms();
  e->sender = (char *)API_SENDER;
}

/* The packed Envelope of an event of the job in `room` (or none), with a fresh trace id. */
static void pack_event(api_job_t *j, const char *room, char trace[ARQ_TRACE_ID_LEN + 1], arq_buf_t *out) {
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  Arqon__V1__Envelope__HeadersEntry *entries[API_MAX_HEADERS];
  for (size_t i = 0; i < j->nheaders; i++)
    entries[i] = &j->headers[i];
  ev.type = j->type;
  ev.data.data = j->data;
  ev.data.len = j->data_len;
  stamp(&e, j->tenant, room, trace);
  e.n_headers = j->nheaders;
  e.headers = entries;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  arq_envelope_pack(&e, out);
}

/* ---- publish and broadcast: asynchronous JetStream publishes ----
 *
 * Each room's message is published with js_PublishMsgAsync and a Nats-Msg-Id of its own
 * ("<instance>.api.<n>": JetStream's duplicate window also makes a retried publish safe);
 * the acknowledgement (or the error, or the timeout of publish_timeout_ms) comes back on a
 * nats.c thread, which finds the job by that id. The job is answered when its last room is
 * settled, so the API thread goes on to the next request meanwhile. */

typedef struct {
  api_job_t *j;
  size_t room;
  char trace[ARQ_TRACE_ID_LEN + 1];
} inflight_t;

static void answer_rooms(api_job_t *j) {
  if (j->ep == EP_PUBLISH) {
    if (j->results[0].status)
      answer_error(j, j->results[0].status, j->results[0].why);
    else
      answer_ok(j);
    return;
  }
  arq_buf_t body;
  arq_buf_init(&body);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &body);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "results", 7);
  arq_json_w_array_begin(&w);
  size_t failed = 0;
  for (size_t i = 0; i < j->nrooms; i++) {
    arq_json_w_object_begin(&w);
    arq_json_w_key(&w, "room", 4);
    arq_json_w_string(&w, j->rooms[i], strlen(j->rooms[i]));
    arq_json_w_key(&w, "ok", 2);
    arq_json_w_bool(&w, j->results[i].status == 0);
    if (j->results[i].status) {
      failed++;
      arq_json_w_key(&w, "error", 5);
      arq_json_w_object_begin(&w);
      arq_json_w_key(&w, "code", 4);
      arq_json_w_int64(&w, j->results[i].status);
      arq_json_w_key(&w, "reason", 6);
      arq_json_w_string(&w, j->results[i].why, strlen(j->results[i].why));
      arq_json_w_object_end(&w);
    }
    arq_json_w_object_end(&w);
  }
  arq_json_w_array_end(&w);
  arq_json_w_key(&w, "ok", 2);
  arq_json_w_bool(&w, failed == 0);
  arq_json_w_object_end(&w);
  answer_json(j, 200, &body);
  arq_buf_free(&body);
}

/* One room settled (any thread); the last one answers the job. */
static void settle(api_job_t *j, size_t room, int status, const char *why) {
  j->results[room].status = status;
  j->results[room].why = why;
  if (atomic_fetch_sub(&j->unsettled, 1) != 1)
    return;
  answer_rooms(j);
  arq_http_job_complete(&j->base);
}

static const char *publish_failure(natsStatus st, int *status) {
  *status = st == NATS_MAX_PAYLOAD ? 413 : 503;
  if (st == NATS_MAX_PAYLOAD)
    return "larger than the NATS server's max_payload";
  return st == NATS_TIMEOUT ? "the ingress stream did not acknowledge in time"
                            : "the ingress stream did not take the message";
}

/* The job and room of a published message, taken out of the table (NULL: settled). */
static inflight_t *take_inflight(arq_api_t *a, natsMsg *msg) {
  const char *id = NULL;
  if (natsMsgHeader_Get(msg, ARQ_HEADER_MSG_ID, &id) != NATS_OK)
    return NULL;
  pthread_mutex_lock(&a->inflight_lock);
  inflight_t *f = arq_strmap_remove(&a->inflight, id, strlen(id));
  pthread_mutex_unlock(&a->inflight_lock);
  return f;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
  (void)js;
  arq_api_t *a = closure;
  inflight_t *f = take_inflight(a, msg);
  if (f) {
    if (pa && !pae) {
      audit(a, f->j, natsMsg_GetSubject(msg), f->trace);
      settle(f->j, f->room, 0, NULL);
    } else {
      int status;
      const char *why = publish_failure(pae ? pae->Err : NATS_ERR, &status);
      settle(f->j, f->room, status, why);
    }
    free(f);
  }
  natsMsg_Destroy(msg);
}

/* Publishes one room's message; one that fails at once is settled here. */
static void publish_room(arq_api_t *a, api_job_t *j, size_t room) {
  inflight_t *f = calloc(1, sizeof *f);
  if (!f)
    arq_oom("api publish");
  f->j = j;
  f->room = room;
  char subject[ARQ_SUBJECT_CAP], id[ARQ_ID_MAX_LEN + 48];
  arq_buf_t packed;
  arq_buf_init(&packed);
  pack_event(j, j->rooms[room], f->trace, &packed);
  arq_subject_ingress(subject, sizeof subject, j->tenant, j->rooms[room]);
  natsMsg *m = stamped(a, subject, NULL, j->tenant, f->trace, packed.data, packed.len);
  arq_buf_free(&packed);
  int idlen = snprintf(id, sizeof id, "%s.api.%llu", a->s->instance, (unsigned long long)++a->next_msg_id);
  natsStatus st = m ? natsMsgHeader_Set(m, ARQ_HEADER_ROOM, j->rooms[room]) : NATS_NO_MEMORY;
  if (st == NATS_OK)
    st = natsMsgHeader_Set(m, ARQ_HEADER_MSG_ID, id);
  if (st == NATS_OK) {
    pthread_mutex_lock(&a->inflight_lock);
    arq_strmap_put(&a->inflight, id, (size_t)idlen, f);
    pthread_mutex_unlock(&a->inflight_lock);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = a->s->cfg->api.publish_timeout_ms;
    st = js_PublishMsgAsync(a->js, &m, &po);
    if (st != NATS_OK) { /* not sent: the handler will not be called for it */
      pthread_mutex_lock(&a->inflight_lock);
      bool mine = arq_strmap_remove(&a->inflight, id, (size_t)idlen) != NULL;
      pthread_mutex_unlock(&a->inflight_lock);
      if (!mine)
        f = NULL; /* settled by the handler after all */
    } else {
      f = NULL;
    }
  }
  natsMsg_Destroy(m); /* NULL when the library took it */
  if (f) {
    int status;
    const char *why = publish_failure(st, &status);
    settle(j, room, status, why);
    free(f);
  }
}

/* Answered by the last acknowledgement: j may be gone when this returns. */
static void run_publish(arq_api_t *a, api_job_t *j) {
  if (!(j->results = calloc(j->nrooms, sizeof *j->results)))
    arq_oom("api results");
  size_t n = j->nrooms;
  atomic_init(&j->unsettled, n);
  for (size_t i = 0; i < n; i++)
    publish_room(a, j, i);
}

static void run_send_user(arq_api_t *a, api_job_t *j) {
  char trace[ARQ_TRACE_ID_LEN + 1], subject[ARQ_SUBJECT_CAP];
  arq_buf_t packed;
  arq_buf_init(&packed);
  pack_event(j, NULL, trace, &packed);
  arq_subject_user(subject, sizeof subject, j->tenant, j->user);
  natsMsg *m = stamped(a, subject, NULL, j->tenant, trace, packed.data, packed.len);
  arq_buf_free(&packed);
  natsStatus st = m ? natsConnection_PublishMsg(a->nc, m) : NATS_NO_MEMORY;
  natsMsg_Destroy(m);
  if (st == NATS_OK) /* handed over only when the server has it */
    st = natsConnection_FlushTimeout(a->nc, a->s->cfg->api.publish_timeout_ms);
  if (st == NATS_MAX_PAYLOAD) {
    answer_error(j, 413, "larger than the NATS server's max_payload");
  } else if (st != NATS_OK) {
    answer_error(j, 503, "NATS did not take the message");
  } else {
    audit(a, j, subject, trace);
    answer_ok(j);
  }
}

/* A fresh inbox (64 bytes) and a synchronous subscription on it, for answers that come from
 * several nodes. */
static natsStatus subscribe_inbox(arq_api_t *a, char inbox[64], natsSubscription **sub) {
  natsInbox *ib = NULL;
  natsStatus st = natsInbox_Create(&ib);
  if (st != NATS_OK)
    return st;
  snprintf(inbox, 64, "%s", (const char *)ib);
  natsInbox_Destroy(ib);
  return natsConnection_SubscribeSync(sub, a->nc, inbox);
}

static void run_disconnect(arq_api_t *a, api_job_t *j) {
  char subject[ARQ_SUBJECT_CAP], inbox[64];
  arq_subject_disconnect(subject, sizeof subject, j->tenant, j->user);
  natsSubscription *sub = NULL;
  natsStatus st = subscribe_inbox(a, inbox, &sub);
  if (st == NATS_OK)
    st = natsConnection_PublishRequest(a->nc, subject, inbox, j->reason, (int)strlen(j->reason));
  if (st == NATS_OK)
    st = natsConnection_Flush(a->nc);
  if (st != NATS_OK) {
    arq_sub_retire(sub); /* the request may have gone out: an answer may still come */
    answer_error(j, 503, "NATS did not take the request");
    return;
  }
  /* Every Shield answers with what it closed; how many Shields there are is not known
   * here, so the answers are collected for [api] collect_ms. */
  uint64_t closed = 0, shields = 0;
  int64_t deadline = now_ms() + a->s->cfg->api.collect_ms;
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  for (int64_t left; (left = deadline - now_ms()) > 0;) {
    natsMsg *m = NULL;
    if (natsSubscription_NextMsg(&m, sub, left) != NATS_OK)
      break;
    const arq_json_value_t *v = arq_json_parse(&doc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), NULL);
    uint64_t n = 0;
    if (v && !arq_json_uint64(arq_json_object_get(v, "closed", 6), &n)) {
      closed += n;
      shields++;
    }
    natsMsg_Destroy(m);
  }
  arq_json_doc_free(&doc);
  arq_sub_retire(sub); /* a late answer may still be read: spine/retired.h */
  char trace[ARQ_TRACE_ID_LEN + 1];
  arq_trace_id_new(trace);
  audit(a, j, subject, trace);
  arq_buf_t body;
  arq_buf_init(&body);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &body);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "ok", 2);
  arq_json_w_bool(&w, true);
  arq_json_w_key(&w, "closed", 6);
  arq_json_w_uint64(&w, closed);
  arq_json_w_key(&w, "shields", 7);
  arq_json_w_uint64(&w, shields);
  arq_json_w_object_end(&w);
  answer_json(j, 200, &body);
  arq_buf_free(&body);
}

/* The packed request envelope of a Brain command for the job (`room` may be NULL). */
static void pack_command(const char *tenant, const char *command, const char *room,
                         const arq_buf_t *data, char trace[ARQ_TRACE_ID_LEN + 1], arq_buf_t *out) {
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Command cmd = ARQON__V1__COMMAND__INIT;
  cmd.type = (char *)command;
  cmd.data.data = (uint8_t *)data->data;
  cmd.data.len = data->len;
  stamp(&e, tenant, room, trace);
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_CMD;
  e.cmd = &cmd;
  arq_envelope_pack(&e, out);
}

/* A presence, history or rooms request to the Brain; its answer's data is the reply body. */
static void run_brain_request(arq_api_t *a, api_job_t *j) {
  const char *command = j->ep == EP_PRESENCE ? "presence" : j->ep == EP_HISTORY ? "history" : "rooms";
  arq_buf_t data;
  arq_buf_init(&data);
  if (j->ep == EP_HISTORY) {
    arq_json_writer_t w;
    arq_json_writer_init(&w, &data);
    arq_json_w_object_begin(&w);
    if (j->has_since) {
      arq_json_w_key(&w, "since_seq", 9);
      arq_json_w_uint64(&w, j->since_seq);
    }
    if (j->limit) {
      arq_json_w_key(&w, "limit", 5);
      arq_json_w_uint64(&w, j->limit);
    }
    arq_json_w_object_end(&w);
  }
  char trace[ARQ_TRACE_ID_LEN + 1], subject[ARQ_SUBJECT_CAP];
  arq_buf_t packed;
  arq_buf_init(&packed);
  pack_command(j->tenant, command, j->nrooms ? j->rooms[0] : NULL, &data, trace, &packed);
  arq_buf_free(&data);
  arq_subject_brain(subject, sizeof subject, j->tenant, command);
  natsMsg *m = stamped(a, subject, NULL, j->tenant, trace, packed.data, packed.len);
  arq_buf_free(&packed);
  natsMsg *reply = NULL;
  natsStatus st = m ? natsConnection_RequestMsg(&reply, a->nc, m, a->s->cfg->shield.request_timeout_ms)
                    : NATS_NO_MEMORY;
  natsMsg_Destroy(m);
  if (st == NATS_NO_RESPONDERS || st == NATS_TIMEOUT) {
    answer_error(j, 503, st == NATS_TIMEOUT ? "no Brain answered in time" : "no Brain is running");
    return;
  }
  if (st != NATS_OK) {
    answer_error(j, 503, "NATS did not take the request");
    return;
  }
  Arqon__V1__Envelope *r = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                                       (const uint8_t *)natsMsg_GetData(reply));
  natsMsg_Destroy(reply);
  if (!r || r->payload_case != ARQON__V1__ENVELOPE__PAYLOAD_EVENT || !r->event->type) {
    answer_error(j, 502, "the Brain's answer is not an event");
  } else if (!strcmp(r->event->type, "error")) {
    /* {"code":N,"reason":"..."}: the Brain's own refusal, passed on with its status. */
    arq_json_doc_t doc;
    arq_json_doc_init(&doc, NULL);
    const arq_json_value_t *v = arq_json_parse(&doc, (const char *)r->event->data.data, r->event->data.len, NULL);
    int64_t code = 0;
    size_t len = 0;
    const char *reason = v ? arq_json_string(arq_json_object_get(v, "reason", 6), &len) : NULL;
    if (!v || arq_json_int64(arq_json_object_get(v, "code", 4), &code) || code < 400 || code > 599)
      code = 502;
    answer_error(j, (int)code, reason ? reason : "the Brain refused the request");
    arq_json_doc_free(&doc);
  } else if (j->ep == EP_PRESENCE) { /* the Brain's member array, named */
    arq_buf_t body;
    arq_buf_init(&body);
    arq_json_writer_t w;
    arq_json_writer_init(&w, &body);
    arq_json_w_object_begin(&w);
    arq_json_w_key(&w, "members", 7);
    arq_json_w_raw(&w, (const char *)r->event->data.data, r->event->data.len);
    arq_json_w_object_end(&w);
    answer_json(j, 200, &body);
    arq_buf_free(&body);
  } else {
    arq_buf_t body = {.data = (char *)r->event->data.data, .len = r->event->data.len};
    answer_json(j, 200, &body);
  }
  if (r)
    arqon__v1__envelope__free_unpacked(r, NULL);
}

/* Info: every Brain answers for itself and the Shields it hears; collected for collect_ms.
 * The tenant of the request is "_" (info is about the nodes, not a tenant). */
static void run_info(arq_api_t *a, api_job_t *j) {
  static const char info_tenant[] = "_";
  arq_buf_t empty = {0}, packed;
  arq_buf_init(&packed);
  char trace[ARQ_TRACE_ID_LEN + 1], subject[ARQ_SUBJECT_CAP], inbox[64];
  pack_command(info_tenant, "info", NULL, &empty, trace, &packed);
  arq_subject_brain(subject, sizeof subject, info_tenant, "info");
  natsSubscription *sub = NULL;
  natsMsg *m = NULL;
  natsStatus st = subscribe_inbox(a, inbox, &sub);
  if (st == NATS_OK)
    st = (m = stamped(a, subject, inbox, info_tenant, trace, packed.data, packed.len)) ? NATS_OK : NATS_NO_MEMORY;
  arq_buf_free(&packed);
  if (st == NATS_OK)
    st = natsConnection_PublishMsg(a->nc, m);
  natsMsg_Destroy(m);
  if (st != NATS_OK) {
    arq_sub_retire(sub); /* the request may have gone out: an answer may still come */
    answer_error(j, 503, "NATS did not take the request");
    return;
  }
  arq_buf_t brains, shields;
  arq_buf_init(&brains);
  arq_buf_init(&shields);
  arq_json_writer_t wb, ws;
  arq_json_writer_init(&wb, &brains);
  arq_json_writer_init(&ws, &shields);
  arq_json_w_array_begin(&wb);
  arq_json_w_array_begin(&ws);
  arq_strmap_t seen; /* node -> 1: each Shield once (every Brain hears every Shield) */
  arq_strmap_init(&seen);
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  int64_t deadline = now_ms() + a->s->cfg->api.collect_ms;
  for (int64_t left; (left = deadline - now_ms()) > 0;) {
    natsMsg *r = NULL;
    if (natsSubscription_NextMsg(&r, sub, left) != NATS_OK)
      break;
    Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(r),
                                                         (const uint8_t *)natsMsg_GetData(r));
    natsMsg_Destroy(r);
    const arq_json_value_t *v = NULL;
    if (e && e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_EVENT && e->event->type &&
        !strcmp(e->event->type, "info"))
      v = arq_json_parse(&doc, (const char *)e->event->data.data, e->event->data.len, NULL);
    const arq_json_value_t *list = v ? arq_json_object_get(v, "shields", 7) : NULL;
    if (v) {
      arq_json_w_object_begin(&wb);
      const char *const keys[] = {"brain", "partitions", "partitions_total"};
      for (size_t k = 0; k < 3; k++) {
        const arq_json_value_t *x = arq_json_object_get(v, keys[k], strlen(keys[k]));
        if (!x)
          continue;
        arq_buf_t one;
        arq_buf_init(&one);
        arq_json_write_value(&one, x);
        arq_json_w_key(&wb, keys[k], strlen(keys[k]));
        arq_json_w_raw(&wb, one.data, one.len);
        arq_buf_free(&one);
      }
      arq_json_w_object_end(&wb);
    }
    for (size_t i = 0; list && i < arq_json_len(list); i++) {
      const arq_json_value_t *sh = arq_json_array_get(list, i);
      size_t nlen = 0;
      const char *node = arq_json_string(arq_json_object_get(sh, "node", 4), &nlen);
      if (!node || arq_strmap_get(&seen, node, nlen))
        continue;
      arq_strmap_put(&seen, node, nlen, (void *)1);
      arq_buf_t one;
      arq_buf_init(&one);
      arq_json_write_value(&one, sh);
      arq_json_w_raw(&ws, one.data, one.len);
      arq_buf_free(&one);
    }
    if (e)
      arqon__v1__envelope__free_unpacked(e, NULL);
  }
  arq_json_doc_free(&doc);
  arq_strmap_free(&seen);
  arq_sub_retire(sub); /* a late answer may still be read: spine/retired.h */
  arq_json_w_array_end(&wb);
  arq_json_w_array_end(&ws);
  arq_buf_t body;
  arq_buf_init(&body);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &body);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "node", 4);
  arq_json_w_string(&w, a->s->node_id, strlen(a->s->node_id));
  arq_json_w_key(&w, "brains", 6);
  arq_json_w_raw(&w, brains.data, brains.len);
  arq_json_w_key(&w, "shields", 7);
  arq_json_w_raw(&w, shields.data, shields.len);
  arq_json_w_object_end(&w);
  answer_json(j, 200, &body);
  arq_buf_free(&body);
  arq_buf_free(&brains);
  arq_buf_free(&shields);
}

static bool run(arq_http_job_t *base, void *ctx) {
  arq_api_t *a = ctx;
  api_job_t *j = (api_job_t *)base;
  if (connect_nats(a, j))
    return false;
  switch (j->ep) {
  case EP_PUBLISH:
  case EP_BROADCAST: run_publish(a, j); return true;
  case EP_SEND_USER: run_send_user(a, j); break;
  case EP_DISCONNECT: run_disconnect(a, j); break;
  case EP_PRESENCE:
  case EP_HISTORY:
  case EP_ROOMS: run_brain_request(a, j); break;
  case EP_INFO: run_info(a, j); break;
  default: break;
  }
  return false;
}

static void release(arq_http_job_t *base) {
  api_job_t *j = (api_job_t *)base;
  for (size_t i = 0; i < j->nheaders; i++) {
    free(j->headers[i].key);
    free(j->headers[i].value);
  }
  free(j->headers);
  free(j->rooms);
  free(j->results);
  free(j->data);
  free(j);
}

/* At the thread's end: the publishes in flight get their acknowledgement (bounded by
 * publish_timeout_ms) or a 503, so that every request accepted is answered. */
static void close_nats(void *ctx) {
  arq_api_t *a = ctx;
  if (a->js) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = a->s->cfg->api.publish_timeout_ms;
    pthread_mutex_lock(&a->inflight_lock);
    bool inflight = a->inflight.len > 0;
    pthread_mutex_unlock(&a->inflight_lock);
    /* (nats.c 3.4 crashes listing the pending publishes of a context that has made none) */
    if (inflight)
      js_PublishAsyncComplete(a->js, &po);
    natsMsgList pending = {0};
    if (inflight && js_PublishAsyncGetPendingList(&pending, a->js) == NATS_OK) {
      for (int i = 0; i < pending.Count; i++) {
        inflight_t *f = take_inflight(a, pending.Msgs[i]);
        if (f)
          settle(f->j, f->room, 503, "the Shield stopped before the acknowledgement");
        free(f);
      }
      natsMsgList_Destroy(&pending);
    }
    jsCtx_Destroy(a->js);
    a->js = NULL;
  }
  if (a->nc) {
    natsConnection_Close(a->nc);
    natsConnection_Destroy(a->nc);
    a->nc = NULL;
  }
}

/* ---- on the worker: the request, checked whole ---- */

typedef struct {
  const arq_json_value_t *obj;
  const char *why;
  char reason[160];
} body_t;

/* Refuses the body: "<field>: <problem>", or the problem alone without a field. */
static bool bad(body_t *b, const char *field, const char *problem) {
  if (field)
    snprintf(b->reason, sizeof b->reason, "%s: %s", field, problem);
  else
    snprintf(b->reason, sizeof b->reason, "%s", problem);
  b->why = b->reason;
  return false;
}

/* A string member that must be an id (required unless `optional`). */
static bool read_id(body_t *b, const char *name, char *out, bool optional) {
  const arq_json_value_t *v = arq_json_object_get(b->obj, name, strlen(name));
  if (!v) {
    out[0] = '\0';
    return optional || bad(b, name, "is required");
  }
  size_t len = 0;
  const char *s = arq_json_string(v, &len);
  if (!s || !arq_id_valid(s, len))
    return bad(b, name, "must be an id: 1 to 64 of A-Z a-z 0-9 _ -");
  memcpy(out, s, len + 1);
  return true;
}

static bool read_event(body_t *b, api_job_t *j) {
  const arq_json_value_t *v = arq_json_object_get(b->obj, "type", 4);
  size_t len = 0;
  const char *type = v ? arq_json_string(v, &len) : NULL;
  if (!type || !len || len > API_TYPE_MAX || memchr(type, '\0', len))
    return bad(b, "type", "must be a string of 1 to 128 bytes");
  if (arq_event_type_reserved(type))
    return bad(b, "type", "this event type is reserved for the server");
  memcpy(j->type, type, len + 1);
  v = arq_json_object_get(b->obj, "data", 4);
  const char *data = v ? arq_json_string(v, &len) : NULL;
  if (v && !data)
    return bad(b, "data", "must be a base64 string");
  if (data) {
    j->data = malloc(ARQ_BASE64_DECODED_CAP(len));
    if (!j->data)
      arq_oom("api data");
    long n = arq_base64_decode(data, len, j->data);
    if (n < 0)
      return bad(b, "data", "is not valid base64");
    j->data_len = (size_t)n;
  }
  v = arq_json_object_get(b->obj, "headers", 7);
  if (!v)
    return true;
  if (arq_json_type(v) != ARQ_JSON_OBJECT)
    return bad(b, "headers", "must be an object of strings");
  size_t n = arq_json_len(v);
  if (n > API_MAX_HEADERS)
    return bad(b, "headers", "at most 64 entries");
  j->headers = calloc(n ? n : 1, sizeof *j->headers);
  if (!j->headers)
    arq_oom("api headers");
  for (size_t i = 0; i < n; i++) {
    size_t klen = 0, vlen = 0;
    const char *key = arq_json_string(arq_json_object_key(v, i), &klen);
    const char *value = arq_json_string(arq_json_object_value(v, i), &vlen);
    if (!value || !klen || memchr(key, '\0', klen) || memchr(value, '\0', vlen))
      return bad(b, "headers", "must be an object of non-empty names and string values");
    if (arq_header_reserved(key, klen))
      return bad(b, "headers", "x-arqon-*, traceparent and nats-* are the server's");
    Arqon__V1__Envelope__HeadersEntry init = ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT;
    j->headers[i] = init;
    j->headers[i].key = strndup(key, klen);
    j->headers[i].value = strndup(value, vlen);
    j->nheaders++;
    if (!j->headers[i].key || !j->headers[i].value)
      arq_oom("api headers");
  }
  return true;
}

static bool one_room(body_t *b, api_job_t *j) {
  if (!(j->rooms = calloc(1, sizeof *j->rooms)))
    arq_oom("api rooms");
  j->nrooms = 1;
  return read_id(b, "room", j->rooms[0], false);
}

static bool read_rooms(body_t *b, api_job_t *j) {
  const arq_json_value_t *v = arq_json_object_get(b->obj, "rooms", 5);
  size_t n = v && arq_json_type(v) == ARQ_JSON_ARRAY ? arq_json_len(v) : 0;
  if (!n || n > API_MAX_ROOMS)
    return bad(b, "rooms", "must be an array of 1 to 1000 room ids");
  if (!(j->rooms = calloc(n, sizeof *j->rooms)))
    arq_oom("api rooms");
  for (size_t i = 0; i < n; i++) {
    size_t len = 0;
    const char *s = arq_json_string(arq_json_array_get(v, i), &len);
    if (!s || !arq_id_valid(s, len))
      return bad(b, "rooms", "must be an array of room ids: 1 to 64 of A-Z a-z 0-9 _ -");
    memcpy(j->rooms[i], s, len + 1);
  }
  j->nrooms = n;
  return true;
}

static bool read_history(body_t *b, api_job_t *j) {
  const arq_json_value_t *v = arq_json_object_get(b->obj, "since_seq", 9);
  if (v && arq_json_uint64(v, &j->since_seq))
    return bad(b, "since_seq", "must be an integer >= 0");
  j->has_since = v != NULL;
  v = arq_json_object_get(b->obj, "limit", 5);
  if (v && (arq_json_uint64(v, &j->limit) || j->limit < 1 || j->limit > ARQ_HISTORY_PAGE_MAX))
    return bad(b, "limit", "must be an integer from 1 to 1000");
  return true;
}

static bool read_reason(body_t *b, api_job_t *j) {
  const arq_json_value_t *v = arq_json_object_get(b->obj, "reason", 6);
  if (!v)
    return true;
  size_t len = 0;
  const char *s = arq_json_string(v, &len);
  if (!s || len > API_REASON_MAX || memchr(s, '\0', len))
    return bad(b, "reason", "must be a string of at most 123 bytes");
  memcpy(j->reason, s, len + 1);
  return true;
}

/* Every member the endpoint knows; anything else is refused (a typo must not be ignored). */
static bool only_known(body_t *b, endpoint_t ep) {
  static const char *const known[EP_COUNT] = {
      [EP_PUBLISH] = " tenant room type data headers ", [EP_BROADCAST] = " tenant rooms type data headers ",
      [EP_SEND_USER] = " tenant user type data headers ", [EP_DISCONNECT] = " tenant user reason ",
      [EP_PRESENCE] = " tenant room ",                    [EP_HISTORY] = " tenant room since_seq limit ",
      [EP_ROOMS] = " tenant ",                            [EP_INFO] = " "};
  for (size_t i = 0; i < arq_json_len(b->obj); i++) {
    size_t len = 0;
    const char *key = arq_json_string(arq_json_object_key(b->obj, i), &len);
    char word[80];
    if (len > 64 || memchr(key, ' ', len) || (snprintf(word, sizeof word, " %s ", key), !strstr(known[ep], word)))
      return bad(b, len > 64 ? "(long)" : key, "unknown field");
  }
  return true;
}

static bool read_body(body_t *b, api_job_t *j) {
  if (!only_known(b, j->ep))
    return false;
  if (j->ep == EP_INFO)
    return true;
  if (!read_id(b, "tenant", j->tenant, false))
    return false;
  switch (j->ep) {
  case EP_PUBLISH: return one_room(b, j) && read_event(b, j);
  case EP_BROADCAST: return read_rooms(b, j) && read_event(b, j);
  case EP_SEND_USER: return read_id(b, "user", j->user, false) && read_event(b, j);
  case EP_DISCONNECT: return read_id(b, "user", j->user, false) && read_reason(b, j);
  case EP_PRESENCE: return one_room(b, j);
  case EP_HISTORY: return one_room(b, j) && read_history(b, j);
  default: return true;
  }
}

static void refuse(arq_conn_t *c, const char *endpoint, int status, const char *details) {
  if (status == 405)
    arq_http_reply(c, 405, "application/json",
                   "{\"error\":\"Method Not Allowed\",\"details\":\"use POST\"}", 51, false, "Allow: POST\r\n");
  else
    arq_http_reply_error(c, status, arq_http_status_reason(status), details);
  count(c->w->shield->api, endpoint, status);
}

void arq_api_handle(arq_conn_t *c, const arq_http_request_t *r, const uint8_t *body, size_t len) {
  arq_api_t *a = c->w->shield->api;
  const char *name = r->path + 5; /* after "/api/" */
  size_t name_len = r->path_len - 5;
  endpoint_t ep = EP_COUNT;
  for (int i = 0; i < EP_COUNT; i++)
    if (strlen(endpoint_names[i]) == name_len && !memcmp(endpoint_names[i], name, name_len))
      ep = (endpoint_t)i;
  const char *label = ep == EP_COUNT ? "unknown" : endpoint_names[ep];
  char key_tenant[ARQ_ID_MAX_LEN + 1];
  const char *why = NULL;
  int status = authenticate(a, r, key_tenant, &why);
  if (status) {
    arq_counter_inc(c->w->shield->m.auth_failures);
    refuse(c, label, status, why);
    return;
  }
  if (ep == EP_COUNT) {
    refuse(c, label, 404, "no such endpoint");
    return;
  }
  if (r->method_len != 4 || memcmp(r->method, "POST", 4)) {
    refuse(c, label, 405, NULL);
    return;
  }
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  arq_json_error_t jerr;
  body_t b = {.obj = arq_json_parse(&doc, (const char *)body, len, &jerr)};
  api_job_t *j = calloc(1, sizeof *j);
  if (!j)
    arq_oom("api job");
  j->ep = ep;
  j->api = a;
  bool ok;
  if (!b.obj) {
    char detail[128];
    arq_json_error_format(&jerr, detail, sizeof detail);
    snprintf(b.reason, sizeof b.reason, "the body is not JSON (%s)", detail);
    b.why = b.reason;
    ok = false;
  } else if (arq_json_type(b.obj) != ARQ_JSON_OBJECT) {
    ok = bad(&b, NULL, "the body must be a JSON object");
  } else {
    ok = read_body(&b, j);
  }
  arq_json_doc_free(&doc);
  if (!ok) {
    release(&j->base);
    refuse(c, label, 400, b.why);
    return;
  }
  if (strcmp(key_tenant, "*") && strcmp(key_tenant, j->tenant)) {
    release(&j->base);
    refuse(c, label, 403, ep == EP_INFO ? "info is about every tenant's nodes: it needs a key of every tenant (*)"
                                        : "this key is for another tenant");
    return;
  }
  j->base.run = run;
  j->base.release = release;
  j->base.keep_alive = r->keep_alive;
  if (!arq_http_jobs_submit(a->jobs, c, &j->base)) {
    release(&j->base);
    refuse(c, label, 503, "too many API requests in progress ([api] max_queued)");
  }
}

/* ---- start and stop ---- */

arq_api_t *arq_api_start(arq_shield_t *s, char *err, size_t errcap) {
  arq_api_t *a = calloc(1, sizeof *a);
  if (!a)
    arq_oom("api");
  a->s = s;
  pthread_rwlock_init(&a->keys_lock, NULL);
  pthread_mutex_init(&a->inflight_lock, NULL);
  arq_strmap_init(&a->inflight);
  if (s->cfg->api.keys_file && !(a->keys = arq_api_keys_load(s->cfg->api.keys_file, err, errcap))) {
    pthread_rwlock_destroy(&a->keys_lock);
    free(a);
    return NULL;
  }
  if (!(a->jobs = arq_http_jobs_start("api", (size_t)s->cfg->api.max_queued, a, close_nats))) {
    snprintf(err, errcap, "cannot start the server API's thread");
    arq_api_keys_free(a->keys);
    pthread_rwlock_destroy(&a->keys_lock);
    free(a);
    return NULL;
  }
  return a;
}

void arq_api_stop(arq_api_t *a) {
  if (!a)
    return;
  arq_http_jobs_stop(a->jobs);
  arq_strmap_free(&a->inflight); /* empty: close_nats settled every publish */
  pthread_mutex_destroy(&a->inflight_lock);
  arq_api_keys_free(a->keys);
  pthread_rwlock_destroy(&a->keys_lock);
  free(a);
}
