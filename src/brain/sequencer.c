/*
 * sequencer.c — per-room order: room events from the ingress stream get the room's next
 * seq and go out on out.t.<tenant>.r.<room>. Runs on a thread of its own.
 *
 * DESIGN
 *   Deterministic numbering. A room's seq counts the valid room events of that room in
 *   the order ARQON_INGRESS stored them. Whoever numbers a message — this Brain now, a
 *   replay after a failure, the next owner after a crash or a stale owner that has not yet
 *   noticed it lost its lease — gives it the same seq, as long as it starts from a
 *   committed (seq, ingress sequence) pair of the room. So nothing has to be reserved in
 *   Redis before publishing, and every failure is handled the same way: forget what is in
 *   memory and read again from the last commit; a republished message carries the seq it
 *   had, and JetStream's duplicate window (Nats-Msg-Id "<T>.<R>.<seq>") keeps one copy in
 *   the history.
 *
 *   Batches, pipelined. The thread takes what the reader (reader.c: one bounded pull
 *   consumer for every partition this Brain owns) has, up to BATCH_MAX messages, and:
 *     1. loads the (seq, ingress) pair of rooms it does not have in memory, with the fencing
 *        tokens of the partitions read (one pipelined round trip, only when a room is new;
 *        the pairs stay in memory while the partition is held);
 *     2. numbers each message and publishes it (plain publishes, the last one through
 *        JetStream's asynchronous API: the stream stores one connection's messages in
 *        order, so that one acknowledgement covers the batch);
 *     3. goes on with the next batch at once, up to ARQ_FLIGHTS_MAX batches in flight
 *        (flights.c); past that bound it waits, and batches grow while it waits;
 *     4. commits stored batches at the head together, when they are due (commit_due), in
 *        one Lua script run by its digest (scripts.h): per partition the fencing check, the
 *        new checkpoint, and each touched room's last (seq, ingress) pair.
 *   A message is published before its commit, so a crash between the two makes the next
 *   owner publish it again (same seq, same content): delivery to live subscribers is
 *   at-least-once across a crash, exactly once otherwise. A batch not stored (refused,
 *   timed out) or a commit that fails sends every batch in flight back to be read again
 *   from the last commit.
 *
 *   Ownership. The control thread takes and gives back leases (leases.c) under
 *   b->own_lock, which this thread holds while it handles a batch; an ownership change is
 *   applied only once every batch in flight is committed, and a lease handed back waits
 *   for that (arq_sequencer_follow), so its last commit is its checkpoint and the next
 *   owner starts exactly after it (a graceful handover is exactly-once). A commit refused
 *   by the fence stops the partition at once and tells the control thread; batches of it
 *   already in flight are refused by the fence too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/flights.h"
#include "brain/flusher.h"
#include "brain/reader.h"
#include "brain/rules.h"
#include "brain/scripts.h"
#include "common/buf.h"
#include "common/deadline.h"
#include "common/log.h"
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "protocol/subjects.h"
#include "spine/spent.h"

#define BATCH_MAX 512
#define RING_MSGS 4096
#define RING_BYTES (64u << 20)
#define ROOM_CACHE_MAX 100000 /* rooms kept in memory; beyond, the cache starts over */
#define PUBLISH_WAIT_MS 2000
#define IDLE_WAIT_MS 100
#define SEQUENCER_API_WAIT_MS 3000 /* its own thread: JetStream calls may wait (consumer create) */
#define FOLLOW_WAIT_MS (PUBLISH_WAIT_MS + 1500) /* a handover waits at most this for the flight */
#define FENCE_KEY_MAX 40
#define COMMIT_KEY_MAX (2 * ARQ_ID_MAX_LEN + 32)
#define COMMIT_ROOMS_MAX (4 * BATCH_MAX) /* room updates in one commit, at most */
/* Stored batches wait a little for company before their commit: one script for several
 * batches costs Redis and this thread less than one each, and nothing waits for it (the
 * messages are out already). A handover, a restart or a full pipeline commits at once. */
#define COMMIT_DELAY_MS 5
#define COMMIT_BATCHES 8

/* The arguments of the commit EVAL, allocated once for the largest commit: per partition
 * 2 keys and 3 numbers, per room 3 keys and 2 numbers, and 4 more. */
typedef struct {
  size_t cap;
  const char **argv, **av;
  size_t *lens;
  char (*num)[24];
  char (*keys)[COMMIT_KEY_MAX];
  uint32_t *part_of;
} commit_buf_t;

typedef struct room_state {
  arq_room_order_t order;
  bool loaded;
  uint64_t asked_batch;   /* the batch that asked Redis for it */
  uint64_t touched_batch; /* the batch that last numbered a message of it */
  size_t update_at;       /* its entry in that batch's updates */
  uint64_t commit_no;     /* the commit that last included it */
  uint64_t commit_seq, commit_in;
  uint32_t p;
  char tenant[ARQ_ID_MAX_LEN + 1], room[ARQ_ID_MAX_LEN + 1];
} room_state_t;

typedef enum { ITEM_SKIP, ITEM_DROP, ITEM_ROOM } item_kind_t;

typedef struct {
  natsMsg *msg;
  arq_pull_meta_t meta;
  item_kind_t kind;
  uint32_t room_p; /* the room's partition (not ITEM_SKIP) */
  uint64_t seq;    /* ITEM_ROOM, once numbered */
  const char *why; /* ITEM_DROP */
  Arqon__V1__Envelope *e;
  room_state_t *room;
  char tenant[ARQ_ID_MAX_LEN + 1], room_id[ARQ_ID_MAX_LEN + 1];
} item_t;

struct arq_sequencer {
  arq_brain_t *b;
  pthread_t thread;
  bool started;
  _Atomic bool running; /* the thread runs (a handover waits for it only then) */
  arq_store_t store;
  jsCtx *js; /* this thread's, with asynchronous publishing */
  arq_pull_t *pull;
  arq_reader_t rd;
  uint64_t epoch; /* b->own_epoch the reader was last brought in line with */
  uint64_t applied_epoch; /* the same, once batches in flight were committed (under fl.mu) */
  bool *owned;    /* [partitions] snapshot, under b->own_lock */
  arq_strmap_t rooms; /* "tenant room" -> room_state_t* */
  arq_flights_t fl;
  arq_flusher_t *flusher; /* writes each batch at once (flusher.h) */
  uint64_t batch_no, commit_no;
  item_t items[BATCH_MAX];
  room_state_t **commit_rooms; /* [COMMIT_ROOMS_MAX] the rooms of one commit */
  arq_buf_t pack; /* the message being published, reused */
  char commit_sha[41]; /* the commit script's SHA-1, for EVALSHA */
  char *fence_keys; /* [partitions + 1][FENCE_KEY_MAX]: the MGET of prepare() */
  const char **fence_argv;
  size_t *fence_lens;
  commit_buf_t cb;
};

static void on_publish_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
  (void)js;
  arq_sequencer_t *s = closure;
  if (!pa) {
    arq_counter_inc(s->b->m.nats_errors);
    const char *why = pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(pae ? pae->Err : NATS_ERR);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "sequenced batch not stored; it is read again", {"error", why});
  }
  arq_flights_on_ack(&s->fl, msg, pa != NULL);
  arq_spent_msg(msg);
}

static void wake(void *arg) {
  arq_sequencer_t *s = arg;
  arq_flights_wake(&s->fl);
}

static void forget_rooms(arq_sequencer_t *s) {
  for (size_t i = 0; i < s->rooms.cap; i++)
    if (s->rooms.slots[i].key)
      free(s->rooms.slots[i].value);
  arq_strmap_free(&s->rooms);
  arq_strmap_init(&s->rooms);
}

/* After a failure: what is in memory or in flight may be ahead of the last commit; read
 * again from it. */
static void reset(arq_sequencer_t *s) {
  arq_flights_discard(&s->fl);
  forget_rooms(s);
  s->rd.restart = true;
}

static void free_items(arq_sequencer_t *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    arq_spent_msg(s->items[i].msg); /* destroyed in groups (spent.h) */
    if (s->items[i].e)
      arqon__v1__envelope__free_unpacked(s->items[i].e, NULL);
    memset(&s->items[i], 0, sizeof s->items[i]);
  }
}

static void fenced(arq_sequencer_t *s, uint32_t p) {
  char ps[16];
  snprintf(ps, sizeof ps, "%u", p);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "partition fenced: a newer owner exists", {"partition", ps});
  s->rd.active[p] = false;
  atomic_store(&s->b->part[p].fenced, true); /* the control thread drops the lease */
}

static void observe(arq_sequencer_t *s, const arq_flight_t *fl) {
  arq_brain_t *b = s->b;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now_ms = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
  for (size_t i = 0; i < fl->ntiming; i++) {
    const arq_flight_timing_t *t = &fl->timing[i];
    double waited_s = now_ms / 1000.0 - (double)t->stored_ns / 1e9;
    arq_histogram_observe(b->m.ingress_wait, waited_s > 0 ? waited_s : 0);
    if (t->sent_ms && now_ms >= (double)t->sent_ms)
      arq_histogram_observe(b->m.sequence_duration, (now_ms - (double)t->sent_ms) / 1000.0);
  }
  arq_counter_add(b->m.sequenced, fl->ntiming);
  arq_counter_inc(b->m.batches);
  arq_gauge_set(b->m.lag, (int64_t)fl->pending);
}

/* The rooms of the first k batches in flight, each with its last (seq, ingress) pair. */
static size_t commit_rooms(arq_sequencer_t *s, size_t k) {
  s->commit_no++;
  size_t n = 0;
  for (size_t i = 0; i < k; i++) {
    const arq_flight_t *fl = arq_flights_at(&s->fl, i);
    for (size_t j = 0; j < fl->nupd; j++) {
      room_state_t *r = fl->upd[j].room;
      if (r->commit_no != s->commit_no) {
        r->commit_no = s->commit_no;
        s->commit_rooms[n++] = r;
      }
      r->commit_seq = fl->upd[j].seq;
      r->commit_in = fl->upd[j].in;
    }
  }
  return n;
}

/* One EVAL for the first k batches in flight: per active partition its token and
 * checkpoint, and the rooms they touched. */
static int commit(arq_sequencer_t *s, size_t k) {
  arq_brain_t *b = s->b;
  uint64_t last_in = arq_flights_at(&s->fl, k - 1)->last_in;
  size_t ntouched = commit_rooms(s, k);
  room_state_t **touched = s->commit_rooms;
  size_t nparts = 0;
  for (uint32_t p = 0; p < b->partitions; p++)
    nparts += s->rd.active[p];
  if (!nparts)
    return 0; /* nothing is read any more (fenced or handed back): nothing to commit */
  commit_buf_t *cb = &s->cb;
  const char **argv = cb->argv, **av = cb->av;
  size_t *lens = cb->lens;
  char(*num)[24] = cb->num;
  char(*keys)[COMMIT_KEY_MAX] = cb->keys;
  uint32_t *part_of = cb->part_of;
  size_t nk = 0, na = 0, nn = 0;
  const char **kv = argv + 3; /* EVAL script numkeys KEYS... ARGV... (ARGV copied after) */
#define NUM(v) (snprintf(num[nn], sizeof num[nn], "%llu", (unsigned long long)(v)), num[nn++])
  av[na++] = NUM(nparts);
  size_t ip = 0;
  for (uint32_t p = 0; p < b->partitions; p++) {
    if (!s->rd.active[p])
      continue;
    part_of[ip++] = p;
    size_t nrooms = 0;
    for (size_t i = 0; i < ntouched; i++)
      nrooms += touched[i]->p == p;
    snprintf(keys[nk], sizeof keys[nk], "arq:brain:part:%u:fence", p);
    kv[nk] = keys[nk];
    nk++;
    snprintf(keys[nk], sizeof keys[nk], "arq:brain:part:%u:ckpt", p);
    kv[nk] = keys[nk];
    nk++;
    av[na++] = NUM(b->part[p].fence);
    av[na++] = NUM(last_in > s->rd.ckpt[p] ? last_in : s->rd.ckpt[p]);
    av[na++] = NUM(nrooms);
    for (size_t i = 0; i < ntouched; i++) {
      room_state_t *r = touched[i];
      if (r->p != p)
        continue;
      static const char *const suffix[] = {"seq", "in", "pub"};
      for (int j = 0; j < 3; j++) {
        snprintf(keys[nk], sizeof keys[nk], "arq:{%s}:room:%s:%s", r->tenant, r->room, suffix[j]);
        kv[nk] = keys[nk];
        nk++;
      }
      av[na++] = NUM(r->commit_seq);
      av[na++] = NUM(r->commit_in);
    }
  }
#undef NUM
  char nkeys[24];
  snprintf(nkeys, sizeof nkeys, "%zu", nk);
  argv[2] = nkeys;
  memcpy(argv + 3 + nk, av, na * sizeof *av);
  size_t argc = 3 + nk + na;
  for (size_t i = 2; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisReply *r = arq_store_script(&s->store, arq_brain_commit_script, s->commit_sha, (int)argc, argv, lens);
  int rc = -1;
  if (r && r->type == REDIS_REPLY_ARRAY) {
    rc = 0;
    for (size_t i = 0; i < r->elements; i++) {
      long long idx = r->element[i]->integer;
      if (idx < 0 || (size_t)idx >= nparts)
        continue;
      fenced(s, part_of[idx]);
    }
    for (uint32_t p = 0; p < b->partitions; p++)
      if (s->rd.active[p] && last_in > s->rd.ckpt[p])
        s->rd.ckpt[p] = s->rd.saved[p] = last_in;
  }
  if (r)
    freeReplyObject(r);
  return rc;
}

/* How many stored batches at the head to commit now: all of them (within
 * COMMIT_ROOMS_MAX room updates) once COMMIT_BATCHES are stored, the oldest has waited
 * COMMIT_DELAY_MS, the pipeline is full, or `all`; else 0, and *wait_ms says when to look
 * again. *failed as arq_flights_stored. */
static size_t commit_due(arq_sequencer_t *s, bool all, bool *failed, int *wait_ms) {
  size_t stored = arq_flights_stored(&s->fl, failed), k = 0, updates = 0;
  for (; k < stored; k++) {
    updates += arq_flights_at(&s->fl, k)->nupd;
    if (updates > COMMIT_ROOMS_MAX)
      break;
  }
  *wait_ms = 50;
  if (!k || all || *failed || k < stored || k >= COMMIT_BATCHES ||
      arq_flights_len(&s->fl) == ARQ_FLIGHTS_MAX)
    return k;
  int64_t age = arq_monotonic_ms() - arq_flights_at(&s->fl, 0)->launched_ms;
  if (age >= COMMIT_DELAY_MS)
    return k;
  *wait_ms = (int)(COMMIT_DELAY_MS - age);
  return 0;
}

/* Commits the stored batches at the head that are due (commit_due); with `all`, first
 * waits (bounded) until every batch in flight is stored or one failed, and commits them
 * all. A batch that failed, or a commit that failed, sends everything in flight back to be
 * read again. Called with own_lock held. -1 after such a failure. */
static int settle(arq_sequencer_t *s, bool all) {
  bool failed = false;
  size_t k;
  int wait_ms;
  for (;;) {
    uint64_t mark = arq_flights_mark(&s->fl);
    if (!all || arq_flights_stored(&s->fl, &failed) == arq_flights_len(&s->fl) || failed)
      break;
    arq_flights_wait(&s->fl, mark, 100);
  }
  k = commit_due(s, all, &failed, &wait_ms);
  while (k) {
    if (commit(s, k)) {
      reset(s);
      return -1;
    }
    for (size_t i = 0; i < k; i++)
      observe(s, arq_flights_at(&s->fl, i));
    arq_flights_pop(&s->fl, k);
    k = all ? commit_due(s, true, &failed, &wait_ms) : 0; /* past COMMIT_ROOMS_MAX */
  }
  if (failed) {
    reset(s);
    return -1;
  }
  return 0;
}

/* Brings the reader in line with the partitions owned now (called with own_lock held),
 * once every batch in flight is committed. False when it cannot read now, or when a batch
 * taken before must be dropped because the consumer restarted. */
static bool follow_ownership(arq_sequencer_t *s) {
  arq_brain_t *b = s->b;
  if (!arq_reader_must_restart(&s->rd, atomic_load(&b->reconnects)) && s->epoch == b->own_epoch)
    return true;
  settle(s, true);
  s->epoch = b->own_epoch;
  bool restart = s->rd.restart;
  for (uint32_t p = 0; p < b->partitions; p++) {
    s->owned[p] = b->part[p].owned && !atomic_load(&b->part[p].fenced);
    restart = restart || (s->owned[p] && !s->rd.active[p]);
  }
  bool ok = true;
  if (!restart) {
    for (uint32_t p = 0; p < b->partitions; p++)
      if (!s->owned[p])
        s->rd.active[p] = false; /* handed back or lost: its messages are passed over */
  } else {
    forget_rooms(s);
    s->rd.restart = true;
    if (arq_reader_sync(&s->rd, s->owned, &s->store) && arq_pull_running(s->pull))
      arq_pull_stop(s->pull); /* not now (Redis or NATS away): read nothing until it can */
    ok = false;
  }
  pthread_mutex_lock(&s->fl.mu);
  s->applied_epoch = s->epoch;
  pthread_cond_broadcast(&s->fl.cv);
  pthread_mutex_unlock(&s->fl.mu);
  return ok;
}

/* Classifies each message; finds the rooms to load. */
static void classify(arq_sequencer_t *s, size_t n) {
  arq_brain_t *b = s->b;
  for (size_t i = 0; i < n; i++) {
    item_t *it = &s->items[i];
    it->kind = ITEM_SKIP;
    const char *subject = natsMsg_GetSubject(it->msg);
    if (!arq_subject_parse_ingress(subject, it->tenant, it->room_id))
      continue; /* not a room subject: nothing to number */
    uint32_t p = arq_brain_partition(it->tenant, it->room_id, b->partitions);
    if (!arq_reader_wants(&s->rd, p, it->meta.stream_seq)) {
      if (s->rd.active[p])
        arq_counter_inc(b->m.duplicates); /* read again after a restart: done already */
      continue;
    }
    it->room_p = p;
    it->e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(it->msg),
                                        (const uint8_t *)natsMsg_GetData(it->msg));
    const char *why = arq_brain_check_message(it->tenant, it->msg, it->e);
    if (!why)
      why = arq_brain_check_room_event(it->room_id, it->e->room_id,
                                       it->e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_EVENT);
    if (why) {
      it->kind = ITEM_DROP;
      it->why = why;
      continue;
    }
    char key[2 * ARQ_ID_MAX_LEN + 2];
    int klen = snprintf(key, sizeof key, "%s %s", it->tenant, it->room_id);
    room_state_t *r = arq_strmap_get(&s->rooms, key, (size_t)klen);
    if (!r) {
      r = calloc(1, sizeof *r);
      if (!r)
        arq_oom("room state");
      r->p = p;
      memcpy(r->tenant, it->tenant, sizeof r->tenant);
      memcpy(r->room, it->room_id, sizeof r->room);
      arq_strmap_put(&s->rooms, key, (size_t)klen, r);
    }
    it->room = r;
    it->kind = ITEM_ROOM;
  }
}

static uint64_t reply_u64(const redisReply *r) {
  return r && r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
}

/* When the batch has rooms not in memory: one pipelined round trip before anything of it
 * is published, for those rooms and the fencing tokens of the partitions read (a Brain
 * that lost its lease stops here too, besides at its next commit). -1 when Redis is
 * unavailable. */
static int prepare(arq_sequencer_t *s, size_t n) {
  arq_brain_t *b = s->b;
  bool any = false;
  for (size_t i = 0; i < n && !any; i++)
    any = s->items[i].kind == ITEM_ROOM && !s->items[i].room->loaded;
  if (!any)
    return 0;
  size_t argc = 0;
  s->fence_argv[argc] = "MGET";
  s->fence_lens[argc++] = 4;
  for (uint32_t p = 0; p < b->partitions; p++) {
    if (s->rd.active[p]) {
      char *key = s->fence_keys + argc * FENCE_KEY_MAX;
      s->fence_lens[argc] = (size_t)snprintf(key, FENCE_KEY_MAX, "arq:brain:part:%u:fence", p);
      s->fence_argv[argc++] = key;
    }
  }
  if (argc == 1)
    return 0; /* no partition is read any more (fenced or handed back): nothing to number */
  if (!arq_store_append_argv(&s->store, (int)argc, s->fence_argv, s->fence_lens))
    return -1;
  size_t asked = 0;
  for (size_t i = 0; i < n; i++) {
    room_state_t *r = s->items[i].room;
    if (s->items[i].kind != ITEM_ROOM || r->loaded || r->asked_batch == s->batch_no)
      continue;
    r->asked_batch = s->batch_no;
    if (!arq_store_append(&s->store, "MGET arq:{%s}:room:%s:seq arq:{%s}:room:%s:in arq:{%s}:room:%s:pub",
                          r->tenant, r->room, r->tenant, r->room, r->tenant, r->room))
      return -1;
    asked++;
  }
  redisReply *rep = arq_store_reply(&s->store);
  if (!rep || rep->type != REDIS_REPLY_ARRAY) {
    if (rep)
      freeReplyObject(rep);
    arq_store_close(&s->store); /* replies still unread: start on a fresh connection */
    return -1;
  }
  size_t k = 0;
  for (uint32_t p = 0; p < b->partitions && k < rep->elements; p++)
    if (s->rd.active[p] && reply_u64(rep->element[k++]) > b->part[p].fence)
      fenced(s, p);
  freeReplyObject(rep);
  /* The replies come in the order asked: the first occurrence of each room. */
  for (size_t i = 0; i < n && asked; i++) {
    room_state_t *r = s->items[i].room;
    if (s->items[i].kind != ITEM_ROOM || r->loaded)
      continue;
    rep = arq_store_reply(&s->store);
    asked--;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
      if (rep)
        freeReplyObject(rep);
      arq_store_close(&s->store); /* replies still unread: start on a fresh connection */
      return -1;
    }
    r->order = arq_room_order_resume(reply_u64(rep->element[0]), reply_u64(rep->element[1]),
                                     rep->element[2]->type == REDIS_REPLY_STRING,
                                     reply_u64(rep->element[2]));
    r->loaded = true;
    freeReplyObject(rep);
  }
  for (size_t i = 0; i < n; i++) /* messages of a partition found fenced */
    if (s->items[i].kind != ITEM_SKIP && !s->rd.active[s->items[i].room_p])
      s->items[i].kind = ITEM_SKIP;
  return 0;
}

/* Publishes one numbered message: the last of a batch through JetStream (its
 * acknowledgement, awaited asynchronously, covers the batch: the stream stores a
 * connection's messages in order), the others as plain publishes. Every message carries
 * its Nats-Msg-Id, so a republished one is stored once. */
static int publish(arq_sequencer_t *s, item_t *it, arq_flight_t *fl, bool last) {
  Arqon__V1__Envelope *e = it->e;
  /* A message without a trace id (a backend's) gets the one its headers will carry. */
  char trace[ARQ_TRACE_ID_LEN + 1];
  arq_brain_trace_id(it->msg, e->trace_id, trace);
  char *orig_trace = e->trace_id, *orig_room = e->room_id, *orig_id = e->id;
  if (!arq_trace_id_valid(e->trace_id))
    e->trace_id = trace;
  e->seq = it->seq;
  e->room_id = it->room_id; /* what the subject says; equal or empty before */
  /* The client's id correlates the Shield's ack; in a broadcast it would look like a reply
   * to whichever member used the same id. The sender matches its copy by trace_id. */
  e->id = NULL;
  size_t n = arq_envelope_pack(e, &s->pack);
  char subject[ARQ_SUBJECT_CAP], msg_id[160];
  arq_subject_room(subject, sizeof subject, it->tenant, it->room_id);
  snprintf(msg_id, sizeof msg_id, "%s.%s.%llu", it->tenant, it->room_id, (unsigned long long)it->seq);
  natsMsg *out = NULL;
  natsStatus st = natsMsg_Create(&out, subject, NULL, s->pack.data, (int)n);
  const arq_brain_headers_t own = {.trace_id = e->trace_id, .tenant = it->tenant,
                                   .sender = e->sender, .conn = e->conn_id};
  if (st == NATS_OK)
    st = arq_brain_set_headers(s->b, out, it->msg, &own);
  if (st == NATS_OK && last) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    po.MaxWait = PUBLISH_WAIT_MS;
    arq_flights_expect(&s->fl, fl, out, PUBLISH_WAIT_MS);
    st = js_PublishMsgAsync(s->js, &out, &po);
    if (st != NATS_OK)
      arq_flights_unexpect(&s->fl, fl);
  } else if (st == NATS_OK) {
    st = natsMsgHeader_Set(out, ARQ_HEADER_MSG_ID, msg_id);
    if (st == NATS_OK)
      st = natsConnection_PublishMsg(s->b->nc, out);
  }
  arq_spent_msg(out); /* NULL when the JetStream library took it */
  e->trace_id = orig_trace;
  e->room_id = orig_room;
  e->id = orig_id;
  if (st != NATS_OK) {
    arq_counter_inc(s->b->m.nats_errors);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "cannot publish a sequenced message; the batch is read again",
            {"subject", subject}, {"error", natsStatus_GetText(st)});
    return -1;
  }
  return 0;
}

/* Numbers the batch into the flight slot `fl` and publishes it. -1 on any failure. */
static int number_and_publish(arq_sequencer_t *s, size_t n, arq_flight_t *fl) {
  arq_brain_t *b = s->b;
  item_t *held = NULL; /* numbered, sent once the next one is numbered (or as the last) */
  for (size_t i = 0; i < n; i++) {
    item_t *it = &s->items[i];
    if (it->kind == ITEM_DROP) {
      arq_counter_inc(b->m.dropped);
      arq_brain_audit(b, it->tenant, "drop", it->why, natsMsg_GetSubject(it->msg), it->msg);
      continue;
    }
    if (it->kind != ITEM_ROOM)
      continue;
    room_state_t *r = it->room;
    if (!arq_room_order_next(&r->order, it->meta.stream_seq, &it->seq)) {
      arq_counter_inc(b->m.duplicates); /* numbered and committed before */
      continue;
    }
    if (r->touched_batch != s->batch_no) { /* first one of the room in this batch */
      r->touched_batch = s->batch_no;
      r->update_at = fl->nupd++;
      fl->upd[r->update_at].room = r;
    }
    fl->upd[r->update_at].seq = r->order.seq;
    fl->upd[r->update_at].in = r->order.in;
    fl->timing[fl->ntiming++] = (arq_flight_timing_t){.stored_ns = it->meta.stored_ns,
                                                      .sent_ms = (int64_t)it->e->timestamp};
    if (held && publish(s, held, fl, false))
      return -1;
    held = it;
  }
  return held ? publish(s, held, fl, true) : 0;
}

/* Handles the n messages collected (with own_lock held): numbers and publishes them as a
 * new batch in flight, and commits what is stored. */
static void step(arq_sequencer_t *s, size_t n) {
  if (!follow_ownership(s))
    return;
  if (n) {
    s->batch_no++;
    classify(s, n);
    arq_flight_t *fl = arq_flights_next(&s->fl);
    fl->last_in = s->items[n - 1].meta.stream_seq;
    fl->pending = s->items[n - 1].meta.pending;
    if (prepare(s, n) || number_and_publish(s, n, fl)) {
      settle(s, true); /* what went out before this batch is still committed */
      reset(s);
      return;
    }
    arq_flights_launch(&s->fl, fl);
    arq_flusher_kick(s->flusher);
  }
  if (settle(s, false) == 0 && !arq_flights_len(&s->fl) && s->rooms.len > ROOM_CACHE_MAX)
    forget_rooms(s); /* all committed: Redis has it all */
}

/* Takes up to BATCH_MAX messages, without waiting. */
static size_t collect(arq_sequencer_t *s) {
  size_t n = 0;
  while (n < BATCH_MAX) {
    natsMsg *m = arq_pull_next(s->pull, 0, &s->items[n].meta);
    if (!m)
      break;
    s->items[n++].msg = m;
  }
  return n;
}

static void *sequencer_main(void *arg) {
  arq_sequencer_t *s = arg;
  arq_brain_t *b = s->b;
  while (!atomic_load(&b->stop)) {
    pthread_mutex_lock(&b->own_lock);
    bool ready = follow_ownership(s) || arq_pull_running(s->pull);
    pthread_mutex_unlock(&b->own_lock);
    if (!ready) { /* nothing owned, or Redis / NATS unavailable: again shortly */
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
      continue;
    }
    uint64_t mark = arq_flights_mark(&s->fl);
    size_t n = arq_flights_len(&s->fl) < ARQ_FLIGHTS_MAX ? collect(s) : 0;
    bool failed;
    int wait_ms;
    if (!n && commit_due(s, false, &failed, &wait_ms) == 0 && !failed) {
      /* Nothing to do until a message, an acknowledgement, a commit falls due or an
       * ownership change. */
      arq_flights_wait(&s->fl, mark, arq_flights_len(&s->fl) ? wait_ms : IDLE_WAIT_MS);
      continue;
    }
    pthread_mutex_lock(&b->own_lock);
    step(s, n);
    pthread_mutex_unlock(&b->own_lock);
    free_items(s, n);
  }
  pthread_mutex_lock(&b->own_lock);
  settle(s, true); /* every batch out is committed before the leases go back */
  pthread_mutex_unlock(&b->own_lock);
  atomic_store(&s->running, false);
  arq_flights_wake(&s->fl);
  return NULL;
}

void arq_sequencer_follow(arq_brain_t *b) {
  arq_sequencer_t *s = b->seq;
  if (!s || !atomic_load(&s->running))
    return;
  uint64_t epoch = b->own_epoch; /* written by this (the control) thread only */
  struct timespec until = arq_deadline_ms(FOLLOW_WAIT_MS);
  pthread_mutex_lock(&s->fl.mu);
  s->fl.wakes++;
  pthread_cond_broadcast(&s->fl.cv);
  while (s->applied_epoch < epoch && atomic_load(&s->running))
    if (pthread_cond_timedwait(&s->fl.cv, &s->fl.mu, &until) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&s->fl.mu);
}

int arq_sequencer_start(arq_brain_t *b, char *err, size_t errcap) {
  arq_sequencer_t *s = calloc(1, sizeof *s);
  if (!s)
    arq_oom("sequencer");
  s->b = b;
  arq_store_init(&s->store, b->cfg, b->m.redis_errors);
  arq_strmap_init(&s->rooms);
  arq_flights_init(&s->fl, BATCH_MAX);
  arq_brain_script_sha1(arq_brain_commit_script, s->commit_sha);
  s->owned = calloc(b->partitions, sizeof *s->owned);
  s->commit_rooms = calloc(COMMIT_ROOMS_MAX, sizeof *s->commit_rooms);
  s->fence_keys = calloc(b->partitions + 1, FENCE_KEY_MAX);
  s->fence_argv = calloc(b->partitions + 1, sizeof *s->fence_argv);
  s->fence_lens = calloc(b->partitions + 1, sizeof *s->fence_lens);
  if (!s->owned || !s->commit_rooms || !s->fence_keys || !s->fence_argv || !s->fence_lens)
    arq_oom("sequencer");
  commit_buf_t *cb = &s->cb;
  cb->cap = 4 + (size_t)b->partitions * 5 + COMMIT_ROOMS_MAX * 5;
  cb->argv = calloc(cb->cap, sizeof *cb->argv);
  cb->av = calloc(cb->cap, sizeof *cb->av);
  cb->lens = calloc(cb->cap, sizeof *cb->lens);
  cb->num = calloc(cb->cap, sizeof *cb->num);
  cb->keys = calloc(cb->cap, sizeof *cb->keys);
  cb->part_of = calloc(b->partitions + 1, sizeof *cb->part_of);
  if (!cb->argv || !cb->av || !cb->lens || !cb->num || !cb->keys || !cb->part_of)
    arq_oom("sequencer");
  b->seq = s;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = SEQUENCER_API_WAIT_MS;
  jo.PublishAsync.MaxPending = 4 * ARQ_FLIGHTS_MAX; /* and those of discarded batches */
  jo.PublishAsync.AckHandler = on_publish_ack;
  jo.PublishAsync.AckHandlerClosure = s;
  if (natsConnection_JetStream(&s->js, b->nc, &jo) != NATS_OK) {
    snprintf(err, errcap, "nats: JetStream context for the sequencer");
    return -1;
  }
  char inbox[96];
  snprintf(inbox, sizeof inbox, "_INBOX.%s.ingress", b->id);
  s->pull = arq_pull_new(b->nc, s->js, ARQ_STREAM_INGRESS, inbox, RING_MSGS, RING_BYTES, SEQUENCER_API_WAIT_MS,
                         wake, s);
  s->flusher = arq_flusher_start(b->nc);
  arq_reader_init(&s->rd, s->pull, b->partitions, "ckpt");
  s->rd.restart = true;
  atomic_store(&s->running, true);
  if (pthread_create(&s->thread, NULL, sequencer_main, s)) {
    atomic_store(&s->running, false);
    snprintf(err, errcap, "cannot start the sequencer thread");
    return -1;
  }
  s->started = true;
  return 0;
}

void arq_sequencer_stop(arq_brain_t *b) {
  arq_sequencer_t *s = b->seq;
  if (!s)
    return;
  if (s->started)
    pthread_join(s->thread, NULL);
  s->started = false;
  arq_flusher_stop(s->flusher);
  s->flusher = NULL;
  arq_pull_stop(s->pull);
}

void arq_sequencer_free(arq_brain_t *b) {
  arq_sequencer_t *s = b->seq;
  if (!s)
    return;
  /* Before anything the acknowledgement handler touches: nats.c calls it no more. */
  jsCtx_Destroy(s->js);
  arq_pull_free(s->pull);
  arq_reader_free(&s->rd);
  forget_rooms(s);
  arq_strmap_free(&s->rooms);
  arq_store_close(&s->store);
  arq_flights_free(&s->fl);
  free(s->owned);
  free(s->commit_rooms);
  arq_buf_free(&s->pack);
  free(s->fence_keys);
  free(s->fence_argv);
  free(s->fence_lens);
  free(s->cb.argv);
  free(s->cb.av);
  free(s->cb.lens);
  free(s->cb.num);
  free(s->cb.keys);
  free(s->cb.part_of);
  free(s);
  b->seq = NULL;
}
