/*
 * requests.c — presence and history requests (`sys.brain.<tenant>.presence|history`), sent
 * by a Shield on behalf of a client, answered with one envelope the Shield forwards.
 *
 * DESIGN
 *   Any Brain may answer (a queue group shares the requests): both read shared state.
 *   The headers the Shield stamped must agree with the envelope and the subject, as for
 *   room messages. Reading a room needs membership: the requesting connection must be in
 *   the room's member hash, so a client cannot read presence or history of a room of its
 *   tenant it never joined. The Shield acknowledges a join as soon as it has published the
 *   notice, and the notice travels through the ingress stream while the request is a core
 *   message: a request may overtake its own join. A request from a non-member is therefore
 *   kept and checked again every MEMBERSHIP_RETRY_MS for MEMBERSHIP_WAIT_MS before it is
 *   refused. Failures are answered with an `error` event ({"code","reason"}), never left to
 *   the Shield's timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/rules.h"
#include "common/buf.h"
#include "common/log.h"

#define MEMBERSHIP_WAIT_MS 1000
#define MEMBERSHIP_RETRY_MS 20

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
  size_t n = arqon__v1__envelope__get_packed_size(&e);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf)
    arq_oom("reply");
  arqon__v1__envelope__pack(&e, buf);
  const arq_brain_headers_t own = {.trace_id = trace, .tenant = tenant};
  arq_brain_publish(b, reply, buf, n, msg, &own);
  free(buf);
}

static void reply_error(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                        const char *trace, int code, const char *reason) {
  arq_buf_t out;
  arq_buf_init(&out);
  arq_buf_printf(&out, "{\"code\":%d,\"reason\":\"", code);
  arq_buf_json_escape(&out, reason, strlen(reason));
  arq_buf_puts(&out, "\"}");
  arq_brain_reply(b, msg, tenant, room, trace, "error", out.data, out.len);
  arq_buf_free(&out);
}

/* 1 member, 0 not, -1 store unavailable. */
static int is_member(arq_brain_t *b, const char *tenant, const char *room, const char *conn) {
  char key[200];
  snprintf(key, sizeof key, "arq:{%s}:room:%s:members", tenant, room);
  redisReply *r = arq_store_command(&b->store, "HEXISTS %s %s", key, conn);
  if (!r)
    return -1;
  int yes = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  freeReplyObject(r);
  return yes;
}

/* A request whose connection is not (yet) a member. */
typedef struct deferred {
  struct deferred *next;
  natsMsg *msg;
  int64_t deadline_ms;
} deferred_t;

/* Answers one request; false when it was kept to be tried again (not a member yet). */
static bool answer(arq_brain_t *b, natsMsg *msg, bool last_try) {
  const char *subject = natsMsg_GetSubject(msg);
  char tenant[ARQ_ID_MAX_LEN + 1], command[ARQ_ID_MAX_LEN + 1];
  if (arq_brain_split_command(subject, tenant, command))
    return true;
  bool done = true;
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                       (const uint8_t *)natsMsg_GetData(msg));
  const char *why = arq_brain_check_message(tenant, msg, e);
  const char *trace = e && e->trace_id ? e->trace_id : "";
  const char *room = e && e->room_id ? e->room_id : "";
  if (why) {
    arq_counter_inc(b->m.dropped);
    arq_brain_audit(b, tenant, "refuse", why, subject, msg);
    reply_error(b, msg, tenant, room, trace, 400, why);
  } else if (!arq_id_valid_str(room)) {
    reply_error(b, msg, tenant, room, trace, 400, "room_id is required");
  } else {
    int member = is_member(b, tenant, room, e->conn_id ? e->conn_id : "");
    if (member < 0)
      reply_error(b, msg, tenant, room, trace, 503, "presence store unavailable");
    else if (!member && !last_try)
      done = false;
    else if (!member)
      reply_error(b, msg, tenant, room, trace, 403, "join the room first");
    else if (!strcmp(command, "presence"))
      arq_presence_state(b, msg, tenant, room, trace);
    else if (!strcmp(command, "history"))
      arq_history_request(b, msg, tenant, room, trace,
                          e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD ? e->cmd->data.data : NULL,
                          e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD ? e->cmd->data.len : 0);
    else
      reply_error(b, msg, tenant, room, trace, 400, "unknown command");
  }
  if (e)
    arqon__v1__envelope__free_unpacked(e, NULL);
  return done;
}

void arq_brain_request(arq_brain_t *b, natsMsg **msgp) {
  arq_counter_inc(b->m.requests);
  if (answer(b, *msgp, false))
    return;
  deferred_t *d = calloc(1, sizeof *d);
  if (!d)
    arq_oom("request");
  d->msg = *msgp;
  *msgp = NULL; /* ownership moves to the deferred list */
  d->deadline_ms = arq_brain_now_ms() + MEMBERSHIP_WAIT_MS;
  d->next = b->deferred;
  b->deferred = d;
}

void arq_brain_requests_retry(arq_brain_t *b, bool flush) {
  int64_t now = arq_brain_now_ms();
  if (!b->deferred || (!flush && now < b->deferred_retry_ms))
    return;
  b->deferred_retry_ms = now + MEMBERSHIP_RETRY_MS;
  deferred_t **pp = (deferred_t **)&b->deferred;
  while (*pp) {
    deferred_t *d = *pp;
    if (answer(b, d->msg, flush || now >= d->deadline_ms)) {
      *pp = d->next;
      natsMsg_Destroy(d->msg);
      free(d);
    } else {
      pp = &d->next;
    }
  }
}
