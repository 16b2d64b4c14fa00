/*
 * session.c — the WebSocket phase: each inbound message becomes a stamped Envelope that
 * is answered exactly once when it carries an id.
 *
 *   message ─ rate limits ─ decode (protobuf or JSON) ─ stamp ─ command | event ─ reply
 *
 * DESIGN
 *   Decoding uses the worker's arena (reset after every message), the encoded outbound
 *   envelope the worker's scratch buffer: a message allocates nothing of its own in
 *   steady state beyond what nats.c does for a publish. The Shield overwrites tenant_id,
 *   sender, conn_id and timestamp: whatever the client put there never routes anywhere.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "common/version.h"
#include "protocol/conn_id.h"
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "protocol/payloads.h"
#include "protocol/subjects.h"
#include "shield/audit.h"
#include "shield/mirror.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

#define MAX_STRIKES 20 /* consecutive rate-limited messages before the connection is closed */
#define ARQ_SCHEMA_REASON 320
#define MAX_REFRESH_BYTES 9000 /* {"token":"<JWT up to 8 KiB>"} */

typedef struct {
  arq_conn_t *c;
  bool text;             /* reply in the encoding of the message */
  const char *id;        /* "" when the client sent none */
  const char *trace_id;
  const arq_verdict_t *verdict; /* headers policies added, or NULL */
} reply_ctx_t;

/* ---- replies ---- */

void arq_session_send_envelope(arq_conn_t *c, const Arqon__V1__Envelope *e, bool text) {
  arq_worker_t *w = c->w;
  arq_buf_t *out = &w->scratch;
  arq_buf_reset(out);
  uint8_t opcode = text ? ARQ_WS_OP_TEXT : ARQ_WS_OP_BINARY;
  arq_frame_t *f = NULL;
  if (text) {
    arq_envelope_to_json(e, out);
  } else {
    size_t n = arqon__v1__envelope__get_packed_size(e);
    if (!arq_egress_compresses(c, n)) { /* packed straight into its frame */
      f = arq_frame_alloc(w->frames, opcode, n);
      arqon__v1__envelope__pack(e, arq_frame_payload(f));
    } else {
      arq_envelope_pack(e, out);
    }
  }
  /* Compressed like a delivery (egress.c), by the worker's deflater: a history page of a
   * thousand messages shrinks as much as any message. */
  if (!f && arq_egress_compresses(c, out->len)) {
    f = arq_egress_deflate(w, opcode, (const uint8_t *)out->data, out->len);
    if (f) {
      uint8_t header[14];
      size_t plain = arq_ws_frame_header(header, opcode, true, out->len, NULL) + out->len;
      arq_counter_add(w->shield->m.deflate_saved_bytes, plain - f->len);
    }
  }
  if (!f)
    f = arq_frame_new(w->frames, opcode, out->data, out->len);
  arq_conn_send(c, f);
  arq_frame_unref(f);
}

static void send_event(const reply_ctx_t *r, const char *type, const char *data, const char *room) {
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  ev.type = (char *)type;
  ev.data.data = (uint8_t *)data;
  ev.data.len = data ? strlen(data) : 0;
  e.id = (char *)r->id;
  e.trace_id = (char *)r->trace_id;
  e.room_id = (char *)(room ? room : "");
  e.timestamp = arq_wall_ms();
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  arq_session_send_envelope(r->c, &e, r->text);
}

void arq_session_answer(arq_conn_t *c, const char *id, const char *trace_id, const char *room,
                        bool text, int code, const char *reason) {
  reply_ctx_t r = {c, text, id ? id : "", trace_id ? trace_id : "", NULL};
  if (!code) {
    if (*r.id)
      send_event(&r, "ack", NULL, room);
    return;
  }
  /* Errors are sent even without an id: nothing is dropped silently. Built in the worker's
   * reply buffer: an abusive client gets its 429s without costing an allocation each. */
  arq_buf_t *data = &c->w->reply;
  arq_buf_reset(data);
  arq_payload_error(data, code, reason);
  arq_buf_putc(data, '\0');
  send_event(&r, "error", data->data, room);
  arq_counter_inc(c->w->shield->m.errors_sent);
}

static void ack(const reply_ctx_t *r, const char *room) {
  arq_session_answer(r->c, r->id, r->trace_id, room, r->text, 0, NULL);
}

static void reply_error(const reply_ctx_t *r, int code, const char *reason, const char *room) {
  arq_session_answer(r->c, r->id, r->trace_id, room, r->text, code, reason);
}

/* Where a message would go: in.t.<tenant>.r.<room> for events, sys.brain.<tenant>.<type>
 * for commands ("" otherwise). */
static void message_subject(const arq_conn_t *c, const Arqon__V1__Envelope *e, char *out,
                            size_t cap) {
  *out = '\0';
  if (e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_EVENT)
    arq_subject_ingress(out, cap, c->id.tenant, e->room_id ? e->room_id : "");
  else if (e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD)
    arq_subject_brain(out, cap, c->id.tenant, e->cmd->type ? e->cmd->type : "");
}

/* A refusal that goes on the tenant's audit trail as well (audit.h says which). */
static void refuse(const reply_ctx_t *r, const Arqon__V1__Envelope *e, int code,
                   const char *action, const char *reason) {
  reply_error(r, code, reason, e->room_id);
  char subject[ARQ_SUBJECT_CAP];
  message_subject(r->c, e, subject, sizeof subject);
  arq_audit(r->c, action, code, reason, subject, r->trace_id);
}

/* ---- stamping ---- */

static void stamp(arq_conn_t *c, Arqon__V1__Envelope *e, char trace[33]) {
  e->tenant_id = c->id.tenant;
  e->sender = c->id.sub;
  e->conn_id = c->conn_id;
  e->timestamp = arq_wall_ms();
  if (arq_trace_id_valid(e->trace_id)) {
    memcpy(trace, e->trace_id, 33);
  } else {
    arq_trace_id_new(trace);
  }
  e->trace_id = trace;
}

/* ---- limits ---- */

static bool take_token(arq_conn_t *c) {
  const arq_config_t *cfg = c->w->shield->cfg;
  uint64_t now = arq_loop_now_ms(c->w->loop);
  double elapsed = (double)(now - c->tokens_at_ms) / 1000.0;
  c->tokens_at_ms = now;
  c->tokens += elapsed * cfg->shield.conn_rate;
  if (c->tokens > (double)cfg->shield.conn_burst)
    c->tokens = (double)cfg->shield.conn_burst;
  if (c->tokens < 1.0)
    return false;
  if (!arq_tenant_take(c->w->shield, c->tenant, now))
    return false;
  c->tokens -= 1.0;
  return true;
}

/* ---- commands and events ---- */

/* Packs the envelope into the worker's scratch buffer; returns its length. */
static size_t pack(arq_conn_t *c, const Arqon__V1__Envelope *e) { return arq_envelope_pack(e, &c->w->scratch); }

static int publish_packed(arq_conn_t *c, const char *subject, const char *reply,
                          const Arqon__V1__Envelope *e, size_t n, bool shadow, const arq_verdict_t *v) {
  arq_link_headers_t h = {e->trace_id, c->id.tenant, c->id.sub, c->conn_id, shadow,
                           v ? v->added : NULL, v ? v->added_len : 0};
  return arq_link_publish(c->w->shield->link, subject, reply, c->w->scratch.data, n, &h);
}

/* After the primary: a copy on shadow.<subject> when the rules say so. A failed copy is
 * logged and counted; it never changes what the client is told. */
static void mirror(arq_conn_t *c, const char *subject, const Arqon__V1__Envelope *e, size_t n,
                   const arq_verdict_t *v) {
  arq_shield_t *s = c->w->shield;
  const char *key = *e->trace_id ? e->trace_id : c->conn_id;
  if (!arq_mirror_decide(s->cfg, subject, key, strlen(key)))
    return;
  char shadow[ARQ_SUBJECT_CAP];
  arq_subject_shadow(shadow, sizeof shadow, subject);
  if (publish_packed(c, shadow, NULL, e, n, true, v)) {
    arq_counter_inc(s->m.mirror_failures);
    ARQ_LOG(ARQ_LOG_WARN, "mirror", "mirror publish failed", {"subject", shadow},
            {"trace_id", e->trace_id}, {"tenant_id", c->id.tenant});
    return;
  }
  arq_counter_inc(s->m.mirror_traffic);
}

static bool joined(const arq_conn_t *c, const char *room) {
  for (size_t i = 0; i < c->nrooms; i++)
    if (!strcmp(c->rooms[i], room))
      return true;
  return false;
}

static bool room_id_ok(const reply_ctx_t *r, const char *room) {
  if (!room || !*room) {
    reply_error(r, 400, "room_id is required", NULL);
    return false;
  }
  if (!arq_id_valid_str(room)) {
    reply_error(r, 400, "room_id must match ^[A-Za-z0-9_-]{1,64}$", NULL);
    return false;
  }
  return true;
}

/* Publishing and reading a room (presence, history) need the connection to have joined it
 * or its token's rooms claim to cover it. Answers the refusal itself. */
static bool may_use_room(const reply_ctx_t *r, const Arqon__V1__Envelope *e) {
  if (!room_id_ok(r, e->room_id))
    return false;
  if (!joined(r->c, e->room_id) && !arq_identity_room_allowed(&r->c->id, e->room_id)) {
    refuse(r, e, 403, "permission_denied", "not a member of this room");
    return false;
  }
  return true;
}

/* 503: NATS did not take what `step` needed. Logged with the reason at most once a second
 * per worker (an outage would otherwise log every message), with how many went unlogged. */
static void spine_down(const reply_ctx_t *r, const char *room, const char *step) {
  static _Thread_local uint64_t logged_ms, unlogged;
  arq_counter_inc(r->c->w->shield->m.spine_unavailable);
  uint64_t now = arq_loop_now_ms(r->c->w->loop);
  if (logged_ms && now - logged_ms < 1000) {
    unlogged++;
  } else {
    char more[24];
    snprintf(more, sizeof more, "%llu", (unsigned long long)unlogged);
    const char *why = arq_link_last_error();
    ARQ_LOG(ARQ_LOG_WARN, "shield", "answered 503: NATS did not take it", {"step", step},
            {"nats_connected", arq_link_connected(r->c->w->shield->link) ? "true" : "false"},
            {"error", why && *why ? why : "not connected"}, {"conn", r->c->conn_id},
            {"unlogged_since", more});
    logged_ms = now;
    unlogged = 0;
  }
  reply_error(r, 503, "spine unavailable", room);
}

/* Below the Shield's own message limit but above what NATS takes (its max_payload, with
 * the headers): the client is told 413; the operator sees a counter and one log line. */
static void too_large(const reply_ctx_t *r, const Arqon__V1__Envelope *e, const char *subject,
                      size_t n) {
  static atomic_bool logged;
  arq_shield_t *s = r->c->w->shield;
  arq_counter_inc(s->m.too_large);
  if (!atomic_exchange(&logged, true)) {
    char bytes[24];
    snprintf(bytes, sizeof bytes, "%zu", n);
    ARQ_LOG(ARQ_LOG_WARN, "spine",
            "a message exceeds NATS max_payload (first occurrence; counted in "
            "shield_messages_too_large_total)",
            {"subject", subject}, {"bytes", bytes}, {"tenant_id", r->c->id.tenant});
  }
  refuse(r, e, 413, "too_large", "message too large for the spine (NATS max_payload)");
}

static void handle_event(const reply_ctx_t *r, Arqon__V1__Envelope *e, uint64_t received_ns) {
  arq_conn_t *c = r->c;
  const char *type = e->event->type ? e->event->type : "";
  if (arq_event_type_reserved(type)) {
    refuse(r, e, 400, "reserved_type", "this event type is reserved for the server");
    return;
  }
  if (!may_use_room(r, e))
    return;
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_ingress(subject, sizeof subject, c->id.tenant, e->room_id);
  char why[ARQ_SCHEMA_REASON];
  if (!arq_schemas_check(c->w, subject, e->event->data.data, e->event->data.len, why, sizeof why)) {
    arq_counter_inc(c->w->shield->m.schema_violations);
    ARQ_LOG(ARQ_LOG_WARN, "registry", "schema violation", {"error", why},
            {"tenant_id", c->id.tenant}, {"trace_id", e->trace_id}, {"subject", subject});
    refuse(r, e, 400, "schema_violation", why);
    return;
  }
  /* Acknowledged by the stream's confirmation (confirm.h), not here. */
  char reply[ARQ_CONFIRM_REPLY_CAP];
  uint64_t slot = arq_confirms_reserve(c->w->confirms, c, r->id, r->trace_id, e->room_id, r->text, reply);
  if (!slot) {
    reply_error(r, 503, "too many messages wait for the ingress stream to store them; retry later "
                        "(shield.max_unconfirmed_publishes)", e->room_id);
    return;
  }
  size_t n = pack(c, e);
  int published = publish_packed(c, subject, reply, e, n, false, r->verdict);
  if (published != ARQ_LINK_PUBLISHED)
    arq_confirms_cancel(c->w->confirms, slot);
  if (published == ARQ_LINK_TOO_LARGE) {
    too_large(r, e, subject, n);
    return;
  }
  if (published != ARQ_LINK_PUBLISHED) {
    spine_down(r, e->room_id, "publish");
    return;
  }
  arq_histogram_observe(c->w->shield->m.route_duration, (double)(arq_now_ns() - received_ns) / 1e9);
  mirror(c, subject, e, n, r->verdict);
}

/* A join or leave notice for the Brain (ADR 0004); mirrored like an event when a rule
 * covers sys.brain.<tenant>.<what>. `v`: the headers a policy added, or NULL. */
static int notify_brain(arq_conn_t *c, const char *what, Arqon__V1__Envelope *e,
                        const arq_verdict_t *v) {
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_brain(subject, sizeof subject, c->id.tenant, what);
  size_t n = pack(c, e);
  int rc = publish_packed(c, subject, NULL, e, n, false, v);
  if (rc == ARQ_LINK_PUBLISHED)
    mirror(c, subject, e, n, v);
  return rc;
}

/* A join or leave notice the Shield sends on its own (after a NATS outage, on close, after
 * a narrower refresh), stamped like a client's. */
static void notify_room(arq_conn_t *c, const char *what, const char *room) {
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Command cmd = ARQON__V1__COMMAND__INIT;
  char trace[33];
  cmd.type = (char *)what;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_CMD;
  e.cmd = &cmd;
  e.room_id = (char *)room;
  stamp(c, &e, trace);
  notify_brain(c, what, &e, NULL);
}

static void handle_join(const reply_ctx_t *r, Arqon__V1__Envelope *e) {
  arq_conn_t *c = r->c;
  if (!room_id_ok(r, e->room_id))
    return;
  if (c->id.rooms && !arq_identity_room_allowed(&c->id, e->room_id)) {
    refuse(r, e, 403, "permission_denied", "the token's rooms claim does not cover this room");
    return;
  }
  int64_t max_rooms = c->w->shield->cfg->shield.max_rooms_per_connection;
  if (!joined(c, e->room_id) && c->nrooms >= (size_t)max_rooms) {
    char why[128];
    snprintf(why, sizeof why, "too many rooms: at most %lld per connection "
                              "(shield.max_rooms_per_connection)", (long long)max_rooms);
    refuse(r, e, 429, "room_limit", why);
    return;
  }
  if (!arq_link_connected(c->w->shield->link)) {
    spine_down(r, e->room_id, "join: not connected");
    return;
  }
  if (arq_egress_join(c, e->room_id)) {
    spine_down(r, e->room_id, "join: room subscription");
    return;
  }
  /* Acknowledged only once the Brain's notice is out: otherwise not a member after all. */
  if (notify_brain(c, "join", e, r->verdict) != ARQ_LINK_PUBLISHED) {
    arq_egress_leave(c, e->room_id);
    spine_down(r, e->room_id, "join: notice");
    return;
  }
  ack(r, e->room_id);
}

static void handle_leave(const reply_ctx_t *r, Arqon__V1__Envelope *e) {
  arq_conn_t *c = r->c;
  if (!room_id_ok(r, e->room_id))
    return;
  if (!joined(c, e->room_id)) {
    reply_error(r, 404, "not a member of this room", e->room_id);
    return;
  }
  /* The notice first: if it cannot go out, the connection stays a member and is told so. */
  if (notify_brain(c, "leave", e, r->verdict) != ARQ_LINK_PUBLISHED) {
    spine_down(r, e->room_id, "leave: notice");
    return;
  }
  arq_egress_leave(c, e->room_id);
  ack(r, e->room_id);
}

/* presence/history: the same rule as publishing, checked here before the Brain is asked. */
static void handle_read(const reply_ctx_t *r, Arqon__V1__Envelope *e) {
  if (may_use_room(r, e))
    arq_session_request(r->c, e, r->text);
}

/* ---- token lifetime ---- */

static void on_token_expired(arq_loop_t *loop, arq_timer_t *t) {
  arq_conn_t *c = t->data;
  if (c->state != CONN_WS)
    return;
  arq_counter_inc(c->w->shield->m.tokens_expired);
  ARQ_LOG(ARQ_LOG_INFO, "shield", "token expired", {"conn", c->conn_id}, {"tenant_id", c->id.tenant},
          {"user", c->id.sub});
  arq_conn_close(c, 4001, "token expired");
}

/* The connection lives until its token's exp (with the configured leeway), unless a
 * refresh brings a later one. */
static void arm_expiry(arq_conn_t *c) {
  int64_t deadline_ms = (c->id.exp + c->w->shield->cfg->auth.leeway_s) * 1000 + 999;
  int64_t left = deadline_ms - arq_wall_ms();
  arq_timer_start(c->w->loop, &c->expiry_timer, left > 0 ? (uint64_t)left : 0);
}

/* After a refresh with a narrower rooms claim, the rooms it no longer covers are left. */
static void leave_uncovered_rooms(arq_conn_t *c) {
  for (size_t i = c->nrooms; i-- > 0;) {
    if (!c->id.rooms || arq_identity_room_allowed(&c->id, c->rooms[i]))
      continue;
    char *room = c->rooms[i];
    notify_room(c, "leave", room);
    arq_egress_leave(c, room);
  }
}

/* `refresh` (SPEC section 10): cmd.data {"token":"<JWT>"} for the same tenant and user. */
static void handle_refresh(const reply_ctx_t *r, Arqon__V1__Envelope *e) {
  arq_conn_t *c = r->c;
  const ProtobufCBinaryData *data = &e->cmd->data;
  if (data->len > MAX_REFRESH_BYTES) {
    reply_error(r, 413, "refresh data too large", NULL);
    return;
  }
  arq_json_limits_t limits = {MAX_REFRESH_BYTES, 4, 64};
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, &limits);
  const arq_json_value_t *root = arq_json_parse(&doc, (const char *)data->data, data->len, NULL);
  const arq_json_value_t *tv = root ? arq_json_object_get(root, "token", 5) : NULL;
  size_t len = 0;
  const char *token = tv && arq_json_type(tv) == ARQ_JSON_STRING ? arq_json_string(tv, &len) : NULL;
  char copy[MAX_REFRESH_BYTES];
  if (!token || !len || len >= sizeof copy || memchr(token, '\0', len)) {
    arq_json_doc_free(&doc);
    reply_error(r, 400, "refresh needs data {\"token\":\"<JWT>\"}", NULL);
    return;
  }
  memcpy(copy, token, len);
  copy[len] = '\0';
  arq_json_doc_free(&doc);
  arq_identity_t id;
  const char *why = NULL;
  arq_shield_t *s = c->w->shield;
  if (arq_auth_verify(s->auth, copy, (int64_t)time(NULL), &id, &why)) {
    arq_counter_inc(s->m.auth_failures);
    reply_error(r, 401, why, NULL);
    return;
  }
  if (strcmp(id.tenant, c->id.tenant) || strcmp(id.sub, c->id.sub)) {
    arq_identity_free(&id);
    refuse(r, e, 403, "permission_denied", "a refresh token must name the same tenant_id and sub");
    return;
  }
  arq_identity_free(&c->id);
  c->id = id;
  leave_uncovered_rooms(c);
  arm_expiry(c);
  ack(r, NULL);
}

static void handle_command(const reply_ctx_t *r, Arqon__V1__Envelope *e) {
  const char *type = e->cmd->type ? e->cmd->type : "";
  if (!strcmp(type, "refresh"))
    handle_refresh(r, e);
  else if (!strcmp(type, "join"))
    handle_join(r, e);
  else if (!strcmp(type, "leave"))
    handle_leave(r, e);
  else if (!strcmp(type, "ping"))
    send_event(r, *r->id ? "ack" : "pong", NULL, NULL);
  else if (!strcmp(type, "presence") || !strcmp(type, "history"))
    handle_read(r, e);
  else
    reply_error(r, 400, "unknown command type", e->room_id);
}

static void add_header(arq_buf_t *b, const char *name, const char *value) {
  arq_buf_append(b, name, strlen(name) + 1);
  arq_buf_append(b, value, strlen(value) + 1);
}

/* Removed, not refused: browsers and proxies add such headers without the user's say;
 * counted in shield_reserved_headers_stripped_total. */
static void strip_reserved_headers(arq_conn_t *c, Arqon__V1__Envelope *e) {
  size_t kept = 0;
  for (size_t i = 0; i < e->n_headers; i++) {
    const char *key = e->headers[i]->key;
    if (key && arq_header_reserved(key, strlen(key))) {
      arq_counter_inc(c->w->shield->m.reserved_headers);
      continue;
    }
    e->headers[kept++] = e->headers[i];
  }
  e->n_headers = kept;
}

/* The message hooks: what the message carries, where it would go, and its data. The
 * client's headers come after the stamped ones, which a lookup finds first. */
static bool policy_allows(arq_conn_t *c, const Arqon__V1__Envelope *e, arq_verdict_t *v,
                          const reply_ctx_t *r) {
  arq_buf_t *h = &c->w->policy_headers;
  arq_buf_reset(h);
  add_header(h, ARQ_HEADER_TENANT, c->id.tenant);
  add_header(h, ARQ_HEADER_SENDER, c->id.sub);
  add_header(h, ARQ_HEADER_CONN, c->conn_id);
  add_header(h, ARQ_HEADER_TRACE_ID, e->trace_id);
  if (e->room_id && *e->room_id)
    add_header(h, ARQ_HEADER_ROOM, e->room_id);
  for (size_t i = 0; i < e->n_headers; i++)
    if (e->headers[i]->key && e->headers[i]->value)
      add_header(h, e->headers[i]->key, e->headers[i]->value);
  char subject[ARQ_SUBJECT_CAP];
  message_subject(c, e, subject, sizeof subject);
  const ProtobufCBinaryData *data = NULL;
  if (e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_EVENT)
    data = &e->event->data;
  else if (e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD)
    data = &e->cmd->data;
  arq_policy_headers_t headers = {h->data, h->len};
  arq_canary_ctx_t canary = {e->trace_id, c};
  arq_overseer_check_message(c->w, c->id.tenant, c->id.claims_json, headers, subject,
                             data ? data->data : NULL, data ? data->len : 0, &canary, v);
  if (!v->denied)
    return true;
  refuse(r, e, v->code, "policy_denied", v->reason);
  return false;
}

static Arqon__V1__Envelope *decode(arq_conn_t *c, bool binary, const uint8_t *data, size_t len,
                                   char *err, size_t errcap) {
  arq_envelope_arena_t *arena = &c->w->arena;
  if (binary) /* bounded: a client's frame may not make protobuf-c allocate far beyond its size */
    return arq_envelope_unpack(data, len, arena, err, errcap);
  /* The decoder resets the arena first, so the message itself lives in the worker. */
  Arqon__V1__Envelope *e = &c->w->text_envelope;
  if (arq_envelope_from_json((const char *)data, len, e, arena, err, errcap))
    return NULL;
  return e;
}

void arq_session_message(arq_conn_t *c, bool binary, const uint8_t *data, size_t len,
                         uint64_t received_ns) {
  arq_shield_t *s = c->w->shield;
  arq_counter_inc(s->m.messages_in);
  c->prefers_text = !binary;
  char err[256];
  char trace[33];
  reply_ctx_t r = {c, !binary, "", "", NULL};
  arq_verdict_t verdict;
  Arqon__V1__Envelope *e = decode(c, binary, data, len, err, sizeof err);
  if (!e) {
    reply_error(&r, 400, err, NULL);
    goto done;
  }
  r.id = e->id ? e->id : "";
  strip_reserved_headers(c, e);
  stamp(c, e, trace);
  r.trace_id = trace;
  if (!take_token(c)) {
    arq_counter_inc(s->m.rate_limited);
    reply_error(&r, 429, "rate limited", e->room_id);
    if (++c->limit_strikes >= MAX_STRIKES) {
      arq_audit(c, "closed_for_abuse", 1008, "rate limit exceeded", NULL, r.trace_id);
      arq_conn_close(c, 1008, "rate limit exceeded");
    }
    goto done;
  }
  c->limit_strikes = 0;
  if (c->w->policies && !policy_allows(c, e, &verdict, &r))
    goto done;
  r.verdict = c->w->policies ? &verdict : NULL;
  switch (e->payload_case) {
  case ARQON__V1__ENVELOPE__PAYLOAD_EVENT:
    handle_event(&r, e, received_ns);
    break;
  case ARQON__V1__ENVELOPE__PAYLOAD_CMD:
    handle_command(&r, e);
    break;
  case ARQON__V1__ENVELOPE__PAYLOAD_SIGNAL:
    reply_error(&r, 400, "clients may not send system signals", e->room_id);
    break;
  default:
    reply_error(&r, 400, "envelope has neither cmd nor event", e->room_id);
    break;
  }
done:
  arq_envelope_arena_reset(&c->w->arena);
}

/* ---- after a NATS outage ---- */

typedef struct {
  arq_task_t task;
  arq_worker_t *w;
} rejoin_t;

static void rejoin_worker(arq_loop_t *loop, arq_task_t *task) {
  rejoin_t *rj = task->data;
  size_t notices = 0;
  for (arq_conn_t *c = rj->w->all; c; c = c->next)
    if (c->state == CONN_WS)
      for (size_t i = 0; i < c->nrooms; i++, notices++)
        notify_room(c, "join", c->rooms[i]);
  if (notices) {
    char n[24];
    snprintf(n, sizeof n, "%zu", notices);
    ARQ_LOG(ARQ_LOG_INFO, "shield", "joins announced again after reconnecting", {"count", n});
  }
  free(rj);
}

void arq_session_rejoin_all(arq_shield_t *s) {
  for (size_t i = 0; i < s->nworkers; i++) {
    rejoin_t *rj = calloc(1, sizeof *rj);
    if (!rj)
      arq_oom("rejoin");
    rj->task.cb = rejoin_worker;
    rj->task.data = rj;
    rj->w = &s->workers[i];
    arq_loop_post(s->workers[i].loop, &rj->task);
  }
}

/* ---- open and close ---- */

void arq_session_open(arq_conn_t *c) {
  arq_worker_t *w = c->w;
  arq_shield_t *s = w->shield;
  arq_conn_id_format(c->conn_id, sizeof c->conn_id, s->instance, w->index, ++w->next_conn);
  c->tokens = (double)s->cfg->shield.conn_burst;
  c->tokens_at_ms = arq_loop_now_ms(w->loop);
  arq_timer_init(&c->expiry_timer, on_token_expired, c);
  arm_expiry(c);
  arq_egress_register(c);
  arq_gauge_add(s->m.connections, 1);

  arq_buf_t data;
  arq_buf_init(&data);
  arq_welcome_t welcome = {c->conn_id, s->node_id, c->id.tenant, c->id.sub, ARQ_VERSION,
                           s->welcome_limits};
  arq_payload_welcome(&data, &welcome);
  arq_buf_putc(&data, '\0');
  char trace[33];
  arq_trace_id_new(trace);
  reply_ctx_t r = {c, c->prefers_text, "", trace, NULL};
  send_event(&r, "welcome", data.data, NULL);
  arq_buf_free(&data);
  ARQ_LOG(ARQ_LOG_INFO, "shield", "connected", {"conn", c->conn_id}, {"tenant_id", c->id.tenant},
          {"user", c->id.sub}, {"peer", c->peer});
}

void arq_session_closed(arq_conn_t *c) {
  arq_shield_t *s = c->w->shield;
  if (arq_link_connected(s->link)) {
    for (size_t i = 0; i < c->nrooms; i++)
      notify_room(c, "leave", c->rooms[i]);
  }
  arq_egress_unregister(c);
  arq_tenant_release(s, c->tenant);
  c->tenant = NULL;
  arq_gauge_add(s->m.connections, -1);
  ARQ_LOG(ARQ_LOG_INFO, "shield", "disconnected", {"conn", c->conn_id}, {"tenant_id", c->id.tenant});
}
