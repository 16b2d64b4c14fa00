/*
 * notices.c — join and leave notices (sys.brain.<tenant>.join|leave), read from the
 *   stream ARQON_NOTICES by the control worker.
 *
 * DESIGN
 *   Notices are kept by a stream of their own (ADR 0004, ADR 0005), read by a consumer of
 *   their own, so a backlog of room events never delays a join, and presence requests
 *   waiting for their connection's join are answered at once during a data burst. Its
 *   checkpoints (`nckpt`, per partition) move as notices are applied; a replay after a
 *   failure skips what each room's `npin` says was applied (presence.c). The pull consumer
 *   holds at most NOTICE_RING notices and wakes the worker's queue when one arrives;
 *   each poll applies at most NOTICES_PER_POLL, so heartbeats and requests interleave.
 */
#include <stdlib.h>

#include "brain/brain.h"
#include "brain/reader.h"

#define NOTICE_RING 256
#define NOTICE_RING_BYTES (8u << 20)
#define NOTICES_PER_POLL 64
/* Creating the consumer waits at most this: the worker also answers requests and heartbeats,
 * and in a failover (the meta leader electing) such calls go unanswered. */
#define CONSUMER_WAIT_MS 1000
#define RETRY_FIRST_MS 250 /* after a failed (re)start; doubled up to RETRY_MAX_MS */
#define RETRY_MAX_MS 4000

struct arq_notices {
  arq_pull_t *pull;
  arq_reader_t rd;
  bool *owned;
  uint64_t epoch;
  /* After a failed (re)start, the next try waits (unless ownership changes again): each
   * try may block the worker for CONSUMER_WAIT_MS while JetStream does not answer. */
  uint64_t failed_epoch;
  int64_t retry_at_ms;
  int retry_ms;
};

static void wake(void *arg) {
  arq_brain_t *b = arg;
  arq_queue_wake(&b->queue);
}

static bool wants(arq_brain_t *b, uint32_t p, uint64_t in_seq) {
  return arq_reader_wants(&b->notices->rd, p, in_seq);
}

void arq_notices_init(arq_brain_t *b) {
  struct arq_notices *n = calloc(1, sizeof *n);
  if (!n)
    arq_oom("notices");
  n->owned = calloc(b->partitions, sizeof *n->owned);
  if (!n->owned)
    arq_oom("notices");
  char inbox[96];
  snprintf(inbox, sizeof inbox, "_INBOX.%s.notices", b->id);
  n->pull = arq_pull_new(b->nc, b->js, ARQ_STREAM_NOTICES, inbox, NOTICE_RING,
                         NOTICE_RING_BYTES, CONSUMER_WAIT_MS, wake, b);
  arq_reader_init(&n->rd, n->pull, b->partitions, "nckpt");
  n->epoch = b->own_epoch - 1;
  b->notices = n;
}

/* The worker is the only writer of ownership, so it reads it without own_lock. */
static bool follow_ownership(arq_brain_t *b, struct arq_notices *n) {
  if (!arq_reader_must_restart(&n->rd, atomic_load(&b->reconnects)) && n->epoch == b->own_epoch)
    return true;
  int64_t now = arq_monotonic_ms();
  if (n->retry_ms && n->failed_epoch == b->own_epoch && now < n->retry_at_ms)
    return false;
  n->epoch = b->own_epoch;
  for (uint32_t p = 0; p < b->partitions; p++)
    n->owned[p] = b->part[p].owned;
  if (arq_reader_sync(&n->rd, n->owned, &b->store)) {
    if (arq_pull_running(n->pull))
      arq_pull_stop(n->pull);
    n->epoch = b->own_epoch - 1; /* try again */
    n->failed_epoch = b->own_epoch;
    n->retry_ms = n->retry_ms ? (n->retry_ms * 2 < RETRY_MAX_MS ? n->retry_ms * 2 : RETRY_MAX_MS) : RETRY_FIRST_MS;
    n->retry_at_ms = now + n->retry_ms;
    return false;
  }
  n->retry_ms = 0;
  return true;
}

void arq_notices_poll(arq_brain_t *b) {
  struct arq_notices *n = b->notices;
  if (!follow_ownership(b, n))
    return;
  int i = 0;
  for (; i < NOTICES_PER_POLL; i++) {
    arq_pull_meta_t meta;
    natsMsg *msg = arq_pull_next(n->pull, 0, &meta);
    if (!msg)
      break;
    int rc = arq_presence_notice(b, msg, meta.stream_seq, wants);
    natsMsg_Destroy(msg);
    arq_gauge_set(b->m.notice_lag, (int64_t)meta.pending);
    if (rc) { /* Redis unavailable: read again from the checkpoint once it is back */
      n->rd.restart = true;
      arq_pull_stop(n->pull);
      return;
    }
    arq_reader_advance(&n->rd, meta.stream_seq);
  }
  if (i == NOTICES_PER_POLL)
    arq_queue_wake(&b->queue); /* more may be waiting: come back after the next job */
}

void arq_notices_save(arq_brain_t *b) {
  if (b->notices)
    arq_reader_save(&b->notices->rd, &b->store);
}

void arq_notices_stop(arq_brain_t *b) {
  if (b->notices)
    arq_pull_stop(b->notices->pull);
}

void arq_notices_free(arq_brain_t *b) {
  struct arq_notices *n = b->notices;
  if (!n)
    return;
  arq_pull_free(n->pull);
  arq_reader_free(&n->rd);
  free(n->owned);
  free(n);
  b->notices = NULL;
}
