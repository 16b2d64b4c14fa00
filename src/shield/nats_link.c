#include "shield/nats_link.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/strmap.h"
#include "protocol/headers.h"
#include "protocol/subjects.h"
#include "shield/disconnect.h"
#include "shield/shield.h"
#include "spine/kv.h"
#include "spine/retired.h"
#include "spine/spent.h"

#define MAX_WORKERS 64

typedef struct {
  arq_link_t *link;
  natsSubscription *sub;
  char tenant[ARQ_ID_MAX_LEN + 1];
  char room[ARQ_ID_MAX_LEN + 1];
  uint32_t per_worker[MAX_WORKERS];
  _Atomic uint64_t worker_mask;
  atomic_bool confirmed; /* NATS answered a flush sent after the subscription */
} room_sub_t;

struct arq_link {
  arq_shield_t *shield;
  natsConnection *nc;
  natsSubscription *user_sub, *conn_sub, *inbox_sub, *disconnect_sub;
  char inbox[64];
  atomic_bool connected;
  atomic_bool ever_connected;
  pthread_mutex_t lock;
  pthread_cond_t closed_cond; /* nats.c calls back after Close: wait for the last one */
  bool closed;
  arq_strmap_t rooms; /* "tenant\0room" -> room_sub_t */
  _Atomic uint64_t span_counter;
};

static void on_connected(natsConnection *nc, void *closure) {
  arq_link_t *sp = closure;
  bool again = atomic_exchange(&sp->ever_connected, true);
  atomic_store(&sp->connected, true);
  /* After an outage the Brain may have expired this node's presence: tell it again. */
  if (again)
    arq_session_rejoin_all(sp->shield);
  ARQ_LOG(ARQ_LOG_INFO, "spine", "NATS connected", {"node", sp->shield->node_id});
}

static void on_disconnected(natsConnection *nc, void *closure) {
  arq_link_t *sp = closure;
  atomic_store(&sp->connected, false);
  ARQ_LOG(ARQ_LOG_WARN, "spine", "NATS disconnected: publishes answer 503 until it is back",
          {"node", sp->shield->node_id});
}

static void on_closed(natsConnection *nc, void *closure) {
  arq_link_t *sp = closure;
  pthread_mutex_lock(&sp->lock);
  sp->closed = true;
  pthread_cond_signal(&sp->closed_cond);
  pthread_mutex_unlock(&sp->lock);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
  const char *last = NULL;
  natsConnection_GetLastError(nc, &last);
  ARQ_LOG(ARQ_LOG_WARN, "spine", "NATS error", {"error", last ? last : natsStatus_GetText(err)});
}

static void on_room_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  room_sub_t *r = closure;
  uint64_t mask = atomic_load_explicit(&r->worker_mask, memory_order_acquire);
  if (mask)
    arq_egress_deliver(r->link->shield, ARQ_TARGET_ROOM, r->tenant, r->room, natsMsg_GetData(msg),
                       (size_t)natsMsg_GetDataLength(msg), mask);
  arq_spent_msg(msg);
}

static void on_direct_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  arq_link_t *sp = closure;
  char tenant[ARQ_ID_MAX_LEN + 1], node[ARQ_ID_MAX_LEN + 1], name[ARQ_ID_MAX_LEN + 1];
  arq_egress_kind_t kind;
  if (arq_subject_parse_egress(natsMsg_GetSubject(msg), &kind, tenant, node, name) &&
      kind != ARQ_EGRESS_ROOM) {
    const void *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    arq_egress_deliver(sp->shield, kind == ARQ_EGRESS_USER ? ARQ_TARGET_USER : ARQ_TARGET_CONN,
                       tenant, name, data, len, UINT64_MAX);
  }
  natsMsg_Destroy(msg);
}

/* sys.shield.disconnect.<tenant>.<user>: the server API's disconnect, for every Shield. */
static void on_disconnect_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  arq_link_t *sp = closure;
  char tenant[ARQ_ID_MAX_LEN + 1], user[ARQ_ID_MAX_LEN + 1];
  if (arq_subject_parse_disconnect(natsMsg_GetSubject(msg), tenant, user))
    arq_disconnect_user(sp->shield, tenant, user, natsMsg_GetData(msg),
                        (size_t)natsMsg_GetDataLength(msg), natsMsg_GetReply(msg));
  natsMsg_Destroy(msg);
}

static void on_inbox_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  arq_link_t *sp = closure;
  const char *subject = natsMsg_GetSubject(msg);
  size_t prefix = strlen(sp->inbox);
  if (!strncmp(subject, sp->inbox, prefix)) {
    const char *token = subject + prefix;
    bool no_responders = natsMsg_IsNoResponders(msg);
    const void *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    if (!arq_confirms_on_reply(sp->shield, token, no_responders, data, len))
      arq_requests_on_reply(sp->shield, token, no_responders, data, len);
  }
  arq_spent_msg(msg);
}

const char *arq_link_last_error(void) {
  const char *e = nats_GetLastError(NULL);
  return e ? e : "";
}

int arq_link_reply(arq_link_t *sp, const char *reply, const void *data, size_t len) {
  if (!atomic_load_explicit(&sp->connected, memory_order_relaxed))
    return ARQ_LINK_UNAVAILABLE;
  natsStatus st = natsConnection_Publish(sp->nc, reply, data, (int)len);
  return st == NATS_OK ? ARQ_LINK_PUBLISHED : ARQ_LINK_UNAVAILABLE;
}

const char *arq_link_inbox(const arq_link_t *sp) { return sp->inbox; }

arq_link_t *arq_link_new(arq_shield_t *s, char *err, size_t errcap) {
  arq_link_t *sp = calloc(1, sizeof *sp);
  if (!sp)
    arq_oom("spine");
  sp->shield = s;
  pthread_mutex_init(&sp->lock, NULL);
  pthread_cond_init(&sp->closed_cond, NULL);
  arq_strmap_init(&sp->rooms);
  const arq_config_t *cfg = s->cfg;
  char name[128];
  snprintf(name, sizeof name, "arqon-shield %s", s->node_id);
  natsOptions *opts = NULL;
  natsStatus st = arq_nats_options(cfg, name, &opts, err, errcap);
  if (st != NATS_OK) {
    free(sp);
    return NULL;
  }
  /* Without SendAsap nats.c's flusher holds publishes for about a millisecond to batch
   * them (docs/PERFORMANCE.md); the default trades that CPU saving for latency. */
  if (st == NATS_OK) st = natsOptions_SetSendAsap(opts, cfg->nats.send_asap);
  /* A few shared delivery threads, not one thread per room subscription. */
  if (st == NATS_OK) st = natsOptions_UseGlobalMessageDelivery(opts, true);
  if (st == NATS_OK) st = nats_SetMessageDeliveryPoolSize(2);
  if (st == NATS_OK) st = natsOptions_SetMaxReconnect(opts, -1);
  if (st == NATS_OK) st = natsOptions_SetReconnectWait(opts, 250);
  /* Publishes during a reconnect fail instead of piling up. */
  if (st == NATS_OK) st = natsOptions_SetReconnectBufSize(opts, 1);
  if (st == NATS_OK) st = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, sp);
  if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(opts, on_disconnected, sp);
  if (st == NATS_OK) st = natsOptions_SetReconnectedCB(opts, on_connected, sp);
  if (st == NATS_OK) st = natsOptions_SetErrorHandler(opts, on_async_error, sp);
  if (st == NATS_OK) st = natsOptions_SetClosedCB(opts, on_closed, sp);
  if (st == NATS_OK) {
    st = natsConnection_Connect(&sp->nc, opts);
    if (st == NATS_OK) { /* connected at once: nats.c calls no connected callback then */
      bool up = natsConnection_Status(sp->nc) == NATS_CONN_STATUS_CONNECTED;
      atomic_store(&sp->connected, up);
      atomic_store(&sp->ever_connected, up);
    }
    else if (st == NATS_NOT_YET_CONNECTED) /* retrying in the background */
      st = NATS_OK;
  }
  natsOptions_Destroy(opts);
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_node_conns(subject, sizeof subject, s->node_id);
  if (st == NATS_OK) st = natsConnection_Subscribe(&sp->conn_sub, sp->nc, subject, on_direct_msg, sp);
  if (st == NATS_OK) st = natsConnection_Subscribe(&sp->user_sub, sp->nc, ARQ_SUBJECTS_USERS, on_direct_msg, sp);
  if (st == NATS_OK)
    st = natsConnection_Subscribe(&sp->disconnect_sub, sp->nc, ARQ_SUBJECTS_DISCONNECTS, on_disconnect_msg, sp);
  snprintf(sp->inbox, sizeof sp->inbox, "_INBOX.%s.", s->instance);
  snprintf(subject, sizeof subject, "%s*", sp->inbox);
  if (st == NATS_OK) st = natsConnection_Subscribe(&sp->inbox_sub, sp->nc, subject, on_inbox_msg, sp);
  if (st != NATS_OK) {
    snprintf(err, errcap, "nats: %s", natsStatus_GetText(st));
    arq_link_free(sp, 0);
    return NULL;
  }
  char where[512];
  if (atomic_load(&sp->connected))
    ARQ_LOG(ARQ_LOG_INFO, "spine", "NATS connected", {"url", arq_nats_where(cfg, where, sizeof where)});
  else
    ARQ_LOG(ARQ_LOG_WARN, "spine", "NATS not reachable yet; retrying", {"url", arq_nats_where(cfg, where, sizeof where)});
  return sp;
}

void arq_link_free(arq_link_t *sp, int timeout_ms) {
  if (!sp)
    return;
  if (sp->nc && timeout_ms > 0 && atomic_load(&sp->connected))
    natsConnection_FlushTimeout(sp->nc, timeout_ms);
  /* Unsubscribed now, destroyed once the connection is closed (spine/retired.h). */
  arq_sub_retire(sp->user_sub);
  arq_sub_retire(sp->conn_sub);
  arq_sub_retire(sp->disconnect_sub);
  arq_sub_retire(sp->inbox_sub);
  for (size_t i = 0; i < sp->rooms.cap; i++) {
    room_sub_t *r = sp->rooms.slots[i].key ? sp->rooms.slots[i].value : NULL;
    if (r) {
      arq_sub_retire(r->sub); /* r may be freed once unsubscribed; the sub is destroyed below */
    }
  }
  if (sp->nc) {
    natsConnection_Close(sp->nc);
    /* The disconnected and closed callbacks run on nats.c's thread after Close returns;
     * sp must outlive them. */
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 5;
    pthread_mutex_lock(&sp->lock);
    while (!sp->closed && pthread_cond_timedwait(&sp->closed_cond, &sp->lock, &limit) == 0) {
    }
    pthread_mutex_unlock(&sp->lock);
    natsConnection_Destroy(sp->nc);
  }
  /* Room entries are freed by their subscriptions' completion callbacks. */
  arq_strmap_free(&sp->rooms);
  /* Every connection is closed (the server API's before this): nothing arrives any more. */
  arq_sub_retired_flush();
  arq_spent_flush();
  pthread_cond_destroy(&sp->closed_cond);
  pthread_mutex_destroy(&sp->lock);
  free(sp);
}

bool arq_link_connected(const arq_link_t *sp) { return atomic_load(&sp->connected); }

natsConnection *arq_link_connection(const arq_link_t *sp) { return sp->nc; }

int arq_link_publish(arq_link_t *sp, const char *subject, const char *reply, const void *data,
                      size_t len, const arq_link_headers_t *h) {
  if (!atomic_load_explicit(&sp->connected, memory_order_relaxed))
    return ARQ_LINK_UNAVAILABLE;
  natsMsg *msg = NULL;
  if (natsMsg_Create(&msg, subject, reply, data, (int)len) != NATS_OK)
    return ARQ_LINK_UNAVAILABLE;
  /* traceparent: a fresh span id for each publish (never zero: the counter starts at 1
   * and the mix only moves its bits up). */
  char traceparent[ARQ_TRACEPARENT_LEN + 1];
  uint64_t span = atomic_fetch_add_explicit(&sp->span_counter, 1, memory_order_relaxed) + 1;
  span ^= (uint64_t)(uintptr_t)sp << 16; /* distinct across processes in practice */
  arq_traceparent_format(traceparent, h->trace_id, span ? span : 1);
  natsStatus st = natsMsgHeader_Set(msg, ARQ_HEADER_TRACEPARENT, traceparent);
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, ARQ_HEADER_TRACE_ID, h->trace_id);
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, ARQ_HEADER_TENANT, h->tenant);
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, ARQ_HEADER_SENDER, h->sender);
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, ARQ_HEADER_CONN, h->conn);
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, ARQ_HEADER_NODE, sp->shield->node_id);
  if (st == NATS_OK && h->shadow) st = natsMsgHeader_Set(msg, ARQ_HEADER_SHADOW, "true");
  for (size_t off = 0; st == NATS_OK && off < h->extra_len;) {
    const char *name = h->extra + off, *value = name + strlen(name) + 1;
    st = natsMsgHeader_Add(msg, name, value);
    off = (size_t)(value + strlen(value) + 1 - h->extra);
  }
  if (st == NATS_OK) st = natsConnection_PublishMsg(sp->nc, msg);
  arq_spent_msg(msg);
  if (st == NATS_MAX_PAYLOAD)
    return ARQ_LINK_TOO_LARGE;
  return st == NATS_OK ? ARQ_LINK_PUBLISHED : ARQ_LINK_UNAVAILABLE;
}

static void room_sub_done(void *closure) { free(closure); }

struct arq_link_sub {
  natsSubscription *sub;
  arq_link_msg_fn fn;
  void *arg;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done; /* nats.c's last callback has returned */
};

static void on_sub_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  arq_link_sub_t *s = closure;
  s->fn(s->arg, natsMsg_GetSubject(msg), natsMsg_GetReply(msg), natsMsg_GetData(msg),
        (size_t)natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

static void on_sub_done(void *closure) {
  arq_link_sub_t *s = closure;
  pthread_mutex_lock(&s->lock);
  s->done = true;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

arq_link_sub_t *arq_link_subscribe(arq_link_t *sp, const char *subject, arq_link_msg_fn fn, void *arg) {
  arq_link_sub_t *s = calloc(1, sizeof *s);
  if (!s)
    arq_oom("subscription");
  s->fn = fn;
  s->arg = arg;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  natsStatus st = natsConnection_Subscribe(&s->sub, sp->nc, subject, on_sub_msg, s);
  if (st == NATS_OK)
    st = natsSubscription_SetOnCompleteCB(s->sub, on_sub_done, s);
  if (st != NATS_OK) {
    ARQ_LOG(ARQ_LOG_ERROR, "spine", "cannot subscribe", {"subject", subject}, {"error", natsStatus_GetText(st)});
    natsSubscription_Destroy(s->sub);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
  }
  return s;
}

bool arq_link_unsubscribe(arq_link_sub_t *s) {
  if (!s)
    return true;
  natsSubscription_Unsubscribe(s->sub);
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_sec += 2;
  pthread_mutex_lock(&s->lock);
  while (!s->done && pthread_cond_timedwait(&s->cond, &s->lock, &limit) == 0) {
  }
  bool done = s->done;
  pthread_mutex_unlock(&s->lock);
  if (!done) {
    ARQ_LOG(ARQ_LOG_WARN, "spine", "a subscription did not end in time; its memory is kept");
    return false;
  }
  natsSubscription_Destroy(s->sub);
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->lock);
  free(s);
  return true;
}

static size_t room_key(char *key, const char *tenant, const char *room) {
  size_t t = strlen(tenant), r = strlen(room);
  memcpy(key, tenant, t + 1);
  memcpy(key + t + 1, room, r);
  return t + 1 + r;
}

#define ROOM_FLUSH_TIMEOUT_MS 1000

int arq_link_room_ref(arq_link_t *sp, const char *tenant, const char *room, size_t worker) {
  char key[2 * ARQ_ID_MAX_LEN + 2];
  size_t klen = room_key(key, tenant, room);
  int rc = 0;
  bool unconfirmed = false;
  pthread_mutex_lock(&sp->lock);
  room_sub_t *r = arq_strmap_get(&sp->rooms, key, klen);
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r)
      arq_oom("room");
    r->link = sp;
    strcpy(r->tenant, tenant);
    strcpy(r->room, room);
    char subject[ARQ_SUBJECT_CAP];
    arq_subject_room(subject, sizeof subject, tenant, room);
    if (natsConnection_Subscribe(&r->sub, sp->nc, subject, on_room_msg, r) != NATS_OK ||
        natsSubscription_SetOnCompleteCB(r->sub, room_sub_done, r) != NATS_OK) {
      natsSubscription_Destroy(r->sub);
      free(r);
      rc = -1;
      goto out;
    }
    arq_strmap_put(&sp->rooms, key, klen, r);
  }
  if (r->per_worker[worker]++ == 0)
    atomic_fetch_or_explicit(&r->worker_mask, 1ull << worker, memory_order_release);
  unconfirmed = !atomic_load(&r->confirmed);
out:
  pthread_mutex_unlock(&sp->lock);
  /* The join is acknowledged only once NATS has the subscription: a broadcast published
   * right after the ack must reach the new member. One round trip, until the first one
   * succeeds: a second join arriving while the first one's flush is under way flushes too,
   * instead of being acknowledged before NATS has the subscription. Outside the node-wide
   * lock so that other workers' joins and leaves do not wait for it. (A client's cost is
   * bounded by its message rate and shield.max_rooms_per_connection.) */
  if (unconfirmed) {
    if (natsConnection_FlushTimeout(sp->nc, ROOM_FLUSH_TIMEOUT_MS) == NATS_OK)
      atomic_store(&r->confirmed, true); /* r lives while this worker's reference does */
    else
      ARQ_LOG(ARQ_LOG_WARN, "spine", "room subscription not confirmed by NATS",
              {"tenant_id", tenant}, {"room", room});
  }
  return rc;
}

void arq_link_room_unref(arq_link_t *sp, const char *tenant, const char *room, size_t worker) {
  char key[2 * ARQ_ID_MAX_LEN + 2];
  size_t klen = room_key(key, tenant, room);
  pthread_mutex_lock(&sp->lock);
  room_sub_t *r = arq_strmap_get(&sp->rooms, key, klen);
  if (r && r->per_worker[worker] && --r->per_worker[worker] == 0) {
    uint64_t mask = atomic_fetch_and_explicit(&r->worker_mask, ~(1ull << worker),
                                              memory_order_acq_rel) & ~(1ull << worker);
    if (!mask) {
      /* r may be freed by room_sub_done as soon as the unsubscribe completes. */
      natsSubscription *sub = r->sub;
      arq_strmap_remove(&sp->rooms, key, klen);
      arq_sub_retire(sub); /* destroyed a second later: spine/retired.h says why */
    }
  }
  pthread_mutex_unlock(&sp->lock);
}
