/*
 * presence.c — who is in which room, in Redis, and the presence.join / presence.leave
 * events members see.
 *
 * DESIGN
 *   Keys (the tenant in braces is a Redis Cluster hash tag: a tenant's room keys share a
 *   slot):
 *     arq:{T}:room:{R}:members   hash conn -> {"user","conn","node","joined_at"}
 *     arq:shield:<instance>:conns set of "T R conn" the Shield instance holds
 *     arq:shields                hash instance -> node ("" when unknown)
 *     arq:rooms                  set of "T R" with at least one member
 *     arq:presence:count         number of member entries (for brain_presence_entries)
 *   Join and leave notices reach the Brain through the stream ARQON_NOTICES and are
 *   applied by the holder of the room's partition, in stream order; a replay skips what
 *   arq:{T}:room:{R}:npin (the notice stream's sequence of the last one applied) says was
 *   done. A quick join/leave pair is never applied backwards, and none is lost when
 *   partitions move; only a crash between applying and recording repeats one (its event
 *   twice).
 *
 *   Liveness. A connection belongs to a Shield instance (the prefix of its conn id). Every
 *   second each Brain probes each instance with a request to `_INBOX.<instance>.arqon-probe`:
 *   a live Shield holds a subscription there (its reply inbox) and stays silent; after a
 *   crash NATS answers "no responders" at once. An instance found absent continuously for
 *   presence_expiry_s — or whose node, when a notice named it (header x-arqon-node), has
 *   sent no heartbeat for that long — is expired: its entries are removed and members see
 *   presence.leave. Requiring the whole expiry window keeps a Shield that is only
 *   reconnecting to NATS from losing its presence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/rules.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/conn_id.h"
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "protocol/subjects.h"

#define PROBE_EVERY_MS 1000

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publishes presence.join / presence.leave to the room. `from` is the notice, or NULL for an
 * expiry: then the headers name `trace`, the tenant, and the member (user, conn) that left.
 * The envelope's trace_id is the one the headers carry. */
static void emit(arq_brain_t *b, const char *type, const char *tenant, const char *room,
                 const char *user, const char *conn, const char *member_json, const char *trace_in,
                 natsMsg *from) {
  char trace[ARQ_TRACE_ID_LEN + 1];
  arq_brain_trace_id(from, trace_in, trace);
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  ev.type = (char *)type;
  ev.data.data = (uint8_t *)member_json;
  ev.data.len = strlen(member_json);
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  e.tenant_id = (char *)tenant;
  e.room_id = (char *)room;
  e.sender = (char *)user;
  e.conn_id = (char *)conn;
  e.trace_id = trace;
  e.timestamp = (uint64_t)wall_ms();
  arq_buf_t packed;
  arq_buf_init(&packed);
  arq_envelope_pack(&e, &packed);
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_room(subject, sizeof subject, tenant, room);
  const arq_brain_headers_t own = {.trace_id = trace, .tenant = tenant, .sender = user,
                                   .conn = conn};
  arq_brain_publish(b, subject, packed.data, packed.len, from, &own);
  arq_buf_free(&packed);
}

static arq_instance_t *instance_get(arq_brain_t *b, const char *instance) {
  arq_instance_t *in = arq_strmap_get(&b->instances, instance, strlen(instance));
  if (!in) {
    in = calloc(1, sizeof *in);
    if (!in)
      arq_oom("instance");
    arq_strmap_put(&b->instances, instance, strlen(instance), in);
  }
  return in;
}

/* Stores a member and emits presence.join. Returns -1 when Redis is unavailable. */
static int join(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                const Arqon__V1__Envelope *e, const char *instance) {
  const char *node = arq_brain_header(msg, ARQ_HEADER_NODE);
  if (!node || !arq_id_valid_str(node))
    node = "";
  arq_buf_t json;
  arq_buf_init(&json);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &json);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "user", 4);
  arq_json_w_string(&w, e->sender, strlen(e->sender));
  arq_json_w_key(&w, "conn", 4);
  arq_json_w_string(&w, e->conn_id, strlen(e->conn_id));
  arq_json_w_key(&w, "node", 4);
  arq_json_w_string(&w, node, strlen(node));
  arq_json_w_key(&w, "joined_at", 9);
  arq_json_w_uint64(&w, e->timestamp ? (uint64_t)e->timestamp : (uint64_t)wall_ms());
  arq_json_w_object_end(&w);

  char key[200], set[128], entry[200], roomkey[140];
  snprintf(key, sizeof key, "arq:{%s}:room:%s:members", tenant, room);
  snprintf(set, sizeof set, "arq:shield:%s:conns", instance);
  snprintf(entry, sizeof entry, "%s %s %s", tenant, room, e->conn_id);
  snprintf(roomkey, sizeof roomkey, "%s %s", tenant, room);
  /* The instance first: if the Brain dies between the commands, liveness still finds it. */
  redisReply *r = arq_store_command(&b->store, *node ? "HSET arq:shields %s %s" : "HSETNX arq:shields %s %s",
                                    instance, node);
  if (r) {
    freeReplyObject(r);
    r = arq_store_command(&b->store, "SADD %s %s", set, entry);
  }
  if (r) {
    freeReplyObject(r);
    r = arq_store_command(&b->store, "HSET %s %s %b", key, e->conn_id, json.data, json.len);
  }
  if (!r) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "join not stored: Redis unavailable", {"tenant_id", tenant},
            {"room", room}, {"conn", e->conn_id}, {"trace_id", e->trace_id});
    arq_buf_free(&json);
    return -1;
  }
  bool added = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  freeReplyObject(r);
  if (added && (r = arq_store_command(&b->store, "INCR arq:presence:count")))
    freeReplyObject(r);
  if ((r = arq_store_command(&b->store, "SADD arq:rooms %s", roomkey)))
    freeReplyObject(r);
  arq_instance_t *in = instance_get(b, instance);
  if (*node)
    snprintf(in->node, sizeof in->node, "%s", node);
  emit(b, "presence.join", tenant, room, e->sender, e->conn_id, json.data, e->trace_id, msg);
  arq_brain_requests_joined(b, tenant, room, e->conn_id);
  ARQ_LOG(ARQ_LOG_DEBUG, "brain", "joined", {"tenant_id", tenant}, {"room", room},
          {"user", e->sender}, {"conn", e->conn_id}, {"trace_id", e->trace_id});
  arq_buf_free(&json);
  return 0;
}

/* Removes one member; emits presence.leave when it was there. Returns -1 on Redis failure. */
static int remove_member(arq_brain_t *b, const char *tenant, const char *room, const char *conn,
                         const char *instance, const char *trace, natsMsg *from) {
  char key[200], set[128], entry[200];
  snprintf(key, sizeof key, "arq:{%s}:room:%s:members", tenant, room);
  snprintf(set, sizeof set, "arq:shield:%s:conns", instance);
  snprintf(entry, sizeof entry, "%s %s %s", tenant, room, conn);
  redisReply *stored = arq_store_command(&b->store, "HGET %s %s", key, conn);
  if (!stored)
    return -1;
  redisReply *r = arq_store_command(&b->store, "HDEL %s %s", key, conn);
  if (!r) {
    freeReplyObject(stored);
    return -1;
  }
  bool removed = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  freeReplyObject(r);
  if ((r = arq_store_command(&b->store, "SREM %s %s", set, entry)))
    freeReplyObject(r);
  if (removed) {
    if ((r = arq_store_command(&b->store, "DECR arq:presence:count")))
      freeReplyObject(r);
    if ((r = arq_store_command(&b->store, "EXISTS %s", key))) {
      if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        char roomkey[140];
        snprintf(roomkey, sizeof roomkey, "%s %s", tenant, room);
        redisReply *r2 = arq_store_command(&b->store, "SREM arq:rooms %s", roomkey);
        if (r2)
          freeReplyObject(r2);
      }
      freeReplyObject(r);
    }
  }
  if (removed && stored->type == REDIS_REPLY_STRING) {
    /* The user comes from what was stored at join time. */
    char user[ARQ_ID_MAX_LEN + 1] = "";
    arq_json_doc_t doc;
    arq_json_doc_init(&doc, NULL);
    const arq_json_value_t *root = arq_json_parse(&doc, stored->str, stored->len, NULL);
    const arq_json_value_t *u = root ? arq_json_object_get(root, "user", 4) : NULL;
    size_t ulen = 0;
    const char *us = u ? arq_json_string(u, &ulen) : NULL;
    if (us && ulen <= ARQ_ID_MAX_LEN)
      memcpy(user, us, ulen + 1);
    arq_json_doc_free(&doc);
    emit(b, "presence.leave", tenant, room, user, conn, stored->str, trace, from);
    ARQ_LOG(ARQ_LOG_DEBUG, "brain", "left", {"tenant_id", tenant}, {"room", room}, {"user", user},
            {"conn", conn}, {"trace_id", trace});
  }
  freeReplyObject(stored);
  return 0;
}

/* The notice stream sequence of the last notice applied to a room, so that a replay after a
 * takeover or reset does not emit a presence event twice. */
static int applied_before(arq_brain_t *b, const char *tenant, const char *room, uint64_t in_seq) {
  redisReply *r = arq_store_command(&b->store, "GET arq:{%s}:room:%s:npin", tenant, room);
  if (!r)
    return -1;
  uint64_t pin = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
  freeReplyObject(r);
  return pin >= in_seq;
}

int arq_presence_notice(arq_brain_t *b, natsMsg *msg, uint64_t in_seq,
                        bool (*wants)(arq_brain_t *b, uint32_t p, uint64_t in_seq)) {
  const char *subject = natsMsg_GetSubject(msg);
  char tenant[ARQ_ID_MAX_LEN + 1], command[ARQ_ID_MAX_LEN + 1], instance[ARQ_ID_MAX_LEN + 1];
  if (!arq_subject_parse_brain(subject, tenant, command))
    return 0;
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                       (const uint8_t *)natsMsg_GetData(msg));
  /* The room's partition handles it (the tenant's, "" room, when there is no usable room,
   * so that one audit record is written by one Brain). */
  const char *room = e && e->room_id && arq_id_valid_str(e->room_id) ? e->room_id : "";
  if (!wants(b, arq_brain_partition(tenant, room, b->partitions), in_seq)) {
    if (e)
      arqon__v1__envelope__free_unpacked(e, NULL);
    return 0;
  }
  const char *why = arq_brain_check_message(tenant, msg, e);
  if (!why && !*room)
    why = "room_id missing or invalid";
  if (!why && arq_conn_id_instance(e->conn_id, instance))
    why = "conn_id missing or invalid";
  int rc = 0;
  if (why) {
    arq_counter_inc(b->m.dropped);
    arq_brain_audit(b, tenant, "drop", why, subject, msg);
  } else if ((rc = applied_before(b, tenant, room, in_seq)) == 0) {
    if (!strcmp(command, "join"))
      rc = join(b, msg, tenant, room, e, instance);
    else
      rc = remove_member(b, tenant, room, e->conn_id, instance, e->trace_id, msg);
    redisReply *r = rc ? NULL : arq_store_command(&b->store, "SET arq:{%s}:room:%s:npin %llu", tenant, room,
                                                  (unsigned long long)in_seq);
    if (r)
      freeReplyObject(r);
  } else if (rc > 0) {
    rc = 0; /* applied before: nothing to do */
  }
  if (e)
    arqon__v1__envelope__free_unpacked(e, NULL);
  return rc;
}

void arq_presence_state(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                        const char *trace_id) {
  char key[200];
  snprintf(key, sizeof key, "arq:{%s}:room:%s:members", tenant, room);
  redisReply *r = arq_store_command(&b->store, "HVALS %s", key);
  if (!r) {
    arq_brain_reply_error(b, msg, tenant, room, trace_id, 503, "presence store unavailable");
    return;
  }
  arq_buf_t out;
  arq_buf_init(&out);
  arq_buf_putc(&out, '[');
  /* One NATS message carries the answer: a room too large for it is cut (and logged). */
  int64_t max_payload = natsConnection_GetMaxPayload(b->nc);
  size_t limit = max_payload > 8192 ? (size_t)max_payload - 4096 : 4096;
  size_t i = 0;
  for (; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
    if (r->element[i]->type != REDIS_REPLY_STRING)
      continue;
    if (out.len + r->element[i]->len + 2 > limit)
      break;
    if (out.len > 1)
      arq_buf_putc(&out, ',');
    arq_buf_append(&out, r->element[i]->str, r->element[i]->len);
  }
  if (r->type == REDIS_REPLY_ARRAY && i < r->elements)
    ARQ_LOG(ARQ_LOG_WARN, "brain", "presence.state cut to fit one NATS message",
            {"tenant_id", tenant}, {"room", room}, {"trace_id", trace_id});
  arq_buf_putc(&out, ']');
  freeReplyObject(r);
  arq_brain_reply(b, msg, tenant, room, trace_id, "presence.state", out.data, out.len);
  arq_buf_free(&out);
}

void arq_presence_heartbeat(arq_brain_t *b, natsMsg *msg) {
  char node[ARQ_ID_MAX_LEN + 1];
  if (!arq_subject_parse_heartbeat(natsMsg_GetSubject(msg), node))
    return;
  arq_node_t *n = arq_strmap_get(&b->nodes, node, strlen(node));
  if (!n) {
    if (!(n = calloc(1, sizeof *n)))
      arq_oom("node");
    arq_strmap_put(&b->nodes, node, strlen(node), n);
  }
  n->last_ms = arq_monotonic_ms();
  /* {"node","instance","connections","ts"} (protocol/payloads.h) */
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  const arq_json_value_t *v = arq_json_parse(&doc, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), NULL);
  int64_t conns = 0;
  if (v && !arq_json_int64(arq_json_object_get(v, "connections", 11), &conns))
    n->connections = conns;
  arq_json_doc_free(&doc);
}

void arq_presence_probe_answer(arq_brain_t *b, natsMsg *msg) {
  /* _INBOX.<brain id>.probe.<instance> */
  const char *dot = strrchr(natsMsg_GetSubject(msg), '.');
  if (!dot)
    return;
  arq_instance_t *in = arq_strmap_get(&b->instances, dot + 1, strlen(dot + 1));
  if (in && in->probe_sent_ms)
    in->probe_dead = true;
}

/* Removes what this Brain owns of a dead instance; forgets the instance when nothing is left. */
static void expire_instance(arq_brain_t *b, const char *instance, const char *why) {
  char set[128];
  snprintf(set, sizeof set, "arq:shield:%.64s:conns", instance);
  redisReply *r = arq_store_command(&b->store, "SMEMBERS %s", set);
  if (!r)
    return;
  char trace[ARQ_TRACE_ID_LEN + 1];
  arq_trace_id_new(trace);
  size_t removed = 0;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
    char tenant[ARQ_ID_MAX_LEN + 1], room[ARQ_ID_MAX_LEN + 1], conn[ARQ_ID_MAX_LEN + 1];
    if (r->element[i]->type != REDIS_REPLY_STRING ||
        sscanf(r->element[i]->str, "%64s %64s %64s", tenant, room, conn) != 3)
      continue;
    if (!arq_leases_owns_room(b, tenant, room))
      continue; /* the owner of that room's partition expires it */
    if (remove_member(b, tenant, room, conn, instance, trace, NULL) == 0)
      removed++;
  }
  freeReplyObject(r);
  arq_counter_add(b->m.presence_expired, removed);
  if (removed)
    ARQ_LOG(ARQ_LOG_INFO, "brain", "Shield instance expired: its connections left presence",
            {"instance", instance}, {"reason", why}, {"trace_id", trace});
  r = arq_store_command(&b->store, "SCARD %s", set);
  if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
    redisReply *r2 = arq_store_command(&b->store, "HDEL arq:shields %s", instance);
    if (r2)
      freeReplyObject(r2);
    free(arq_strmap_remove(&b->instances, instance, strlen(instance)));
  }
  if (r)
    freeReplyObject(r);
}

/* Brings the in-memory instance table in line with arq:shields. */
static void load_instances(arq_brain_t *b) {
  redisReply *r = arq_store_command(&b->store, "HGETALL arq:shields");
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    if (r)
      freeReplyObject(r);
    return;
  }
  arq_strmap_t seen;
  arq_strmap_init(&seen);
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    redisReply *k = r->element[i], *v = r->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || !arq_id_valid(k->str, k->len))
      continue;
    arq_instance_t *in = instance_get(b, k->str);
    if (v->type == REDIS_REPLY_STRING && v->len && arq_id_valid(v->str, v->len))
      snprintf(in->node, sizeof in->node, "%s", v->str);
    arq_strmap_put(&seen, k->str, k->len, in);
  }
  freeReplyObject(r);
  /* Forget instances gone from Redis (expired by another Brain): collect, then remove,
   * since removing moves entries between slots. */
  size_t ngone = 0;
  char(*gone)[ARQ_ID_MAX_LEN + 1] = calloc(b->instances.len + 1, sizeof *gone);
  if (!gone)
    arq_oom("instances");
  for (size_t i = 0; i < b->instances.cap; i++) {
    arq_strmap_slot_t *s = &b->instances.slots[i];
    if (s->key && s->key_len <= ARQ_ID_MAX_LEN && !arq_strmap_get(&seen, s->key, s->key_len)) {
      memcpy(gone[ngone], s->key, s->key_len);
      gone[ngone++][s->key_len] = '\0';
    }
  }
  for (size_t i = 0; i < ngone; i++)
    free(arq_strmap_remove(&b->instances, gone[i], strlen(gone[i])));
  free(gone);
  arq_strmap_free(&seen);
}

void arq_presence_tick(arq_brain_t *b, int64_t now) {
  if (now < b->probe_due_ms)
    return;
  b->probe_due_ms = now + PROBE_EVERY_MS;
  load_instances(b);
  int64_t expiry = b->cfg->brain.presence_expiry_s * 1000;
  /* Decide first (removing entries while iterating would move slots). */
  char dead[64][ARQ_ID_MAX_LEN + 1];
  const char *why[64];
  size_t ndead = 0;
  for (size_t i = 0; i < b->instances.cap; i++) {
    arq_strmap_slot_t *s = &b->instances.slots[i];
    if (!s->key)
      continue;
    arq_instance_t *in = s->value;
    if (in->probe_sent_ms) {
      if (in->probe_dead) {
        if (!in->missing_since_ms)
          in->missing_since_ms = in->probe_sent_ms;
      } else {
        in->missing_since_ms = 0;
      }
    }
    const char *reason = NULL;
    if (in->missing_since_ms && now - in->missing_since_ms >= expiry)
      reason = "no subscriber on the instance's inbox";
    if (!reason && in->node[0]) {
      const arq_node_t *n = arq_strmap_get(&b->nodes, in->node, strlen(in->node));
      int64_t since = n ? n->last_ms : b->started_ms;
      if (now - since >= expiry)
        reason = "node heartbeat silent";
    }
    if (reason && ndead < 64 && s->key_len <= ARQ_ID_MAX_LEN) {
      memcpy(dead[ndead], s->key, s->key_len);
      dead[ndead][s->key_len] = '\0';
      why[ndead++] = reason;
    }
    /* The next probe: a live Shield's inbox swallows it, a dead one's gets "no responders". */
    char subject[128], reply[128];
    snprintf(subject, sizeof subject, "_INBOX.%.*s.arqon-probe", (int)s->key_len, s->key);
    snprintf(reply, sizeof reply, "_INBOX.%s.probe.%.*s", b->id, (int)s->key_len, s->key);
    in->probe_dead = false;
    if (natsConnection_PublishRequest(b->nc, subject, reply, NULL, 0) == NATS_OK)
      in->probe_sent_ms = now;
  }
  for (size_t i = 0; i < ndead; i++)
    expire_instance(b, dead[i], why[i]);

  int64_t live_nodes = 0;
  for (size_t i = 0; i < b->nodes.cap; i++)
    if (b->nodes.slots[i].key && now - ((const arq_node_t *)b->nodes.slots[i].value)->last_ms < expiry)
      live_nodes++;
  arq_gauge_set(b->m.shield_nodes, live_nodes);
  redisReply *r = arq_store_command(&b->store, "GET arq:presence:count");
  if (r) {
    arq_gauge_set(b->m.presence_entries, r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0);
    freeReplyObject(r);
  }
  if ((r = arq_store_command(&b->store, "SCARD arq:rooms"))) {
    arq_gauge_set(b->m.rooms, r->type == REDIS_REPLY_INTEGER ? r->integer : 0);
    freeReplyObject(r);
  }
}

void arq_presence_free(arq_brain_t *b) {
  for (size_t i = 0; i < b->instances.cap; i++)
    if (b->instances.slots[i].key)
      free(b->instances.slots[i].value);
  arq_strmap_free(&b->instances);
  for (size_t i = 0; i < b->nodes.cap; i++)
    if (b->nodes.slots[i].key)
      free(b->nodes.slots[i].value);
  arq_strmap_free(&b->nodes);
}
