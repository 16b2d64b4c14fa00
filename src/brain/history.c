/*
 * history.c — `history` requests: the room's sequenced messages with seq > since_seq, in
 * order, from the JetStream stream ARQON_ROOMS (subject out.t.<tenant>.r.<room>).
 *
 * DESIGN
 *   A request reads only the page it returns. The stream keeps every room's messages in
 *   one sequence of stream positions; within a room, seqs grow with the position (a
 *   republish after a takeover repeats seqs, in order, after the originals). So the
 *   position to start from is found by a search over positions with direct gets
 *   (`next_by_subj`: the room's first message at or after a position; the stream allows
 *   direct gets): it guesses from the seqs met so far where seq `since` lies (seqs are
 *   dense, so a guess usually lands within a few positions) and halves the interval after
 *   a guess that did not, so it takes a few requests and never more than about
 *   2·log2(room span).
 *   The page is then read from there through a short-lived pull consumer filtered on the
 *   room, in fetches sized by what the page still has room for (count and bytes), so the
 *   server delivers little beyond the page; when that consumer cannot be created in time
 *   (a cluster's meta leader in a failover), one direct get at a time, as are the requests
 *   of the next DIRECT_ONLY_MS (each try would cost them half their time). The request's
 *   deadline, when its Shield stops waiting, bounds every call. Presence events share the
 *   subject but carry no seq: they are skipped (a search step that meets only those keeps
 *   its lower bound, which errs toward reading a little more, never toward losing a
 *   message). Without
 *   direct gets (a stream whose configuration another Brain keeps) the page is read from
 *   the room's first message, still no further than the page.
 *
 *   Where the room stands: the counter in Redis (the last committed seq) or, when newer,
 *   the seq of the room's last message in the stream (published, its commit a few
 *   milliseconds away: ADR 0009), one direct get. A client that is up to date is answered
 *   without reading further. A page that is read goes on to the stream's end (the
 *   consumer reports nothing pending) or its limit, not only to that seq: when presence
 *   events were stored after the newest message, the direct get found one of those, and
 *   the newest message, not yet committed, is still the client's to read.
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
#include "protocol/envelope_json.h"
#include "protocol/headers.h"
#include "protocol/subjects.h"
#include "spine/retired.h"

#define FETCH_WAIT_MS 500
#define FETCH_MAX 256           /* messages asked for in one fetch */
#define SEARCH_STEPS_MAX 130    /* every other step halves: 2^64 positions end before */
#define PRESENCE_SKIP_MAX 4     /* messages without seq passed over at one search step */
#define CONSUMER_INACTIVE_S 10  /* the server deletes a consumer a dead Brain left */
#define DIRECT_ONLY_MS 5000     /* after a consumer could not be created, try again this late */

static uint64_t latest_seq(arq_brain_t *b, const char *tenant, const char *room, bool *ok) {
  redisReply *r = arq_store_command(&b->store, "GET arq:{%s}:room:%s:seq", tenant, room);
  *ok = r != NULL;
  uint64_t v = r && r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
  if (r)
    freeReplyObject(r);
  return v;
}

/* A room message found by a direct get: its stream position and its seq (0: none, a
 * presence event). */
typedef struct {
  uint64_t pos, seq;
} found_t;

/* The seq of a stored room message: from Nats-Msg-Id "<T>.<R>.<seq>" (set by the
 * sequencer), else from the envelope. */
static uint64_t stored_seq(natsMsg *m) {
  const char *id = NULL;
  if (natsMsgHeader_Get(m, ARQ_HEADER_MSG_ID, &id) == NATS_OK && id) {
    const char *dot = strrchr(id, '.');
    if (dot && dot[1] >= '0' && dot[1] <= '9')
      return strtoull(dot + 1, NULL, 10);
  }
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(m),
                                                       (const uint8_t *)natsMsg_GetData(m));
  uint64_t seq = e ? e->seq : 0;
  if (e)
    arqon__v1__envelope__free_unpacked(e, NULL);
  return seq;
}

/* Every NATS call of a request waits at most until its deadline (never less than a
 * millisecond: nats.c takes 0 as its default). */
static void wait_until(jsOptions *o, int64_t deadline_ms) {
  jsOptions_Init(o);
  int64_t left = deadline_ms - arq_monotonic_ms();
  o->Wait = left > 1 ? left : 1;
}

/* The room's first message at position >= from (or its last one when from is 0); the
 * message itself goes to *keep when asked for. 1 found, 0 none, -1 direct gets failed. */
static int direct_get(arq_brain_t *b, const char *subject, uint64_t from, int64_t deadline_ms,
                      found_t *out, natsMsg **keep) {
  jsDirectGetMsgOptions o;
  jsDirectGetMsgOptions_Init(&o);
  if (from) {
    o.Sequence = from;
    o.NextBySubject = subject;
  } else {
    o.LastBySubject = subject;
  }
  jsOptions wait;
  wait_until(&wait, deadline_ms);
  natsMsg *m = NULL;
  natsStatus st = js_DirectGetMsg(&m, b->js, ARQ_STREAM_ROOMS, &wait, &o);
  if (st == NATS_NOT_FOUND)
    return 0;
  if (st != NATS_OK)
    return -1;
  const char *pos = NULL;
  if (natsMsgHeader_Get(m, JSSequence, &pos) != NATS_OK || !pos) {
    natsMsg_Destroy(m);
    return -1;
  }
  out->pos = strtoull(pos, NULL, 10);
  out->seq = stored_seq(m);
  if (keep && out->pos)
    *keep = m;
  else
    natsMsg_Destroy(m);
  return out->pos ? 1 : -1;
}

/* The first message with a seq at position >= from and < end, passing over a few presence
 * events. 1 found, 0 none (or only presence events within the few), -1 failure. */
static int next_sequenced(arq_brain_t *b, const char *subject, uint64_t from, uint64_t end,
                          int64_t deadline_ms, found_t *out) {
  for (int i = 0; i <= PRESENCE_SKIP_MAX; i++) {
    int rc = direct_get(b, subject, from, deadline_ms, out, NULL);
    if (rc <= 0 || out->pos >= end)
      return rc < 0 ? -1 : 0;
    if (out->seq)
      return 1;
    from = out->pos + 1;
  }
  return 0;
}

/* The stream position to read the page from: at or before the room's first stored message
 * with seq > since. Sets *empty when the stream holds nothing newer. -1 when direct gets
 * fail (the caller reads from the room's first message). */
static int find_start(arq_brain_t *b, const char *subject, uint64_t since, int64_t deadline_ms,
                      uint64_t *start, bool *empty) {
  found_t first, last;
  *empty = false;
  int rc = direct_get(b, subject, 1, deadline_ms, &first, NULL);
  if (rc <= 0) {
    *empty = rc == 0;
    return rc;
  }
  *start = first.pos;
  if (first.seq > since || since == 0)
    return 0;
  if ((rc = direct_get(b, subject, 0, deadline_ms, &last, NULL)) <= 0) {
    *empty = rc == 0;
    return rc;
  }
  if (last.seq && last.seq <= since) {
    *empty = true; /* retention dropped what was newer, or it is not stored yet */
    return 0;
  }
  /* Smallest position p in (first.pos, last.pos] whose next sequenced message has
   * seq > since: lo only moves past a message seen to be <= since. Each step guesses where
   * seq `since` lies from the seqs at both ends (seqs of a room are dense, so one or two
   * guesses usually land), and halves the interval instead when a guess did not. */
  uint64_t lo = first.pos + 1, hi = last.pos, lo_seq = first.seq, hi_seq = last.seq;
  bool halve = false;
  for (int steps = 0; lo < hi && steps < SEARCH_STEPS_MAX; steps++) {
    uint64_t width = hi - lo, mid = lo + width / 2;
    if (!halve && hi_seq > lo_seq) {
      double at = (double)(lo - 1) + (double)(since - lo_seq) * (double)(hi - lo + 1) /
                                         (double)(hi_seq - lo_seq);
      mid = at <= (double)lo ? lo : at >= (double)(hi - 1) ? hi - 1 : (uint64_t)at;
    }
    found_t m;
    rc = next_sequenced(b, subject, mid, hi, deadline_ms, &m);
    if (rc < 0)
      return -1;
    if (rc == 1 && m.seq == since) {
      lo = m.pos + 1; /* seqs are dense: the next sequenced message is since + 1 */
      break;
    }
    if (rc == 1 && m.seq < since) {
      lo = m.pos + 1;
      lo_seq = m.seq;
    } else {
      hi = mid;
      if (rc == 1)
        hi_seq = m.seq;
    }
    halve = !halve && hi - lo > width / 2; /* a guess that did not halve: halve next */
  }
  *start = lo;
  return 0;
}

/* The page being built: the JSON of its messages and where it stands. */
typedef struct {
  arq_buf_t out;
  uint64_t last, latest;    /* the last seq taken (since_seq at first), the room's last seq */
  uint32_t count, omitted, limit;
  size_t room_left;         /* bytes the messages may take in one NATS reply */
  size_t read_bytes, read_msgs;
} page_t;

/* Adds one stored message of the room (presence events and duplicates a takeover left
 * are passed over); true when the page is complete. */
static bool page_add(page_t *pg, natsMsg *m) {
  pg->read_msgs++;
  pg->read_bytes += (size_t)natsMsg_GetDataLength(m);
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(NULL, (size_t)natsMsg_GetDataLength(m),
                                                       (const uint8_t *)natsMsg_GetData(m));
  if (!e)
    return false;
  if (e->seq > pg->last) {
    size_t mark = pg->out.len;
    if (pg->count)
      arq_buf_putc(&pg->out, ',');
    arq_envelope_to_json(e, &pg->out);
    if (pg->out.len > pg->room_left) {
      /* The reply must fit in one NATS message: stop here, next_seq says where to go on.
       * A single message too large for any page is passed over (counted). */
      pg->out.len = mark;
      pg->out.data[mark] = '\0';
      if (pg->count) {
        arqon__v1__envelope__free_unpacked(e, NULL);
        return true;
      }
      pg->omitted++;
    } else {
      pg->count++;
    }
    pg->last = e->seq;
  }
  /* A message newer than the room's last commit is published, its commit a few
   * milliseconds away (ADR 0009): it belongs in the page, and latest_seq says so. */
  if (e->seq > pg->latest)
    pg->latest = e->seq;
  bool done = pg->count >= pg->limit;
  arqon__v1__envelope__free_unpacked(e, NULL);
  return done;
}

/* The usual read: a short-lived pull consumer filtered on the room, from `start`, in
 * fetches sized by what the page still has room for. false when the consumer could not
 * be created (in a cluster that is a request to the meta leader, which a failover can
 * keep from answering for seconds): it waits at most half of what is left of the
 * request's time, so the other half remains for reading with direct gets. */
static bool read_by_consumer(arq_brain_t *b, const char *subject, uint64_t start, page_t *pg,
                             int64_t deadline_ms) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = ARQ_STREAM_ROOMS;
  so.Config.DeliverPolicy = start ? js_DeliverByStartSequence : js_DeliverAll;
  so.Config.OptStartSeq = start;
  so.Config.AckPolicy = js_AckNone;
  so.Config.InactiveThreshold = CONSUMER_INACTIVE_S * 1000000000LL;
  int64_t now = arq_monotonic_ms();
  jsOptions wait;
  wait_until(&wait, now + (deadline_ms - now) / 2);
  natsSubscription *sub = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_PullSubscribe(&sub, b->js, subject, NULL, &wait, &so, &jerr);
  if (st != NATS_OK)
    return false;
  bool done = false;
  while (!done && pg->count < pg->limit) {
    /* Ask for what the page still has room for: by count, and by bytes at the size of
     * the messages read so far (one at a time until one was read). */
    size_t want = pg->limit - pg->count;
    if (pg->read_msgs) {
      size_t avg = pg->read_bytes / pg->read_msgs + 1,
             fit = pg->out.len < pg->room_left ? (pg->room_left - pg->out.len) / avg : 0;
      want = fit + 1 < want ? fit + 1 : want;
    } else {
      want = 1;
    }
    int64_t left = deadline_ms - arq_monotonic_ms();
    if (left <= 0)
      break;
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = (int)(want < FETCH_MAX ? want : FETCH_MAX);
    fr.NoWait = true;
    fr.Expires = (left < FETCH_WAIT_MS ? left : FETCH_WAIT_MS) * 1000000LL;
    natsMsgList list = {0};
    if (natsSubscription_FetchRequest(&list, sub, &fr) != NATS_OK || list.Count == 0) {
      natsMsgList_Destroy(&list);
      break;
    }
    for (int i = 0; i < list.Count && !done; i++) {
      uint64_t pending = 0;
      jsMsgMetaData *meta = NULL;
      if (natsMsg_GetMetaData(&meta, list.Msgs[i]) == NATS_OK) {
        pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
      }
      done = page_add(pg, list.Msgs[i]) || pending == 0;
    }
    natsMsgList_Destroy(&list);
  }
  arq_sub_retire(sub); /* unsubscribing deletes the consumer; spine/retired.h */
  return true;
}

/* The page read one direct get at a time (the room's next message after the last one
 * read), when no consumer could be created: any replica answers direct gets, without the
 * meta leader. Until the page is complete, the room has nothing more, or the deadline. */
static void read_by_direct_gets(arq_brain_t *b, const char *subject, uint64_t start, page_t *pg,
                                int64_t deadline_ms) {
  uint64_t from = start ? start : 1;
  while (arq_monotonic_ms() < deadline_ms) {
    found_t f;
    natsMsg *m = NULL;
    if (direct_get(b, subject, from, deadline_ms, &f, &m) != 1)
      return;
    bool done = page_add(pg, m);
    natsMsg_Destroy(m);
    if (done)
      return;
    from = f.pos + 1;
  }
}

/* The page, by a consumer or, while none can be created, by direct gets (when the stream
 * allows them). While consumers cannot be created, each try would cost half of a
 * request's time: requests go straight to direct gets for DIRECT_ONLY_MS after one failed.
 * false when nothing could be read in time. */
static bool read_page(arq_brain_t *b, const char *subject, uint64_t start, bool direct, page_t *pg,
                      int64_t deadline_ms) {
  if (!direct || arq_monotonic_ms() >= b->history_direct_until_ms) {
    if (read_by_consumer(b, subject, start, pg, deadline_ms))
      return true;
    if (direct)
      b->history_direct_until_ms = arq_monotonic_ms() + DIRECT_ONLY_MS;
  }
  if (direct)
    read_by_direct_gets(b, subject, start, pg, deadline_ms);
  return pg->count || pg->omitted;
}

void arq_history_request(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                         const char *trace, const uint8_t *args, size_t args_len,
                         int64_t deadline_ms) {
  arq_brain_history_args_t a;
  char err[160];
  if (arq_brain_history_args(args, args_len, &a, err, sizeof err)) {
    arq_brain_reply_error(b, msg, tenant, room, trace, 400, err);
    return;
  }
  bool ok;
  page_t pg = {.last = a.since_seq, .limit = a.limit};
  pg.latest = latest_seq(b, tenant, room, &ok);
  if (!ok) {
    arq_brain_reply_error(b, msg, tenant, room, trace, 503, "room store unavailable");
    return;
  }
  /* Room for the messages in the reply: the server's payload limit minus the envelope and
   * the JSON around the array. */
  int64_t max_payload = natsConnection_GetMaxPayload(b->nc);
  pg.room_left = max_payload > 8192 ? (size_t)max_payload - 4096 : 4096;
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_room(subject, sizeof subject, tenant, room);
  /* The counter in Redis is the last committed seq; the sequencer commits a few
   * milliseconds after it published (ADR 0009), and a member may have the message already
   * and ask at once. The room's last message in the stream says so (one direct get). */
  found_t tail;
  if (direct_get(b, subject, 0, deadline_ms, &tail, NULL) == 1 && tail.seq > pg.latest)
    pg.latest = tail.seq;
  uint64_t start = 0;
  bool empty = pg.latest <= a.since_seq, direct = true;
  if (!empty && find_start(b, subject, a.since_seq, deadline_ms, &start, &empty) < 0) {
    start = 0;
    empty = false;
    direct = false;
    ARQ_LOG(ARQ_LOG_WARN, "brain", "history: no direct get on the stream; reading the room from its start",
            {"stream", ARQ_STREAM_ROOMS}, {"tenant_id", tenant}, {"room", room}, {"trace_id", trace});
  }
  arq_buf_init(&pg.out);
  arq_buf_puts(&pg.out, "{\"messages\":[");
  if (!empty && !read_page(b, subject, start, direct, &pg, deadline_ms)) {
    /* Nothing could be read in time, though the room has newer messages. */
    arq_buf_free(&pg.out);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "history: cannot read the stream in time", {"stream", ARQ_STREAM_ROOMS},
            {"tenant_id", tenant}, {"room", room}, {"trace_id", trace});
    arq_brain_reply_error(b, msg, tenant, room, trace, 503, "history unavailable");
    return;
  }
  arq_buf_printf(&pg.out, "],\"next_seq\":%llu,\"latest_seq\":%llu", (unsigned long long)pg.last,
                 (unsigned long long)pg.latest);
  if (pg.omitted)
    arq_buf_printf(&pg.out, ",\"omitted\":%u", pg.omitted);
  arq_buf_putc(&pg.out, '}');
  arq_brain_reply(b, msg, tenant, room, trace, "history", pg.out.data, pg.out.len);
  ARQ_LOG(ARQ_LOG_DEBUG, "brain", "history served", {"tenant_id", tenant}, {"room", room},
          {"trace_id", trace});
  arq_buf_free(&pg.out);
}
