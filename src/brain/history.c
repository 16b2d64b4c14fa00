/*
 * history.c — `history` requests: the room's sequenced messages with seq > since_seq, in
 * order, from the JetStream stream ARQON_ROOMS (subject out.t.<tenant>.r.<room>).
 *
 * DESIGN
 *   The stream keeps at most history_max_per_room messages per room, so a request reads
 *   the room's subject through a short-lived ordered consumer from its first message and
 *   keeps those past since_seq; presence events share the subject but carry no seq and
 *   are skipped. The room's counter in Redis says where the room stands, so a client that
 *   is up to date is answered without touching the stream, and reading stops at the last
 *   assigned seq or when the consumer reports nothing pending.
 *
 *   Reply: event `history`, data {"messages":[<envelope in proto3 JSON>...],
 *   "next_seq":N,"latest_seq":L} where next_seq is the since_seq that continues after this
 *   page (the last seq returned, or since_seq when none) and latest_seq the room's last
 *   assigned seq. A page ends early when the next message would not fit in one NATS
 *   message; a single message too large for any page is passed over and counted in
 *   "omitted" (the client can still see it was there: seqs are contiguous).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/rules.h"
#include "common/buf.h"
#include "common/log.h"
#include "shield/envelope_json.h"

#define READ_TIMEOUT_MS 500

static void reply_error(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                        const char *trace, int code, const char *reason) {
  char data[256];
  int n = snprintf(data, sizeof data, "{\"code\":%d,\"reason\":\"%s\"}", code, reason);
  arq_brain_reply(b, msg, tenant, room, trace, "error", data, (size_t)n);
}

static uint64_t latest_seq(arq_brain_t *b, const char *tenant, const char *room, bool *ok) {
  redisReply *r = arq_store_command(&b->store, "GET arq:{%s}:room:%s:seq", tenant, room);
  *ok = r != NULL;
  uint64_t v = r && r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
  if (r)
    freeReplyObject(r);
  return v;
}

void arq_history_request(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                         const char *trace, const uint8_t *args, size_t args_len) {
  arq_brain_history_args_t a;
  char err[160];
  if (arq_brain_history_args(args, args_len, &a, err, sizeof err)) {
    reply_error(b, msg, tenant, room, trace, 400, err);
    return;
  }
  bool ok;
  uint64_t latest = latest_seq(b, tenant, room, &ok);
  if (!ok) {
    reply_error(b, msg, tenant, room, trace, 503, "room store unavailable");
    return;
  }
  arq_buf_t out;
  arq_buf_init(&out);
  arq_buf_puts(&out, "{\"messages\":[");
  uint64_t last = a.since_seq;
  uint32_t count = 0, omitted = 0;
  /* Room for the messages in the reply: the server's payload limit minus the envelope and
   * the JSON around the array. */
  int64_t max_payload = natsConnection_GetMaxPayload(b->nc);
  size_t room_left = max_payload > 8192 ? (size_t)max_payload - 4096 : 4096;
  if (latest > a.since_seq) {
    char subject[160];
    snprintf(subject, sizeof subject, "out.t.%s.r.%s", tenant, room);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = ARQ_BRAIN_STREAM_ROOMS;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_SubscribeSync(&sub, b->js, subject, NULL, &so, &jerr);
    if (st != NATS_OK) {
      arq_buf_free(&out);
      ARQ_LOG(ARQ_LOG_WARN, "brain", "history: cannot read the stream", {"error", natsStatus_GetText(st)},
              {"tenant_id", tenant}, {"room", room}, {"trace_id", trace});
      reply_error(b, msg, tenant, room, trace, 503, "history unavailable");
      return;
    }
    while (count < a.limit) {
      natsMsg *m = NULL;
      if (natsSubscription_NextMsg(&m, sub, READ_TIMEOUT_MS) != NATS_OK)
        break;
      uint64_t pending = 0;
      jsMsgMetaData *meta = NULL;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
      }
      Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(m),
                                                           (const uint8_t *)natsMsg_GetData(m));
      natsMsg_Destroy(m);
      bool done = pending == 0;
      if (e) {
        if (e->seq > last) { /* also skips a duplicate left by a takeover */
          size_t mark = out.len;
          if (count)
            arq_buf_putc(&out, ',');
          arq_envelope_to_json(e, &out);
          if (out.len > room_left) {
            /* The reply must fit in one NATS message: stop here, next_seq says where to
             * go on. A single message too large for any page is passed over (counted). */
            out.len = mark;
            out.data[mark] = '\0';
            if (count) {
              arqon__v1__envelope__free_unpacked(e, NULL);
              break;
            }
            omitted++;
          } else {
            count++;
          }
          last = e->seq;
        }
        done = done || e->seq >= latest;
        arqon__v1__envelope__free_unpacked(e, NULL);
      }
      if (done)
        break;
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  arq_buf_printf(&out, "],\"next_seq\":%llu,\"latest_seq\":%llu", (unsigned long long)last,
                 (unsigned long long)latest);
  if (omitted)
    arq_buf_printf(&out, ",\"omitted\":%u", omitted);
  arq_buf_putc(&out, '}');
  arq_brain_reply(b, msg, tenant, room, trace, "history", out.data, out.len);
  ARQ_LOG(ARQ_LOG_DEBUG, "brain", "history served", {"tenant_id", tenant}, {"room", room},
          {"trace_id", trace});
  arq_buf_free(&out);
}
