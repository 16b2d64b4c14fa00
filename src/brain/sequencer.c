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
 *   Batches. The thread takes up to BATCH_MAX messages from the reader (reader.c: one
 *   bounded pull consumer for every partition this Brain owns), and for the batch:
 *     1. loads the (seq, ingress) pair of rooms it does not have in memory (one pipelined
 *        round trip; the pairs stay in memory while the partition is held);
 *     2. numbers each message and publishes it (plain publishes, the last one through
 *        JetStream: the stream stores one connection's messages in order, so that one
 *        acknowledgement covers the batch);
 *     3. waits for that acknowledgement;
 *     4. commits in one Lua script (scripts.h): per partition the fencing check, the new
 *        checkpoint, and each touched room's last (seq, ingress) pair.
 *   Only then does it take the next batch. A message is published before its commit, so
 *   a crash between the two makes the next owner publish it again (same seq, same
 *   content): delivery to live subscribers is at-least-once across a crash, exactly once
 *   otherwise.
 *
 *   Ownership. The control thread takes and gives back leases (leases.c) under
 *   b->own_lock, which this thread holds for a whole batch: a partition handed back is
 *   never in the middle of a batch, and its last commit is its checkpoint, so the next
 *   owner starts exactly after it (a graceful handover is exactly-once). A commit refused
 *   by the fence stops the partition here at once and tells the control thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "brain/brain.h"
#include "brain/reader.h"
#include "brain/rules.h"
#include "brain/scripts.h"
#include "common/buf.h"
#include "common/log.h"
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "protocol/subjects.h"

#define BATCH_MAX 512
#define RING_MSGS 4096
#define RING_BYTES (64u << 20)
#define ROOM_CACHE_MAX 100000 /* rooms kept in memory; beyond, the cache starts over */
#define PUBLISH_WAIT_MS 2000
#define FIRST_WAIT_MS 100
#define FENCE_KEY_MAX 40
#define COMMIT_KEY_MAX (2 * ARQ_ID_MAX_LEN + 32)

/* The arguments of the commit EVAL, allocated once for the largest batch: per partition
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
  uint32_t p;
  char tenant[ARQ_ID_MAX_LEN + 1], room[ARQ_ID_MAX_LEN + 1];
} room_state_t;

typedef enum { ITEM_SKIP, ITEM_DROP, ITEM_ROOM } item_kind_t;

typedef struct {
  natsMsg *msg;
  arq_pull_meta_t meta;
  item_kind_t kind;
  uint32_t room_p; /* the room's partition (not ITEM_SKIP) */
  bool numbered;   /* ITEM_ROOM: got a seq in this batch (not a replay of a committed one) */
  uint64_t seq;    /* when numbered */
  const char *why; /* ITEM_DROP */
  Arqon__V1__Envelope *e;
  room_state_t *room;
  char tenant[ARQ_ID_MAX_LEN + 1], room_id[ARQ_ID_MAX_LEN + 1];
} item_t;

struct arq_sequencer {
  arq_brain_t *b;
  pthread_t thread;
  bool started;
  arq_store_t store;
  jsCtx *js; /* this thread's, with asynchronous publishing */
  arq_pull_t *pull;
  arq_reader_t rd;
  uint64_t epoch; /* b->own_epoch the reader was last brought in line with */
  bool *owned;    /* [partitions] snapshot, under b->own_lock */
  arq_strmap_t rooms; /* "tenant room" -> room_state_t* */
  _Atomic bool publish_failed;
  uint64_t batch_no;
  item_t items[BATCH_MAX];
  room_state_t **touched; /* [BATCH_MAX] rooms numbered in this batch */
  size_t ntouched;
  arq_buf_t pack; /* the message being published, reused */
  char *fence_keys; /* [partitions + 1][FENCE_KEY_MAX]: the MGET of prepare() */
  const char **fence_argv;
  size_t *fence_lens;
  commit_buf_t cb;
};

static void on_publish_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
  arq_sequencer_t *s = closure;
  atomic_store(&s->publish_failed, true);
  arq_counter_inc(s->b->m.nats_errors);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "sequenced publish refused; the batch is read again",
          {"error", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err)});
}

static void forget_rooms(arq_sequencer_t *s) {
  for (size_t i = 0; i < s->rooms.cap; i++)
    if (s->rooms.slots[i].key)
      free(s->rooms.slots[i].value);
  arq_strmap_free(&s->rooms);
  arq_strmap_init(&s->rooms);
}

/* After a failure: what is in memory may be ahead of the last commit; read again from it. */
static void reset(arq_sequencer_t *s) {
  forget_rooms(s);
  s->rd.restart = true;
}

static void free_items(arq_sequencer_t *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    natsMsg_Destroy(s->items[i].msg);
    if (s->items[i].e)
      arqon__v1__envelope__free_unpacked(s->items[i].e, NULL);
    memset(&s->items[i], 0, sizeof s->items[i]);
  }
}

/* Brings the reader in line with the partitions owned now (called with own_lock held).
 * False when it cannot read now, or when a batch taken before must be dropped because the
 * consumer restarted. */
static bool follow_ownership(arq_sequencer_t *s) {
  arq_brain_t *b = s->b;
  if (!arq_reader_must_restart(&s->rd, atomic_load(&b->reconnects)) && s->epoch == b->own_epoch)
    return true;
  s->epoch = b->own_epoch;
  bool restart = s->rd.restart;
  for (uint32_t p = 0; p < b->partitions; p++) {
    s->owned[p] = b->part[p].owned && !atomic_load(&b->part[p].fenced);
    restart = restart || (s->owned[p] && !s->rd.active[p]);
  }
  if (!restart) {
    for (uint32_t p = 0; p < b->partitions; p++)
      if (!s->owned[p])
        s->rd.active[p] = false; /* handed back or lost: its messages are passed over */
    return true;
  }
  forget_rooms(s);
  s->rd.restart = true;
  if (arq_reader_sync(&s->rd, s->owned, &s->store) && arq_pull_running(s->pull))
    arq_pull_stop(s->pull); /* not now (Redis or NATS away): read nothing until it can */
  return false;
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

static void fenced(arq_sequencer_t *s, uint32_t p) {
  char ps[16];
  snprintf(ps, sizeof ps, "%u", p);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "partition fenced: a newer owner exists", {"partition", ps});
  s->rd.active[p] = false;
  atomic_store(&s->b->part[p].fenced, true); /* the control thread drops the lease */
}

/* One pipelined round trip before anything of the batch is published: the fencing tokens
 * of the partitions read (so a Brain that lost its lease stops before publishing, and
 * nothing goes out while Redis is away), and the rooms not in memory. -1 when Redis is
 * unavailable. */
static int prepare(arq_sequencer_t *s, size_t n) {
  arq_brain_t *b = s->b;
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

/* Sends a numbered message: the last of a batch through JetStream, its acknowledgement
 * awaited; the others as plain publishes. The stream stores a connection's messages in
 * order, so the last one's acknowledgement says the batch is stored, and the server sends
 * one acknowledgement per batch instead of one per message. Every message carries its
 * Nats-Msg-Id, so a republished one is stored once. */
static natsStatus send_numbered(arq_sequencer_t *s, natsMsg **out, const char *msg_id, bool last) {
  if (last) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    return js_PublishMsgAsync(s->js, out, &po);
  }
  natsStatus st = natsMsgHeader_Set(*out, ARQ_HEADER_MSG_ID, msg_id);
  if (st == NATS_OK)
    st = natsConnection_PublishMsg(s->b->nc, *out);
  return st;
}

/* Publishes one numbered message (see send_numbered). */
static int publish(arq_sequencer_t *s, item_t *it, uint64_t seq, bool last) {
  Arqon__V1__Envelope *e = it->e;
  /* A message without a trace id (a backend's) gets the one its headers will carry. */
  char trace[ARQ_TRACE_ID_LEN + 1];
  arq_brain_trace_id(it->msg, e->trace_id, trace);
  char *orig_trace = e->trace_id, *orig_room = e->room_id, *orig_id = e->id;
  if (!arq_trace_id_valid(e->trace_id))
    e->trace_id = trace;
  e->seq = seq;
  e->room_id = it->room_id; /* what the subject says; equal or empty before */
  /* The client's id correlates the Shield's ack; in a broadcast it would look like a reply
   * to whichever member used the same id. The sender matches its copy by trace_id. */
  e->id = NULL;
  size_t n = arq_envelope_pack(e, &s->pack);
  char subject[ARQ_SUBJECT_CAP], msg_id[160];
  arq_subject_room(subject, sizeof subject, it->tenant, it->room_id);
  snprintf(msg_id, sizeof msg_id, "%s.%s.%llu", it->tenant, it->room_id, (unsigned long long)seq);
  natsMsg *out = NULL;
  natsStatus st = natsMsg_Create(&out, subject, NULL, s->pack.data, (int)n);
  const arq_brain_headers_t own = {.trace_id = e->trace_id, .tenant = it->tenant,
                                   .sender = e->sender, .conn = e->conn_id};
  if (st == NATS_OK)
    st = arq_brain_set_headers(s->b, out, it->msg, &own);
  if (st == NATS_OK)
    st = send_numbered(s, &out, msg_id, last);
  natsMsg_Destroy(out); /* NULL when the JetStream library took it */
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

/* Numbers and publishes the batch; waits for the acknowledgements. -1 on any failure. */
static int number_and_publish(arq_sequencer_t *s, size_t n) {
  arq_brain_t *b = s->b;
  s->ntouched = 0;
  atomic_store(&s->publish_failed, false);
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
    it->numbered = true;
    if (r->touched_batch != s->batch_no) { /* first one of the room in this batch */
      r->touched_batch = s->batch_no;
      s->touched[s->ntouched++] = r;
    }
    if (held && publish(s, held, held->seq, false))
      return -1;
    held = it;
  }
  if (!held)
    return 0;
  if (publish(s, held, held->seq, true))
    return -1;
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = PUBLISH_WAIT_MS;
  natsStatus st = js_PublishAsyncComplete(s->js, &po);
  if (st != NATS_OK) {
    natsMsgList pending = {0};
    if (js_PublishAsyncGetPendingList(&pending, s->js) == NATS_OK)
      natsMsgList_Destroy(&pending);
    arq_counter_inc(b->m.nats_errors);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "sequenced publishes not acknowledged; the batch is read again",
            {"error", natsStatus_GetText(st)});
    return -1;
  }
  return atomic_load(&s->publish_failed) ? -1 : 0;
}

/* One EVAL: per active partition its token and checkpoint, and the rooms it touched. */
static int commit(arq_sequencer_t *s, uint64_t last_in) {
  arq_brain_t *b = s->b;
  size_t nparts = 0;
  for (uint32_t p = 0; p < b->partitions; p++)
    nparts += s->rd.active[p];
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
    for (size_t i = 0; i < s->ntouched; i++)
      nrooms += s->touched[i]->p == p;
    snprintf(keys[nk], sizeof keys[nk], "arq:brain:part:%u:fence", p);
    kv[nk] = keys[nk];
    nk++;
    snprintf(keys[nk], sizeof keys[nk], "arq:brain:part:%u:ckpt", p);
    kv[nk] = keys[nk];
    nk++;
    av[na++] = NUM(b->part[p].fence);
    av[na++] = NUM(last_in > s->rd.ckpt[p] ? last_in : s->rd.ckpt[p]);
    av[na++] = NUM(nrooms);
    for (size_t i = 0; i < s->ntouched; i++) {
      room_state_t *r = s->touched[i];
      if (r->p != p)
        continue;
      static const char *const suffix[] = {"seq", "in", "pub"};
      for (int k = 0; k < 3; k++) {
        snprintf(keys[nk], sizeof keys[nk], "arq:{%s}:room:%s:%s", r->tenant, r->room, suffix[k]);
        kv[nk] = keys[nk];
        nk++;
      }
      av[na++] = NUM(r->order.seq);
      av[na++] = NUM(r->order.in);
    }
  }
#undef NUM
  char nkeys[24];
  snprintf(nkeys, sizeof nkeys, "%zu", nk);
  argv[0] = "EVAL";
  argv[1] = arq_brain_commit_script;
  argv[2] = nkeys;
  memcpy(argv + 3 + nk, av, na * sizeof *av);
  size_t argc = 3 + nk + na;
  for (size_t i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisReply *r = arq_store_argv(&s->store, (int)argc, argv, lens);
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

static void observe(arq_sequencer_t *s, size_t n) {
  arq_brain_t *b = s->b;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now_ms = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
  uint64_t sequenced = 0;
  for (size_t i = 0; i < n; i++) {
    item_t *it = &s->items[i];
    if (it->numbered) {
      sequenced++;
      double waited_s = now_ms / 1000.0 - (double)it->meta.stored_ns / 1e9;
      arq_histogram_observe(b->m.ingress_wait, waited_s > 0 ? waited_s : 0);
      if (it->e->timestamp && now_ms >= (double)it->e->timestamp)
        arq_histogram_observe(b->m.sequence_duration, (now_ms - (double)it->e->timestamp) / 1000.0);
    }
  }
  arq_counter_add(b->m.sequenced, sequenced);
  arq_counter_inc(b->m.batches);
  arq_gauge_set(b->m.lag, (int64_t)s->items[n - 1].meta.pending);
}

/* Takes up to BATCH_MAX messages: waits a little for the first, not for the others. */
static size_t collect(arq_sequencer_t *s) {
  size_t n = 0;
  while (n < BATCH_MAX) {
    natsMsg *m = arq_pull_next(s->pull, n ? 0 : FIRST_WAIT_MS, &s->items[n].meta);
    if (!m)
      break;
    s->items[n++].msg = m;
  }
  return n;
}

static void run_batch(arq_sequencer_t *s) {
  arq_brain_t *b = s->b;
  size_t n = collect(s);
  pthread_mutex_lock(&b->own_lock);
  if (!follow_ownership(s) || !n) {
    pthread_mutex_unlock(&b->own_lock);
    free_items(s, n);
    return;
  }
  s->batch_no++;
  classify(s, n);
  int rc = prepare(s, n);
  if (rc == 0)
    rc = number_and_publish(s, n);
  if (rc == 0)
    rc = commit(s, s->items[n - 1].meta.stream_seq);
  if (rc == 0)
    observe(s, n);
  else
    reset(s);
  pthread_mutex_unlock(&b->own_lock);
  free_items(s, n);
  if (s->rooms.len > ROOM_CACHE_MAX)
    forget_rooms(s); /* committed: Redis has it all */
}

static void *sequencer_main(void *arg) {
  arq_sequencer_t *s = arg;
  arq_brain_t *b = s->b;
  while (!atomic_load(&b->stop)) {
    pthread_mutex_lock(&b->own_lock);
    bool ready = follow_ownership(s) || arq_pull_running(s->pull);
    pthread_mutex_unlock(&b->own_lock);
    if (ready) {
      run_batch(s);
    } else { /* nothing owned, or Redis / NATS unavailable: again shortly */
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  return NULL;
}

int arq_sequencer_start(arq_brain_t *b, char *err, size_t errcap) {
  arq_sequencer_t *s = calloc(1, sizeof *s);
  if (!s)
    arq_oom("sequencer");
  s->b = b;
  arq_store_init(&s->store, b->cfg, b->m.redis_errors);
  arq_strmap_init(&s->rooms);
  s->owned = calloc(b->partitions, sizeof *s->owned);
  s->touched = calloc(BATCH_MAX, sizeof *s->touched);
  s->fence_keys = calloc(b->partitions + 1, FENCE_KEY_MAX);
  s->fence_argv = calloc(b->partitions + 1, sizeof *s->fence_argv);
  s->fence_lens = calloc(b->partitions + 1, sizeof *s->fence_lens);
  if (!s->owned || !s->touched || !s->fence_keys || !s->fence_argv || !s->fence_lens)
    arq_oom("sequencer");
  commit_buf_t *cb = &s->cb;
  cb->cap = 4 + (size_t)b->partitions * 5 + BATCH_MAX * 5;
  cb->argv = calloc(cb->cap, sizeof *cb->argv);
  cb->av = calloc(cb->cap, sizeof *cb->av);
  cb->lens = calloc(cb->cap, sizeof *cb->lens);
  cb->num = calloc(cb->cap, sizeof *cb->num);
  cb->keys = calloc(cb->cap, sizeof *cb->keys);
  cb->part_of = calloc(b->partitions + 1, sizeof *cb->part_of);
  if (!cb->argv || !cb->av || !cb->lens || !cb->num || !cb->keys || !cb->part_of)
    arq_oom("sequencer");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 3000;
  jo.PublishAsync.MaxPending = BATCH_MAX * 2;
  jo.PublishAsync.ErrHandler = on_publish_error;
  jo.PublishAsync.ErrHandlerClosure = s;
  if (natsConnection_JetStream(&s->js, b->nc, &jo) != NATS_OK) {
    snprintf(err, errcap, "nats: JetStream context for the sequencer");
    free(s->owned);
    free(s->touched);
    free(s);
    return -1;
  }
  char inbox[96];
  snprintf(inbox, sizeof inbox, "_INBOX.%s.ingress", b->id);
  s->pull = arq_pull_new(b->nc, s->js, ARQ_STREAM_INGRESS, inbox, RING_MSGS, RING_BYTES,
                         NULL, NULL);
  arq_reader_init(&s->rd, s->pull, b->partitions, "ckpt");
  s->rd.restart = true;
  b->seq = s;
  if (pthread_create(&s->thread, NULL, sequencer_main, s)) {
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
  arq_pull_stop(s->pull);
}

void arq_sequencer_free(arq_brain_t *b) {
  arq_sequencer_t *s = b->seq;
  if (!s)
    return;
  arq_pull_free(s->pull);
  arq_reader_free(&s->rd);
  forget_rooms(s);
  arq_strmap_free(&s->rooms);
  arq_store_close(&s->store);
  jsCtx_Destroy(s->js);
  free(s->owned);
  free(s->touched);
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
