/*
 * requests.c — presence and history requests (`sys.brain.<tenant>.presence|history`), sent
 * by a Shield on behalf of a client, answered with one envelope the Shield forwards.
 *
 * DESIGN
 *   Any Brain may answer (a queue group shares the requests): both read shared state.
 *   The headers the Shield stamped must agree with the envelope and the subject, as for
 *   room messages. Reading a room needs membership: the requesting connection must be in
 *   the room's member hash, so a client cannot read presence or history of a room of its
 *   tenant it never joined. Failures are answered with an `error` event ({"code","reason"},
 *   arq_payload_error), never left to the Shield's timeout.
 *
 *   What a refusal costs. One pipelined round trip asks Redis both questions: is the
 *   connection a member, and does the room exist at all (a member hash or a seq counter).
 *   The Shield acknowledges a join as soon as it has published the notice, and the notice
 *   travels through a stream while the request is a core message, so a request may
 *   overtake its own join. That is the only reason to wait, and the wait is bounded:
 *     - a room the Brain has nothing on is checked once more UNKNOWN_ROOM_WAIT_MS later
 *       (the requester may be its first member, its join a few ms behind), then refused
 *       403: a client naming rooms at random costs two round trips per request;
 *     - a room that exists is checked again after 20, 40, 80... ms until
 *       MEMBERSHIP_WAIT_MS has passed (at most 7 round trips, not one every 20 ms);
 *     - either is answered at once when this Brain applies that very join.
 *   At most brain.max_pending_requests requests wait; beyond, 503 at once. A room that does
 *   not exist is refused like one that exists (not answered "empty"), so a non-member
 *   cannot tell which rooms exist.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/rules.h"
#include "common/buf.h"
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "common/json.h"
#include "common/log.h"
#include "protocol/payloads.h"
#include "protocol/subjects.h"

#define MEMBERSHIP_WAIT_MS 1000
#define MEMBERSHIP_FIRST_RETRY_MS 20 /* doubled after each check */
#define UNKNOWN_ROOM_WAIT_MS 50      /* one more check, then 403 */

void arq_brain_reply(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                     const char *trace_id, const char *event_type, const char *data, size_t len) {
  const char *reply = natsMsg_GetReply(msg);
  if (!reply || !*reply)
    return;
  char trace[ARQ_TRACE_ID_LEN + 1]; /* the envelope names the trace the headers carry */
  arq_brain_trace_id(msg, trace_id, trace);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  ev.type = (char *)event_type;
  ev.data.data = (uint8_t *)data;
  ev.data.len = len;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  e.tenant_id = (char *)tenant;
  e.room_id = (char *)room;
  e.trace_id = trace;
  e.timestamp = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  arq_buf_t packed;
  arq_buf_init(&packed);
  arq_envelope_pack(&e, &packed);
  const arq_brain_headers_t own = {.trace_id = trace, .tenant = tenant};
  arq_brain_publish(b, reply, packed.data, packed.len, msg, &own);
  arq_buf_free(&packed);
}

void arq_brain_reply_error(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                          const char *trace, int code, const char *reason) {
  arq_buf_t out;
  arq_buf_init(&out);
  arq_payload_error(&out, code, reason);
  arq_brain_reply(b, msg, tenant, room, trace, "error", out.data, out.len);
  arq_buf_free(&out);
}

typedef enum { STORE_DOWN = -1, ROOM_UNKNOWN, NOT_MEMBER, MEMBER } membership_t;

/* One round trip: HEXISTS on the member hash and EXISTS of the room's keys, pipelined. */
static membership_t membership(arq_brain_t *b, const char *tenant, const char *room,
                               const char *conn) {
  if (!arq_store_append(&b->store, "HEXISTS arq:{%s}:room:%s:members %s", tenant, room, conn) ||
      !arq_store_append(&b->store, "EXISTS arq:{%s}:room:%s:members arq:{%s}:room:%s:seq", tenant,
                        room, tenant, room))
    return STORE_DOWN;
  /* Both replies are read whatever the first says, so none is left on the connection. */
  redisReply *member = arq_store_reply(&b->store), *exists = arq_store_reply(&b->store);
  membership_t m = STORE_DOWN;
  if (member && exists) {
    if (member->type == REDIS_REPLY_INTEGER && member->integer == 1)
      m = MEMBER;
    else
      m = exists->type == REDIS_REPLY_INTEGER && exists->integer > 0 ? NOT_MEMBER : ROOM_UNKNOWN;
  }
  if (member)
    freeReplyObject(member);
  if (exists)
    freeReplyObject(exists);
  return m;
}

/* A request whose connection is not (yet) a member of a room that exists. */
typedef struct deferred {
  struct deferred *next;
  natsMsg *msg;
  int64_t deadline_ms, next_ms; /* of the wait for the join */
  int64_t answer_by_ms;          /* when its Shield stops waiting (request_timeout_ms) */
  int delay_ms, wait_ms;
  char tenant[ARQ_ID_MAX_LEN + 1], room[ARQ_ID_MAX_LEN + 1], conn[ARQ_ID_MAX_LEN + 1];
} deferred_t;

/* Answers one request; false when it must be kept (not a member yet): then `keep` names
 * the tenant, room and connection it waits for. `fresh`: not kept yet (so bounded). */
static bool answer(arq_brain_t *b, natsMsg *msg, int64_t answer_by_ms, bool last_try, bool fresh,
                   deferred_t *keep) {
  const char *subject = natsMsg_GetSubject(msg);
  char tenant[ARQ_ID_MAX_LEN + 1], command[ARQ_ID_MAX_LEN + 1];
  if (!arq_subject_parse_brain(subject, tenant, command))
    return true;
  bool done = true;
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                       (const uint8_t *)natsMsg_GetData(msg));
  const char *why = arq_brain_check_message(tenant, msg, e);
  const char *trace = e && e->trace_id ? e->trace_id : "";
  const char *room = e && e->room_id ? e->room_id : "";
  const char *conn = e && e->conn_id ? e->conn_id : "";
  if (!why && arq_monotonic_ms() >= answer_by_ms) {
    /* Its Shield answered the client 503 already: reading for it would only make the
     * requests behind it late too. */
    arq_counter_inc(b->m.requests_refused);
    arq_brain_reply_error(b, msg, tenant, room, trace, 503, "the presence service is busy; try again");
  } else if (why) {
    arq_counter_inc(b->m.dropped);
    arq_brain_audit(b, tenant, "refuse", why, subject, msg);
    arq_brain_reply_error(b, msg, tenant, room, trace, 400, why);
  } else if (!strcmp(command, "rooms") || !strcmp(command, "info")) {
    const char *origin = arq_brain_header(msg, ARQ_HEADER_ORIGIN);
    if (!origin || strcmp(origin, "api"))
      arq_brain_reply_error(b, msg, tenant, room, trace, 403, "for the server API only");
    else if (!strcmp(command, "rooms"))
      arq_directory_rooms(b, msg, tenant, trace);
    else
      arq_directory_info(b, msg, tenant, trace);
  } else if (!arq_id_valid_str(room)) {
    arq_brain_reply_error(b, msg, tenant, room, trace, 400, "room_id is required");
  } else if (strcmp(command, "presence") && strcmp(command, "history")) {
    arq_brain_reply_error(b, msg, tenant, room, trace, 400, "unknown command");
  } else {
    /* The server API (x-arqon-origin: api, which only a Shield's own code sets) reads any
     * room of its tenant, as a backend would. */
    const char *origin = arq_brain_header(msg, ARQ_HEADER_ORIGIN);
    membership_t m = origin && !strcmp(origin, "api") ? MEMBER : membership(b, tenant, room, conn);
    bool may_wait = (m == NOT_MEMBER || m == ROOM_UNKNOWN) && !last_try && arq_id_valid_str(conn);
    if (m == STORE_DOWN) {
      arq_brain_reply_error(b, msg, tenant, room, trace, 503, "presence store unavailable");
    } else if (may_wait && fresh && b->deferred_len >= (size_t)b->cfg->brain.max_pending_requests) {
      arq_counter_inc(b->m.requests_refused);
      arq_brain_reply_error(b, msg, tenant, room, trace, 503, "too many requests wait for a join; try again");
    } else if (may_wait) {
      done = false;
      keep->wait_ms = m == ROOM_UNKNOWN ? UNKNOWN_ROOM_WAIT_MS : MEMBERSHIP_WAIT_MS;
      snprintf(keep->tenant, sizeof keep->tenant, "%s", tenant);
      snprintf(keep->room, sizeof keep->room, "%s", room);
      snprintf(keep->conn, sizeof keep->conn, "%s", conn);
    } else if (m != MEMBER) {
      arq_brain_reply_error(b, msg, tenant, room, trace, 403, "join the room first");
    } else if (!strcmp(command, "presence")) {
      arq_presence_state(b, msg, tenant, room, trace);
    } else {
      arq_history_request(b, msg, tenant, room, trace,
                          e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD ? e->cmd->data.data : NULL,
                          e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD ? e->cmd->data.len : 0,
                          answer_by_ms);
    }
  }
  if (e)
    arqon__v1__envelope__free_unpacked(e, NULL);
  return done;
}

static void note_due(arq_brain_t *b, int64_t at_ms) {
  if (!b->deferred || at_ms < b->deferred_retry_ms)
    b->deferred_retry_ms = at_ms;
}

void arq_brain_request(arq_brain_t *b, natsMsg **msgp, int64_t received_ms) {
  arq_counter_inc(b->m.requests);
  deferred_t keep;
  int64_t answer_by = received_ms + b->cfg->shield.request_timeout_ms; /* a Shield's wait */
  if (answer(b, *msgp, answer_by, false, true, &keep))
    return;
  deferred_t *d = malloc(sizeof *d);
  if (!d)
    arq_oom("request");
  *d = keep;
  d->msg = *msgp;
  d->answer_by_ms = answer_by;
  *msgp = NULL; /* ownership moves to the deferred list */
  int64_t now = arq_monotonic_ms();
  d->deadline_ms = now + d->wait_ms;
  d->delay_ms = d->wait_ms == UNKNOWN_ROOM_WAIT_MS ? d->wait_ms : MEMBERSHIP_FIRST_RETRY_MS;
  d->next_ms = now + d->delay_ms;
  note_due(b, d->next_ms);
  d->next = b->deferred;
  b->deferred = d;
  b->deferred_len++;
}

void arq_brain_requests_joined(arq_brain_t *b, const char *tenant, const char *room,
                               const char *conn) {
  for (deferred_t *d = b->deferred; d; d = d->next)
    if (!strcmp(d->conn, conn) && !strcmp(d->room, room) && !strcmp(d->tenant, tenant)) {
      d->next_ms = 0;
      b->deferred_retry_ms = 0;
    }
}

int arq_brain_requests_wait_ms(const arq_brain_t *b, int max_ms) {
  if (!b->deferred)
    return max_ms;
  int64_t left = b->deferred_retry_ms - arq_monotonic_ms();
  return left <= 0 ? 0 : left < max_ms ? (int)left : max_ms;
}

void arq_brain_requests_retry(arq_brain_t *b, bool flush) {
  int64_t now = arq_monotonic_ms();
  if (!b->deferred || (!flush && now < b->deferred_retry_ms))
    return;
  int64_t due = INT64_MAX;
  deferred_t **pp = (deferred_t **)&b->deferred;
  while (*pp) {
    deferred_t *d = *pp;
    if (!flush && now < d->next_ms) {
      due = d->next_ms < due ? d->next_ms : due;
      pp = &d->next;
      continue;
    }
    deferred_t keep;
    if (answer(b, d->msg, d->answer_by_ms, flush || now >= d->deadline_ms, false, &keep)) {
      *pp = d->next;
      natsMsg_Destroy(d->msg);
      free(d);
      b->deferred_len--;
    } else {
      d->delay_ms *= 2;
      d->next_ms = now + d->delay_ms < d->deadline_ms ? now + d->delay_ms : d->deadline_ms;
      due = d->next_ms < due ? d->next_ms : due;
      pp = &d->next;
    }
  }
  b->deferred_retry_ms = due;
}
