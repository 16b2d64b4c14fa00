/*
 * sequencer.c — per-room order: room events from the ingress stream get the room's next
 * seq and go out on out.t.<tenant>.r.<room>.
 *
 * DESIGN
 *   Each owned partition has an ordered consumer on ARQON_INGRESS starting after the
 *   partition's checkpoint; messages of other partitions are passed over (they only move
 *   the checkpoint). Per message, one Lua script (below) does in Redis, atomically:
 *     - fencing: the caller's lease token must not be older than the newest one seen for
 *       the partition (a Brain that lost its lease without noticing is refused);
 *     - dedup: arq:{T}:room:{R}:in holds the ingress sequence of the room's last assigned
 *       message. An older message was published already (the next one is only assigned
 *       after the broker acknowledged the previous publish), so it is skipped; the same
 *       one is skipped too when arq:{T}:room:{R}:pub (written after the acknowledgement)
 *       says it went out, and otherwise published again with the seq it has;
 *     - otherwise INCR arq:{T}:room:{R}:seq.
 *   The publish goes through JetStream with Nats-Msg-Id "<T>.<R>.<seq>" and waits for
 *   the acknowledgement, so a republish is not stored twice in the history. Anything that
 *   fails (Redis, NATS, a full queue) resets the partition: its consumer restarts from the
 *   checkpoint and the script makes the replay idempotent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/rules.h"
#include "brain/scripts.h"
#include "common/log.h"

typedef struct {
  arq_brain_t *b;
  uint32_t p;
  uint64_t generation;
} consumer_t;

static void on_ingress(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  consumer_t *c = closure;
  arq_job_t *j = calloc(1, sizeof *j);
  if (!j)
    arq_oom("job");
  j->kind = JOB_ROOM_MSG;
  j->msg = msg;
  j->partition = c->p;
  j->generation = c->generation;
  if (!arq_queue_push(&c->b->queue, j)) {
    /* Dropping would leave a gap: replay the partition from its checkpoint instead. */
    atomic_store(&c->b->part[c->p].reset, true);
    arq_counter_inc(c->b->m.queue_overflows);
    arq_job_free(j);
  }
}

static void on_consumer_done(void *closure) { free(closure); }

int arq_sequencer_start(arq_brain_t *b, uint32_t p) {
  arq_partition_t *pt = &b->part[p];
  pt->generation++;
  atomic_store(&pt->reset, false);
  consumer_t *c = calloc(1, sizeof *c);
  if (!c)
    arq_oom("consumer");
  c->b = b;
  c->p = p;
  c->generation = pt->generation;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = ARQ_BRAIN_STREAM_INGRESS;
  so.Ordered = true;
  if (pt->ckpt) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = pt->ckpt + 1;
  } else {
    so.Config.DeliverPolicy = js_DeliverAll;
  }
  jsErrCode jerr = 0;
  /* ">" = every subject of the stream (room events and notices, in one order). */
  natsStatus st = js_Subscribe(&pt->sub, b->js, ">", on_ingress, c, NULL, &so, &jerr);
  if (st == NATS_OK)
    st = natsSubscription_SetOnCompleteCB(pt->sub, on_consumer_done, c);
  if (st != NATS_OK) {
    char ps[16];
    snprintf(ps, sizeof ps, "%u", p);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "cannot start the partition's consumer; retrying",
            {"partition", ps}, {"error", natsStatus_GetText(st)});
    if (pt->sub) {
      /* Subscribed but no completion callback: c may still be in use by a delivery, so
       * it is left allocated (this path needs nats.c to fail an in-memory setter). */
      natsSubscription_Unsubscribe(pt->sub);
      natsSubscription_Destroy(pt->sub);
    } else {
      free(c);
    }
    pt->sub = NULL;
    atomic_store(&pt->reset, true);
    return -1;
  }
  return 0;
}

static void save_ckpt(arq_brain_t *b, uint32_t p) {
  arq_partition_t *pt = &b->part[p];
  if (pt->ckpt == pt->ckpt_saved)
    return;
  char key[64], val[24];
  snprintf(key, sizeof key, "arq:brain:part:%u:ckpt", p);
  snprintf(val, sizeof val, "%llu", (unsigned long long)pt->ckpt);
  redisReply *r = arq_store_command(b, "EVAL %s 1 %s %s", arq_brain_ckpt_script, key, val);
  if (r) {
    pt->ckpt_saved = pt->ckpt;
    freeReplyObject(r);
  }
}

void arq_sequencer_stop(arq_brain_t *b, uint32_t p) {
  arq_partition_t *pt = &b->part[p];
  pt->generation++; /* jobs already queued for the old consumer are dropped */
  if (pt->sub) {
    natsSubscription_Unsubscribe(pt->sub);
    natsSubscription_Destroy(pt->sub);
    pt->sub = NULL;
  }
  save_ckpt(b, p);
}

void arq_sequencer_tick(arq_brain_t *b) {
  for (uint32_t p = 0; p < b->partitions; p++) {
    arq_partition_t *pt = &b->part[p];
    if (!pt->owned)
      continue;
    if (atomic_load(&pt->reset)) {
      arq_sequencer_stop(b, p);
      arq_sequencer_start(b, p);
    }
    save_ckpt(b, p);
  }
}

static void lost_lease(arq_brain_t *b, uint32_t p) {
  char ps[16];
  snprintf(ps, sizeof ps, "%u", p);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "partition fenced: a newer owner exists", {"partition", ps});
  arq_sequencer_stop(b, p);
  b->part[p].owned = false;
  arq_gauge_set(b->m.partition_owned[p], 0);
  arq_counter_inc(b->m.ownership_changes);
}

/* Publishes the sequenced envelope and waits for the broker. 0 when stored. */
static int publish(arq_brain_t *b, const char *tenant, const char *room, uint64_t seq,
                   Arqon__V1__Envelope *e, natsMsg *from) {
  /* A message without a trace id (a backend's) gets the one its headers will carry. */
  char trace[ARQ_TRACE_ID_LEN + 1];
  arq_brain_trace_id(from, e->trace_id, trace);
  char *orig_trace = e->trace_id; /* owned by the unpacked message */
  if (!arq_trace_id_valid(e->trace_id))
    e->trace_id = trace;
  size_t n = arqon__v1__envelope__get_packed_size(e);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf)
    arq_oom("sequenced message");
  arqon__v1__envelope__pack(e, buf);
  char subject[160], msg_id[160];
  snprintf(subject, sizeof subject, "out.t.%s.r.%s", tenant, room);
  snprintf(msg_id, sizeof msg_id, "%s.%s.%llu", tenant, room, (unsigned long long)seq);
  natsMsg *out = NULL;
  natsStatus st = natsMsg_Create(&out, subject, NULL, (const char *)buf, (int)n);
  const arq_brain_headers_t own = {.trace_id = e->trace_id, .tenant = tenant, .sender = e->sender,
                                   .conn = e->conn_id};
  if (st == NATS_OK)
    st = arq_brain_set_headers(b, out, from, &own);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id;
  jsPubAck *ack = NULL;
  jsErrCode jerr = 0;
  if (st == NATS_OK)
    st = js_PublishMsg(&ack, b->js, out, &po, &jerr);
  jsPubAck_Destroy(ack);
  natsMsg_Destroy(out);
  free(buf);
  const char *sent_trace = e->trace_id;
  e->trace_id = orig_trace;
  if (st != NATS_OK) {
    arq_counter_inc(b->m.nats_errors);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "publish not acknowledged; the partition replays",
            {"subject", subject}, {"error", natsStatus_GetText(st)}, {"trace_id", sent_trace});
    return -1;
  }
  return 0;
}

void arq_sequencer_message(arq_brain_t *b, arq_job_t *job) {
  uint32_t p = job->partition;
  arq_partition_t *pt = &b->part[p];
  if (!pt->owned || job->generation != pt->generation || atomic_load(&pt->reset))
    return; /* from a consumer that was stopped; its replacement replays the message */
  natsMsg *msg = job->msg;
  jsMsgMetaData *meta = NULL;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
    return;
  uint64_t in_seq = meta->Sequence.Stream;
  arq_gauge_set(b->m.lag, (int64_t)meta->NumPending);
  jsMsgMetaData_Destroy(meta);

  const char *subject = natsMsg_GetSubject(msg);
  if (!strncmp(subject, "sys.brain.", 10)) {
    if (arq_presence_notice(b, msg, p, in_seq))
      atomic_store(&pt->reset, true); /* Redis unavailable: replay from the checkpoint */
    else
      pt->ckpt = in_seq;
    return;
  }
  char tenant[ARQ_ID_MAX_LEN + 1], room[ARQ_ID_MAX_LEN + 1];
  if (arq_brain_split_subject(subject, "in.t.", "r", tenant, room) ||
      arq_brain_partition(tenant, room, b->partitions) != p) {
    pt->ckpt = in_seq; /* not ours (or not a room): done as far as p is concerned */
    return;
  }
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                       (const uint8_t *)natsMsg_GetData(msg));
  const char *why = arq_brain_check_message(tenant, msg, e);
  if (!why && e->room_id && *e->room_id && strcmp(e->room_id, room))
    why = "envelope room_id differs from the subject's room";
  if (!why && e->payload_case != ARQON__V1__ENVELOPE__PAYLOAD_EVENT)
    why = "a room message must be an event";
  if (why) {
    arq_counter_inc(b->m.dropped);
    arq_brain_audit(b, tenant, "drop", why, subject, msg);
    pt->ckpt = in_seq;
    if (e)
      arqon__v1__envelope__free_unpacked(e, NULL);
    return;
  }

  char kseq[160], kin[160], kpub[160], kfence[64], sin[24], stok[24];
  snprintf(kseq, sizeof kseq, "arq:{%s}:room:%s:seq", tenant, room);
  snprintf(kin, sizeof kin, "arq:{%s}:room:%s:in", tenant, room);
  snprintf(kpub, sizeof kpub, "arq:{%s}:room:%s:pub", tenant, room);
  snprintf(kfence, sizeof kfence, "arq:brain:part:%u:fence", p);
  snprintf(sin, sizeof sin, "%llu", (unsigned long long)in_seq);
  snprintf(stok, sizeof stok, "%llu", (unsigned long long)pt->fence);
  redisReply *r = arq_store_command(b, "EVAL %s 4 %s %s %s %s %s %s", arq_brain_assign_script, kseq, kin,
                                    kfence, kpub, sin, stok);
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    if (r)
      freeReplyObject(r);
    atomic_store(&pt->reset, true);
    arqon__v1__envelope__free_unpacked(e, NULL);
    return;
  }
  long long code = r->element[0]->integer, seq = r->element[1]->integer;
  freeReplyObject(r);
  if (code < 0) {
    lost_lease(b, p);
  } else if (code == 2) {
    pt->ckpt = in_seq;
    arq_counter_inc(b->m.duplicates);
  } else {
    char *orig_room = e->room_id, *orig_id = e->id; /* owned by the unpacked message */
    e->seq = (uint64_t)seq;
    e->room_id = room; /* what the subject says; equal or empty before */
    /* The client's id correlates the Shield's ack; in a broadcast it would look like a
     * reply to whichever member used the same id. The sender matches its copy by trace_id. */
    e->id = NULL;
    if (publish(b, tenant, room, (uint64_t)seq, e, msg)) {
      atomic_store(&pt->reset, true);
    } else {
      /* Published for sure: a replay after a takeover skips it instead of sending it
       * again. With this record only the message in flight at a crash can be repeated;
       * without it, so could the last message of every room since the saved checkpoint. */
      redisReply *pr = arq_store_command(b, "SET %s %s", kpub, sin);
      if (pr)
        freeReplyObject(pr);
      pt->ckpt = in_seq;
      if (code == 1)
        arq_counter_inc(b->m.duplicates);
      else
        arq_counter_inc(b->m.sequenced);
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      double now_ms = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
      if (e->timestamp && now_ms >= (double)e->timestamp)
        arq_histogram_observe(b->m.sequence_duration, (now_ms - (double)e->timestamp) / 1000.0);
      ARQ_LOG(ARQ_LOG_TRACE, "brain", "sequenced", {"tenant_id", tenant}, {"room", room},
              {"trace_id", e->trace_id});
    }
    e->room_id = orig_room;
    e->id = orig_id;
  }
  arqon__v1__envelope__free_unpacked(e, NULL);
}
