/*
 * nats_io.c — the Brain's NATS connection: streams and bucket it relies on, the core
 * subscriptions (whose callbacks only queue the message), and publishing with the SPEC
 * headers: carried over from the message being answered, or the Brain's own values when
 * there is none (a presence expiry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/rules.h"
#include "common/buf.h"
#include "common/deadline.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/headers.h"
#include "protocol/payloads.h"
#include "protocol/subjects.h"
#include "spine/kv.h"
#include "spine/retired.h"

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
  arq_brain_t *b = closure;
  const char *last = NULL;
  natsConnection_GetLastError(nc, &last);
  arq_counter_inc(b->m.nats_errors);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "NATS error", {"error", last ? last : natsStatus_GetText(err)});
}

static void on_disconnected(natsConnection *nc, void *closure) {
  ARQ_LOG(ARQ_LOG_WARN, "brain", "NATS disconnected; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure) {
  arq_brain_t *b = closure;
  /* Core subscriptions come back by themselves; the pull consumers restart from their
   * checkpoints at once (a delivery may have been lost with the connection). */
  atomic_fetch_add(&b->reconnects, 1);
  ARQ_LOG(ARQ_LOG_INFO, "brain", "NATS reconnected: ingress consumers restart");
}

static bool queue_msg(arq_brain_t *b, arq_job_kind_t kind, natsMsg *msg, size_t max) {
  arq_job_t *j = calloc(1, sizeof *j);
  if (!j)
    arq_oom("job");
  j->kind = kind;
  j->msg = msg;
  j->queued_ms = arq_monotonic_ms();
  if (arq_queue_push(&b->queue, j, max))
    return true;
  arq_counter_inc(b->m.queue_overflows);
  j->msg = NULL; /* the caller still owns it */
  arq_job_free(j);
  return false;
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  arq_brain_t *b = closure;
  if (queue_msg(b, JOB_REQUEST, msg, (size_t)b->cfg->brain.max_pending_requests))
    return;
  /* Too many requests wait already: refuse this one now rather than let the Shield time
   * out (nats.c allows publishing from its callbacks). */
  arq_counter_inc(b->m.requests_refused);
  char tenant[ARQ_ID_MAX_LEN + 1], command[ARQ_ID_MAX_LEN + 1];
  if (!arq_subject_parse_brain(natsMsg_GetSubject(msg), tenant, command))
    tenant[0] = '\0';
  arq_brain_reply_error(b, msg, tenant, "", NULL, 503, "the Brain is overloaded; try again");
  natsMsg_Destroy(msg);
}

/* Heartbeats and probe answers are few and small; they are refused only at the queue's
 * hard bound, which requests can never fill. */
static void queue_control(arq_brain_t *b, arq_job_kind_t kind, natsMsg *msg) {
  if (!queue_msg(b, kind, msg, ARQ_BRAIN_QUEUE_MAX)) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "work queue full: message dropped",
            {"subject", natsMsg_GetSubject(msg)});
    natsMsg_Destroy(msg);
  }
}

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  queue_control(closure, JOB_HEARTBEAT, msg);
}

static void on_probe(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  if (natsMsg_IsNoResponders(msg))
    queue_control(closure, JOB_PROBE, msg);
  else
    natsMsg_Destroy(msg);
}

/* Creates the stream, or brings an existing one to this configuration. */
/* What setting up the streams and the lease bucket may end in: done, not possible yet (a
 * cluster still electing its JetStream leader answers nothing for a few seconds), or wrong
 * for good (a configuration to change). */
enum { SETUP_DONE = 0, SETUP_NOT_YET = -1, SETUP_WRONG = -2 };
#define SETUP_WAIT_MS 30000

static int ensure_stream(arq_brain_t *b, jsStreamConfig *sc) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_GetStreamInfo(&si, b->js, sc->Name, NULL, &jerr);
  if (st == NATS_OK) {
    int64_t have = si->Config ? si->Config->Replicas : 0;
    jsStreamInfo_Destroy(si);
    if (have && have != sc->Replicas) {
      char h[24], want[24];
      snprintf(h, sizeof h, "%lld", (long long)have);
      snprintf(want, sizeof want, "%lld", (long long)sc->Replicas);
      ARQ_LOG(ARQ_LOG_ERROR, "brain",
              "stream exists with another number of replicas than [nats] stream_replicas: change one "
              "(nats stream edit <stream> --replicas N)",
              {"stream", sc->Name}, {"replicas", h}, {"stream_replicas", want});
      return SETUP_WRONG;
    }
    si = NULL;
    st = js_UpdateStream(&si, b->js, sc, NULL, &jerr);
    if (st != NATS_OK) /* e.g. another Brain with other retention settings: keep theirs */
      ARQ_LOG(ARQ_LOG_WARN, "brain", "stream exists with another configuration; kept",
              {"stream", sc->Name}, {"error", natsStatus_GetText(st)});
    jsStreamInfo_Destroy(si);
    return 0;
  }
  st = js_AddStream(&si, b->js, sc, NULL, &jerr);
  jsStreamInfo_Destroy(si);
  if (st != NATS_OK) {
    const char *last = nats_GetLastError(NULL);
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "cannot create stream", {"stream", sc->Name},
            {"error", last ? last : natsStatus_GetText(st)});
    return -1;
  }
  ARQ_LOG(ARQ_LOG_INFO, "brain", "stream created", {"stream", sc->Name});
  return 0;
}

static int ensure_streams(arq_brain_t *b) {
  for (int id = 0; id < ARQ_STREAM_IDS; id++) {
    jsStreamConfig sc;
    arq_stream_config(b->cfg, (arq_stream_id_t)id, &sc);
    int rc = ensure_stream(b, &sc);
    if (rc)
      return rc;
  }
  return 0;
}

/* An existing lease bucket must have the configured replicas (as the streams). */
static int bucket_replicas_agree(arq_brain_t *b) {
  kvStatus *sts = NULL;
  if (kvStore_Status(&sts, b->kv) != NATS_OK)
    return 0; /* not known: the lease calls report what goes wrong */
  int64_t have = kvStatus_Replicas(sts);
  kvStatus_Destroy(sts);
  if (have == b->cfg->nats.stream_replicas)
    return 0;
  char h[24], want[24];
  snprintf(h, sizeof h, "%lld", (long long)have);
  snprintf(want, sizeof want, "%lld", (long long)b->cfg->nats.stream_replicas);
  ARQ_LOG(ARQ_LOG_ERROR, "brain", "the lease bucket has another number of replicas than [nats] stream_replicas",
          {"bucket", ARQ_BRAIN_BUCKET}, {"replicas", h}, {"stream_replicas", want});
  return SETUP_WRONG;
}

static int ensure_bucket(arq_brain_t *b) {
  if (js_KeyValue(&b->kv, b->js, ARQ_BRAIN_BUCKET) == NATS_OK)
    return bucket_replicas_agree(b);
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = ARQ_BRAIN_BUCKET;
  kc.History = 1;
  kc.TTL = b->cfg->brain.lease_ttl_s * 1000000000LL; /* nanoseconds */
  kc.StorageType = js_FileStorage;
  kc.Replicas = (int)b->cfg->nats.stream_replicas;
  natsStatus st = js_CreateKeyValue(&b->kv, b->js, &kc);
  if (st != NATS_OK) /* another Brain may have created it meanwhile */
    st = js_KeyValue(&b->kv, b->js, ARQ_BRAIN_BUCKET);
  if (st != NATS_OK) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "cannot open the lease bucket", {"bucket", ARQ_BRAIN_BUCKET},
            {"error", natsStatus_GetText(st)});
    return -1;
  }
  return bucket_replicas_agree(b);
}

int arq_brain_nats_open(arq_brain_t *b, char *err, size_t errcap) {
  const arq_config_t *cfg = b->cfg;
  char name[64], oerr[256] = "";
  snprintf(name, sizeof name, "arqon-brain %s", b->id);
  natsOptions *opts = NULL;
  natsStatus st = arq_nats_options(cfg, name, &opts, oerr, sizeof oerr);
  if (st != NATS_OK) {
    snprintf(err, errcap, "nats: %s", oerr);
    return -1;
  }
  st = natsOptions_SetMaxReconnect(opts, -1);
  if (st == NATS_OK) st = natsOptions_SetReconnectWait(opts, 250);
  if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(opts, on_disconnected, b);
  if (st == NATS_OK) st = natsOptions_SetReconnectedCB(opts, on_reconnected, b);
  if (st == NATS_OK) st = natsOptions_SetErrorHandler(opts, on_async_error, b);
  /* The Brain is useless without the spine: wait for it at start (make run starts NATS
   * first, but it may still be opening its port). */
  for (int attempt = 0; st == NATS_OK && !atomic_load(&b->stop); attempt++) {
    st = natsConnection_Connect(&b->nc, opts);
    if (st != NATS_NO_SERVER || attempt >= 40)
      break;
    st = NATS_OK;
    usleep(250 * 1000);
  }
  natsOptions_Destroy(opts);
  if (st != NATS_OK || !b->nc) {
    char where[512];
    snprintf(err, errcap, "nats: cannot connect to %s: %s", arq_nats_where(cfg, where, sizeof where),
             natsStatus_GetText(st == NATS_OK ? NATS_NO_SERVER : st));
    return -1;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 3000;
  st = natsConnection_JetStream(&b->js, b->nc, &jo);
  int setup = st == NATS_OK ? SETUP_NOT_YET : SETUP_WRONG;
  for (int64_t until = arq_monotonic_ms() + SETUP_WAIT_MS; setup == SETUP_NOT_YET && !atomic_load(&b->stop);) {
    if ((setup = ensure_streams(b)) == SETUP_DONE)
      setup = ensure_bucket(b);
    if (setup != SETUP_NOT_YET || arq_monotonic_ms() >= until)
      break;
    ARQ_LOG(ARQ_LOG_INFO, "brain", "JetStream not ready yet (a cluster electing its leader?); retrying");
    kvStore_Destroy(b->kv);
    b->kv = NULL;
    usleep(500 * 1000);
  }
  if (setup != SETUP_DONE) {
    snprintf(err, errcap, setup == SETUP_WRONG ? "nats: the streams or the lease bucket disagree with the configuration (see the log)"
                                               : "nats: JetStream set-up failed (is JetStream enabled for this user?)");
    return -1;
  }
  return 0;
}

int arq_brain_nats_subscribe(arq_brain_t *b, char *err, size_t errcap) {
  char probe[96];
  snprintf(probe, sizeof probe, "_INBOX.%s.probe.*", b->id);
  /* Join/leave notices arrive through ARQON_INGRESS (sequencer.c). Reads may be answered
   * by any Brain: a queue group shares them. */
  natsStatus st = natsConnection_QueueSubscribe(&b->request_sub, b->nc, ARQ_SUBJECTS_PRESENCE_REQUESTS, "arqon-brain",
                                       on_request, b);
  if (st == NATS_OK)
    st = natsConnection_QueueSubscribe(&b->request_sub2, b->nc, ARQ_SUBJECTS_HISTORY_REQUESTS, "arqon-brain",
                                       on_request, b);
  if (st == NATS_OK)
    st = natsConnection_QueueSubscribe(&b->rooms_sub, b->nc, ARQ_SUBJECTS_ROOMS_REQUESTS, "arqon-brain", on_request, b);
  /* Info describes this Brain: every Brain answers (no queue group). */
  if (st == NATS_OK) st = natsConnection_Subscribe(&b->info_sub, b->nc, ARQ_SUBJECTS_INFO_REQUESTS, on_request, b);
  if (st == NATS_OK) st = natsConnection_Subscribe(&b->hb_sub, b->nc, ARQ_SUBJECTS_HEARTBEATS, on_heartbeat, b);
  if (st == NATS_OK) st = natsConnection_Subscribe(&b->probe_sub, b->nc, probe, on_probe, b);
  if (st == NATS_OK) st = natsConnection_Flush(b->nc);
  if (st != NATS_OK) {
    snprintf(err, errcap, "nats: subscribe failed: %s", natsStatus_GetText(st));
    return -1;
  }
  return 0;
}

void arq_brain_nats_close(arq_brain_t *b) {
  natsSubscription **subs[] = {&b->request_sub, &b->request_sub2, &b->rooms_sub, &b->info_sub, &b->hb_sub,
                               &b->probe_sub};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    arq_sub_retire(*subs[i]); /* destroyed after the connection closed (spine/retired.h) */
    *subs[i] = NULL;
  }
  kvStore_Destroy(b->kv);
  b->kv = NULL;
  jsCtx_Destroy(b->js);
  b->js = NULL;
  if (b->nc) {
    natsConnection_FlushTimeout(b->nc, 1000);
    natsConnection_Close(b->nc);
    natsConnection_Destroy(b->nc);
    b->nc = NULL;
  }
}


void arq_brain_trace_id(natsMsg *from, const char *own, char out[ARQ_TRACE_ID_LEN + 1]) {
  const char *h = arq_brain_header(from, ARQ_HEADER_TRACE_ID);
  if (arq_trace_id_valid(h))
    memcpy(out, h, ARQ_TRACE_ID_LEN + 1);
  else if (arq_traceparent_trace_id(arq_brain_header(from, ARQ_HEADER_TRACEPARENT), out))
    return;
  else if (arq_trace_id_valid(own))
    memcpy(out, own, ARQ_TRACE_ID_LEN + 1);
  else
    arq_trace_id_new(out);
}

/* from's header when it has a non-empty one, else `own` when non-empty, else `last`. */
static const char *pick(natsMsg *from, const char *name, const char *own, const char *last) {
  const char *v = arq_brain_header(from, name);
  if (v && *v)
    return v;
  return own && *own ? own : last;
}

natsStatus arq_brain_set_headers(arq_brain_t *b, natsMsg *msg, natsMsg *from,
                                 const arq_brain_headers_t *own) {
  char trace[ARQ_TRACE_ID_LEN + 1], tp_trace[ARQ_TRACE_ID_LEN + 1];
  arq_brain_trace_id(from, own ? own->trace_id : NULL, trace);
  /* The source's traceparent when it names this trace; else one of the Brain's own: version
   * 00, a fresh span id (half of a fresh random id: never all zero), sampled. */
  char traceparent[ARQ_TRACEPARENT_LEN + 1];
  const char *tp = arq_brain_header(from, ARQ_HEADER_TRACEPARENT);
  if (arq_traceparent_trace_id(tp, tp_trace) && !strcmp(tp_trace, trace)) {
    memcpy(traceparent, tp, sizeof traceparent);
  } else {
    char span[ARQ_TRACE_ID_LEN + 1];
    arq_trace_id_new(span);
    span[16] = '\0';
    uint64_t id = strtoull(span, NULL, 16);
    arq_traceparent_format(traceparent, trace, id ? id : 1);
  }
  natsStatus st = natsMsgHeader_Set(msg, ARQ_HEADER_TRACEPARENT, traceparent);
  if (st == NATS_OK)
    st = natsMsgHeader_Set(msg, ARQ_HEADER_TRACE_ID, trace);
  /* The tenant the Brain knows comes from the subject it handled: it wins over a source
   * header, which an audited (refused) message may have forged. */
  if (st == NATS_OK && own && own->tenant && *own->tenant)
    st = natsMsgHeader_Set(msg, ARQ_HEADER_TENANT, own->tenant);
  else if (st == NATS_OK)
    st = natsMsgHeader_Set(msg, ARQ_HEADER_TENANT, pick(from, ARQ_HEADER_TENANT, NULL, b->id));
  const char *const who[][2] = {{ARQ_HEADER_SENDER, own ? own->sender : NULL},
                                 {ARQ_HEADER_CONN, own ? own->conn : NULL}};
  for (size_t i = 0; st == NATS_OK && i < sizeof who / sizeof who[0]; i++)
    st = natsMsgHeader_Set(msg, who[i][0], pick(from, who[i][0], who[i][1], b->id));
  return st;
}

int arq_brain_publish(arq_brain_t *b, const char *subject, const void *data, size_t len,
                      natsMsg *from, const arq_brain_headers_t *own) {
  natsMsg *msg = NULL;
  natsStatus st = natsMsg_Create(&msg, subject, NULL, data, (int)len);
  if (st == NATS_OK)
    st = arq_brain_set_headers(b, msg, from, own);
  if (st == NATS_OK)
    st = natsConnection_PublishMsg(b->nc, msg);
  natsMsg_Destroy(msg);
  if (st != NATS_OK)
    arq_counter_inc(b->m.nats_errors);
  return st == NATS_OK ? 0 : -1;
}

const char *arq_brain_header(natsMsg *msg, const char *name) {
  const char *v = NULL;
  if (!msg || natsMsgHeader_Get(msg, name, &v) != NATS_OK)
    return NULL;
  return v;
}

const char *arq_brain_check_message(const char *tenant, natsMsg *msg,
                                    const struct Arqon__V1__Envelope *e) {
  if (!e)
    return "not an arqon.v1.Envelope";
  return arq_brain_check_stamp(tenant, arq_brain_header(msg, ARQ_HEADER_TENANT),
                               arq_brain_header(msg, ARQ_HEADER_SENDER), e->tenant_id, e->sender);
}

void arq_brain_audit(arq_brain_t *b, const char *tenant, const char *action, const char *reason,
                     const char *subject, natsMsg *msg) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  arq_buf_t out;
  arq_buf_init(&out);
  const char *const fields[][2] = {
      {"brain", b->id}, {"action", action}, {"reason", reason}, {"subject", subject},
      {"header_tenant", arq_brain_header(msg, ARQ_HEADER_TENANT)},
      {"header_sender", arq_brain_header(msg, ARQ_HEADER_SENDER)},
      {"conn", arq_brain_header(msg, ARQ_HEADER_CONN)},
      {"trace_id", arq_brain_header(msg, ARQ_HEADER_TRACE_ID)}};
  arq_payload_audit(&out, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "brain", -1, fields,
                    sizeof fields / sizeof fields[0]);
  char audit_subject[ARQ_SUBJECT_CAP];
  arq_subject_audit(audit_subject, sizeof audit_subject, tenant);
  const arq_brain_headers_t own = {.tenant = tenant};
  arq_brain_publish(b, audit_subject, out.data, out.len, msg, &own);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "message dropped", {"reason", reason}, {"subject", subject},
          {"tenant_id", tenant}, {"trace_id", arq_brain_header(msg, ARQ_HEADER_TRACE_ID)});
  arq_buf_free(&out);
}
