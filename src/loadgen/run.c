#include "loadgen/run.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "arqon/v1/envelope.pb-c.h"
#include "loadgen/metrics.h"
#include "loadgen/natsproto.h"
#include "loadgen/scan.h"
#include "net/loop.h"
#include "net/ws_client.h"

#define MAX_UNSENT (1u << 20) /* a client with more queued than this is skipped by pacing */
#define SETTLE_MS 200         /* lets room subscriptions reach nats-server before publishing */
#define HDR ARQ_BENCH_ROOMS_HEADER

typedef enum { C_IDLE, C_CONNECTING, C_WAIT_WELCOME, C_WAIT_JOIN, C_WAIT_INFO, C_WAIT_PONG,
               C_READY, C_DEAD } conn_phase_t;
typedef enum { R_CONNECT, R_SETTLE, R_HOLD, R_SEND, R_DRAIN, R_DONE } run_phase_t;

typedef struct run run_t;

/* A growable bitmap (rooms mode): bit i set = counter i seen (or refused). */
typedef struct {
  uint64_t *w;
  size_t words;
} bits_t;

typedef struct {
  arq_ws_client_t ws;
  run_t *run;
  uint32_t index;
  conn_phase_t phase;
  arq_nats_parser_t np;
  /* rooms mode: what this connection received of its room */
  uint32_t room;
  bits_t seen;
  uint64_t next;     /* the highest counter received + 1 */
  uint64_t last_seq; /* the highest seq received (Shield) */
} bconn_t;

/* One room of rooms mode. */
typedef struct {
  uint64_t sent; /* messages published, and so the next counter */
  long live;     /* its connections ready and not closed (the publisher included) */
  bits_t refused;
  uint64_t *seq_of; /* counter -> the seq first seen for it, 0 while none (Shield) */
  size_t seq_cap;
} room_t;

struct run {
  const arq_bench_opts_t *o;
  const arq_bench_hooks_t *hooks;
  arq_bench_result_t *res;
  arq_loop_t *loop;
  bconn_t *conns;
  long next, in_flight, settled; /* connects started, not yet settled, settled */
  bool starting;                 /* inside start_connects: a failure must not recurse */
  run_phase_t phase;
  arq_timer_t tick, progress, deadline;
  uint64_t t0_ns, send_start_ns, send_end_ns, last_rx_ns;
  long rr; /* the next publisher to try */
  struct sockaddr_storage addr, src;
  socklen_t alen, slen; /* slen 0: no source address */
  char host[256], hostport[300];
  const char *path;
  char tag[17]; /* per-run subject token for nats-ws, so two runs never mix */
  uint64_t tag_v;
  uint8_t *pad; /* rooms mode: a HDR-byte header, rewritten for each message, then padding */
  arq_buf_t scratch;
  room_t *rooms;
  uint64_t burst_start_ns, burst_end_ns, last_dl_ns, last_burst_dl_ns;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void put_hex16(uint64_t v, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, v >>= 4)
    out[i] = hex[v & 15];
}

static void to_hex16(uint64_t v, char out[17]) {
  put_hex16(v, out);
  out[16] = '\0';
}

static bool from_hex16(const void *p, size_t len, uint64_t *v) {
  if (len < 16)
    return false;
  const char *s = p;
  uint64_t x = 0;
  for (int i = 0; i < 16; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      return false;
    x = x << 4 | (uint64_t)d;
  }
  *v = x;
  return true;
}

/* The time of an answer, kept as the last one seen so that throughput counts the answers
 * that arrive after publishing stopped over the time they really took. */
static uint64_t received(run_t *r) {
  r->last_rx_ns = now_ns();
  return r->last_rx_ns;
}

static bool per_conn_room(const run_t *r) { return r->o->mode == ARQ_BENCH_ROUNDTRIP; }
static bool rooms_mode(const run_t *r) { return r->o->mode == ARQ_BENCH_ROOMS; }

/* The room (Shield) or subject (nats-ws) a client joins and publishes to. */
static void room_of(const run_t *r, uint32_t index, char *out, size_t cap) {
  if (rooms_mode(r))
    snprintf(out, cap, r->o->target == ARQ_BENCH_SHIELD ? "%s-%ld" : "%s.%ld", r->o->room,
             (long)index / (r->o->members + 1));
  else if (r->o->target == ARQ_BENCH_SHIELD)
    per_conn_room(r) ? snprintf(out, cap, "%s-%u", r->o->room, index)
                     : snprintf(out, cap, "%s", r->o->room);
  else
    per_conn_room(r) ? snprintf(out, cap, "bench.%s.%u", r->tag, index)
                     : snprintf(out, cap, "bench.%s.all", r->tag);
}

static void note(char *dst, size_t cap, const char *what) {
  if (!*dst)
    snprintf(dst, cap, "%s", what);
}

static void record_code(arq_bench_result_t *res, int code) {
  for (int i = 0; i < ARQ_BENCH_MAX_CODES; i++) {
    if (res->codes[i].count && res->codes[i].code != code)
      continue;
    res->codes[i].code = code;
    res->codes[i].count++;
    return;
  }
}

static void start_connects(run_t *r);
static void connect_phase_check(run_t *r);
static void drain_check(run_t *r);

/* ---- rooms mode: the schedule, bitmaps, and the checks on each delivery ---- */

/* Messages due t seconds into the run: --rate, with --burst-rate from duration/3 on for
 * --burst-s seconds (cut at the end of the run). */
static bool burst_window(const arq_bench_opts_t *o, double *b0, double *b1) {
  if (o->mode != ARQ_BENCH_ROOMS || o->burst_rate <= 0 || o->burst_s <= 0)
    return false;
  *b0 = o->duration_s / 3;
  *b1 = *b0 + o->burst_s < o->duration_s ? *b0 + o->burst_s : o->duration_s;
  return true;
}

static double due_at(const arq_bench_opts_t *o, double t) {
  double b0, b1;
  if (t > o->duration_s)
    t = o->duration_s;
  if (!burst_window(o, &b0, &b1))
    return o->rate * t;
  if (t <= b0)
    return o->rate * t;
  if (t <= b1)
    return o->rate * b0 + o->burst_rate * (t - b0);
  return o->rate * b0 + o->burst_rate * (b1 - b0) + o->rate * (t - b1);
}

/* Makes room for bit i; growing doubles, so a room that gets more than foreseen costs a
 * few reallocations, not one per message. */
static void bits_fit(bits_t *b, uint64_t i) {
  size_t need = (size_t)(i / 64) + 1;
  if (need <= b->words)
    return;
  size_t words = b->words * 2 > need ? b->words * 2 : need;
  uint64_t *w = realloc(b->w, words * sizeof *w);
  if (!w)
    arq_oom("arq bench bitmap");
  memset(w + b->words, 0, (words - b->words) * sizeof *w);
  b->w = w;
  b->words = words;
}

static bool bits_test_set(bits_t *b, uint64_t i) {
  bits_fit(b, i);
  uint64_t m = 1ull << (i % 64), *w = &b->w[i / 64];
  bool was = *w & m;
  *w |= m;
  return was;
}

static uint64_t bits_word(const bits_t *b, size_t k) { return k < b->words ? b->w[k] : 0; }

static void seq_fit(room_t *rm, uint64_t counter) {
  if (counter < rm->seq_cap)
    return;
  size_t cap = rm->seq_cap * 2 > counter + 1 ? rm->seq_cap * 2 : (size_t)counter + 1;
  uint64_t *p = realloc(rm->seq_of, cap * sizeof *p);
  if (!p)
    arq_oom("arq bench seq table");
  memset(p + rm->seq_cap, 0, (cap - rm->seq_cap) * sizeof *p);
  rm->seq_of = p;
  rm->seq_cap = cap;
}

/* Writes the header of the next message of c's room into r->pad. */
static void rooms_stamp(run_t *r, const bconn_t *c) {
  put_hex16(now_ns(), (char *)r->pad);
  put_hex16(r->rooms[c->room].sent, (char *)r->pad + 16);
  put_hex16(r->tag_v, (char *)r->pad + 32);
}

/* One delivery to member c: the payload (header first) and, from the Shield, the seq. */
static void rooms_delivery(bconn_t *c, const uint8_t *p, size_t len, uint64_t seq, bool with_seq) {
  run_t *r = c->run;
  arq_bench_result_t *res = r->res;
  room_t *rm = &r->rooms[c->room];
  uint64_t sent_at, counter, tag;
  if (len < HDR || !from_hex16(p, 16, &sent_at) || !from_hex16(p + 16, 16, &counter) ||
      !from_hex16(p + 32, 16, &tag) || tag != r->tag_v || counter >= rm->sent) {
    res->rooms.foreign++;
    return;
  }
  uint64_t now = received(r);
  r->last_dl_ns = now;
  if (with_seq) {
    if (!seq) {
      res->rooms.seq_missing++;
    } else {
      if (c->last_seq && seq > c->last_seq + 1) {
        res->rooms.seq_gaps++;
        res->rooms.seq_gap_missing += seq - c->last_seq - 1;
      } else if (c->last_seq && seq <= c->last_seq) {
        res->rooms.seq_repeats++;
      }
      if (seq > c->last_seq)
        c->last_seq = seq;
      seq_fit(rm, counter);
      if (!rm->seq_of[counter])
        rm->seq_of[counter] = seq;
      else if (rm->seq_of[counter] != seq)
        res->rooms.seq_mismatches++;
    }
  }
  if (bits_test_set(&c->seen, counter)) {
    res->rooms.duplicates++;
    return;
  }
  if (counter + 1 < c->next)
    res->rooms.out_of_order++;
  else
    c->next = counter + 1;
  res->delivered++;
  uint64_t lat = now > sent_at ? now - sent_at : 0;
  arq_hist_record(res->rt, lat);
  if (res->rooms.phase[0]) {
    int ph = sent_at < r->burst_start_ns ? 0 : sent_at < r->burst_end_ns ? 1 : 2;
    arq_hist_record(res->rooms.phase[ph], lat);
    if (ph == 1)
      r->last_burst_dl_ns = now;
  }
}

/* After the run: every (receiver, counter) pair that neither arrived nor was refused. */
static void rooms_count_lost(run_t *r) {
  const arq_bench_opts_t *o = r->o;
  for (long i = 0; i < o->connections; i++) {
    const bconn_t *c = &r->conns[i];
    if (c->phase != C_READY)
      continue;
    const room_t *rm = &r->rooms[c->room];
    for (size_t k = 0; (uint64_t)k * 64 < rm->sent; k++) {
      uint64_t valid = rm->sent - (uint64_t)k * 64 >= 64 ? ~0ull : (1ull << (rm->sent % 64)) - 1;
      uint64_t missing = ~(bits_word(&c->seen, k) | bits_word(&rm->refused, k)) & valid;
      r->res->rooms.lost += (uint64_t)__builtin_popcountll(missing);
    }
  }
}

/* Sizes the bitmaps for the messages the schedule foresees, with a margin. */
static void rooms_alloc(run_t *r) {
  const arq_bench_opts_t *o = r->o;
  uint64_t per_room = (uint64_t)(due_at(o, o->duration_s) / (double)o->rooms * 1.25) + 64;
  size_t words = (size_t)(per_room / 64) + 1;
  r->rooms = calloc((size_t)o->rooms, sizeof *r->rooms);
  if (!r->rooms)
    arq_oom("arq bench rooms");
  for (long k = 0; k < o->rooms; k++) {
    bits_fit(&r->rooms[k].refused, (uint64_t)words * 64 - 1);
    if (o->target == ARQ_BENCH_SHIELD)
      seq_fit(&r->rooms[k], per_room);
  }
  for (long i = 0; i < o->connections; i++) {
    r->conns[i].room = (uint32_t)(i / (o->members + 1));
    bits_fit(&r->conns[i].seen, (uint64_t)words * 64 - 1);
  }
}

static void rooms_free(run_t *r) {
  if (!r->rooms)
    return;
  for (long k = 0; k < r->o->rooms; k++) {
    free(r->rooms[k].refused.w);
    free(r->rooms[k].seq_of);
  }
  for (long i = 0; i < r->o->connections; i++)
    free(r->conns[i].seen.w);
  free(r->rooms);
}

/* ---- readiness ---- */

static void settle(bconn_t *c, bool ok, const char *why) {
  run_t *r = c->run;
  c->phase = ok ? C_READY : C_DEAD;
  if (ok) {
    r->res->ready++;
    if (r->rooms)
      r->rooms[c->room].live++;
  } else {
    r->res->connect_failed++;
    note(r->res->first_failure, sizeof r->res->first_failure, why);
  }
  r->in_flight--;
  r->settled++;
  if (r->phase == R_CONNECT && !r->starting) {
    start_connects(r);
    connect_phase_check(r);
  }
}

/* ---- the Shield's protocol ---- */

static void send_envelope(bconn_t *c, Arqon__V1__Envelope *e) {
  run_t *r = c->run;
  size_t n = arqon__v1__envelope__get_packed_size(e);
  arq_buf_reset(&r->scratch);
  arq_buf_reserve(&r->scratch, n);
  arqon__v1__envelope__pack(e, (uint8_t *)r->scratch.data);
  arq_ws_client_send(&c->ws, ARQ_WS_OP_BINARY, r->scratch.data, n);
}

static void send_join(bconn_t *c) {
  char room[160];
  room_of(c->run, c->index, room, sizeof room);
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Command cmd = ARQON__V1__COMMAND__INIT;
  cmd.type = "join";
  e.id = "join";
  e.room_id = room;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_CMD;
  e.cmd = &cmd;
  send_envelope(c, &e);
}

static void shield_publish(bconn_t *c) {
  run_t *r = c->run;
  char room[160], id[33];
  room_of(r, c->index, room, sizeof room);
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  ev.type = "bench";
  ev.data.data = r->pad;
  ev.data.len = (size_t)r->o->size;
  e.room_id = room;
  e.id = id;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  if (rooms_mode(r)) {
    /* The Brain's broadcast has no id: time and counter travel in the data; the id (time
     * and counter) times the ack and ties an error to its message. */
    rooms_stamp(r, c);
    ev.data.len += HDR;
    memcpy(id, r->pad, 32);
    id[32] = '\0';
  } else {
    to_hex16(now_ns(), id);
  }
  send_envelope(c, &e);
}

/* An error for rooms-mode message `counter` of c's room: it will never be delivered. */
static void rooms_refused(bconn_t *c, uint64_t counter) {
  run_t *r = c->run;
  room_t *rm = &r->rooms[c->room];
  if (counter >= rm->sent || bits_test_set(&rm->refused, counter))
    return;
  r->res->rooms.refused++;
  uint64_t live = rm->live > 0 ? (uint64_t)rm->live : 0, *expected = &r->res->delivered_expected;
  *expected -= live < *expected ? live : *expected;
}

static int error_code(const arq_bench_env_t *e) {
  const char *p = e->event_data_len ? memmem(e->event_data, e->event_data_len, "\"code\":", 7) : NULL;
  return p ? atoi(p + 7) : 0;
}

static bool is(const uint8_t *s, size_t len, const char *lit) {
  return s && len == strlen(lit) && !memcmp(s, lit, len);
}

static void shield_message(bconn_t *c, const uint8_t *data, size_t len) {
  run_t *r = c->run;
  arq_bench_result_t *res = r->res;
  arq_bench_env_t e;
  if (arq_bench_scan_envelope(data, len, &e) || !e.has_event || !e.event_type) {
    res->other++;
    return;
  }
  const uint8_t *type = e.event_type, *id = e.id;
  size_t tl = e.event_type_len, il = e.id_len;
  uint64_t sent_at;
  if (is(type, tl, "welcome") && c->phase == C_WAIT_WELCOME) {
    if (r->o->join) {
      c->phase = C_WAIT_JOIN;
      send_join(c);
    } else {
      settle(c, true, NULL);
    }
  } else if (is(type, tl, "ack") && is(id, il, "join")) {
    if (c->phase == C_WAIT_JOIN)
      settle(c, true, NULL);
  } else if (is(type, tl, "ack") && (il == 16 || (il == 32 && rooms_mode(r))) &&
             from_hex16(id, il, &sent_at)) {
    res->acked++;
    arq_hist_record(res->ack, received(r) - sent_at);
  } else if (is(type, tl, "error")) {
    char why[200];
    snprintf(why, sizeof why, "error %d: %.*s", error_code(&e), (int)e.event_data_len,
             (const char *)e.event_data);
    if (c->phase == C_WAIT_JOIN && is(id, il, "join")) {
      settle(c, false, why);
    } else {
      res->errors++;
      record_code(res, error_code(&e));
      note(res->first_error, sizeof res->first_error, why);
      uint64_t counter;
      if (rooms_mode(r) && il == 32 && from_hex16(id + 16, 16, &counter))
        rooms_refused(c, counter);
    }
  } else if (is(type, tl, "bench") && rooms_mode(r)) {
    rooms_delivery(c, e.event_data, e.event_data_len, e.seq, true);
  } else if (is(type, tl, "bench") && il == 16 && from_hex16(id, il, &sent_at)) {
    res->delivered++;
    arq_hist_record(res->rt, received(r) - sent_at);
  } else {
    res->other++;
  }
  drain_check(r);
}

/* ---- the NATS protocol over nats-server's WebSocket listener ---- */

static void nats_send(bconn_t *c, const char *text) {
  arq_ws_client_send(&c->ws, ARQ_WS_OP_BINARY, text, strlen(text));
}

static void nats_publish(bconn_t *c) {
  run_t *r = c->run;
  char subject[160], head[200], stamp[17];
  room_of(r, c->index, subject, sizeof subject);
  size_t n = (rooms_mode(r) ? HDR : 16) + (size_t)r->o->size;
  int hl = snprintf(head, sizeof head, "PUB %s %zu\r\n", subject, n);
  arq_buf_reset(&r->scratch);
  arq_buf_append(&r->scratch, head, (size_t)hl);
  if (rooms_mode(r)) {
    rooms_stamp(r, c);
    arq_buf_append(&r->scratch, r->pad, HDR + (size_t)r->o->size);
  } else {
    to_hex16(now_ns(), stamp);
    arq_buf_append(&r->scratch, stamp, 16);
    arq_buf_append(&r->scratch, r->pad, (size_t)r->o->size);
  }
  arq_buf_append(&r->scratch, "\r\n", 2);
  arq_ws_client_send(&c->ws, ARQ_WS_OP_BINARY, r->scratch.data, r->scratch.len);
}

static void nats_op(void *ud, const arq_nats_msg_t *m) {
  bconn_t *c = ud;
  run_t *r = c->run;
  uint64_t sent_at;
  switch (m->op) {
  case ARQ_NATS_OP_INFO:
    if (c->phase == C_WAIT_INFO) {
      char subject[160], text[512];
      room_of(r, c->index, subject, sizeof subject);
      snprintf(text, sizeof text,
               "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":true,\"protocol\":1,"
               "\"lang\":\"c\",\"version\":\"arq-bench\",\"name\":\"arq-bench-%u\"}\r\n"
               "SUB %s 1\r\nPING\r\n", c->index, subject);
      c->phase = C_WAIT_PONG;
      nats_send(c, text);
    }
    break;
  case ARQ_NATS_OP_PING:
    nats_send(c, "PONG\r\n");
    break;
  case ARQ_NATS_OP_PONG:
    if (c->phase == C_WAIT_PONG)
      settle(c, true, NULL);
    break;
  case ARQ_NATS_OP_ERR: {
    char why[200];
    snprintf(why, sizeof why, "-ERR %.*s", (int)m->arg_len, m->arg);
    r->res->errors++;
    note(r->res->first_error, sizeof r->res->first_error, why);
    break;
  }
  case ARQ_NATS_OP_MSG:
    if (rooms_mode(r)) {
      rooms_delivery(c, m->payload, m->payload_len, 0, false);
    } else if (from_hex16(m->payload, m->payload_len, &sent_at)) {
      r->res->delivered++;
      arq_hist_record(r->res->rt, received(r) - sent_at);
    } else {
      r->res->other++;
    }
    break;
  case ARQ_NATS_OP_OK:
    break;
  }
}

/* ---- client callbacks ---- */

static void on_open(arq_ws_client_t *ws) {
  bconn_t *c = ws->data;
  c->phase = c->run->o->target == ARQ_BENCH_SHIELD ? C_WAIT_WELCOME : C_WAIT_INFO;
}

static void on_message(arq_ws_client_t *ws, bool binary, const uint8_t *data, size_t len) {
  bconn_t *c = ws->data;
  if (c->run->o->target == ARQ_BENCH_SHIELD) {
    if (binary)
      shield_message(c, data, len);
    else
      c->run->res->other++;
    return;
  }
  if (arq_nats_parser_feed(&c->np, data, len, nats_op, c)) {
    note(c->run->res->first_error, sizeof c->run->res->first_error, "NATS protocol error");
    c->run->res->errors++;
  }
  drain_check(c->run);
}

static void on_close(arq_ws_client_t *ws, const char *why) {
  bconn_t *c = ws->data;
  if (c->phase == C_READY) {
    c->phase = C_DEAD;
    c->run->res->closed_during_run++;
    if (c->run->rooms)
      c->run->rooms[c->room].live--;
    note(c->run->res->first_failure, sizeof c->run->res->first_failure, why);
  } else if (c->phase != C_DEAD) {
    settle(c, false, why);
  }
}

static const arq_ws_client_handlers_t handlers = {on_open, on_message, on_close};

/* ---- phases ---- */

static void finish(run_t *r) {
  if (r->phase == R_DONE)
    return;
  if (r->send_start_ns && r->last_rx_ns > r->send_start_ns)
    r->res->rx_s = (double)(r->last_rx_ns - r->send_start_ns) / 1e9;
  if (r->send_end_ns && r->last_dl_ns > r->send_end_ns)
    r->res->rooms.drain_s = (double)(r->last_dl_ns - r->send_end_ns) / 1e9;
  if (r->burst_end_ns && r->last_burst_dl_ns > r->burst_end_ns)
    r->res->rooms.burst_drain_s = (double)(r->last_burst_dl_ns - r->burst_end_ns) / 1e9;
  r->phase = R_DONE;
  arq_timer_stop(r->loop, &r->tick);
  arq_timer_stop(r->loop, &r->deadline);
  arq_timer_stop(r->loop, &r->progress);
  if (r->hooks && r->hooks->finished)
    r->hooks->finished(r->hooks->ud);
  arq_loop_stop(r->loop);
}

static void start_connects(run_t *r) {
  const arq_bench_opts_t *o = r->o;
  r->starting = true;
  while (r->in_flight < o->concurrency && r->next < o->connections) {
    bconn_t *c = &r->conns[r->next];
    c->run = r;
    c->index = (uint32_t)r->next++;
    arq_nats_parser_init(&c->np);
    char target[2048], err[256];
    if (o->target == ARQ_BENCH_SHIELD) {
      char *token = o->token(o->token_ud, c->index, err, sizeof err);
      if (!token) {
        r->in_flight++;
        settle(c, false, err);
        continue;
      }
      snprintf(target, sizeof target, "%s%ctoken=%s&encoding=binary", r->path,
               strchr(r->path, '?') ? '&' : '?', token);
      free(token);
    } else {
      snprintf(target, sizeof target, "%s", r->path);
    }
    c->phase = C_CONNECTING;
    r->in_flight++;
    if (arq_ws_client_connect(&c->ws, r->loop, (struct sockaddr *)&r->addr, r->alen,
                        r->slen ? (struct sockaddr *)&r->src : NULL, r->slen, r->hostport, target,
                        &handlers, c, err, sizeof err))
      settle(c, false, err);
  }
  r->starting = false;
}

static void progress_cb(arq_loop_t *loop, arq_timer_t *t);
static void tick_cb(arq_loop_t *loop, arq_timer_t *t);

static void begin_sending(run_t *r) {
  r->phase = R_SEND;
  r->send_start_ns = now_ns();
  double b0, b1;
  if (burst_window(r->o, &b0, &b1)) {
    r->burst_start_ns = r->send_start_ns + (uint64_t)(b0 * 1e9);
    r->burst_end_ns = r->send_start_ns + (uint64_t)(b1 * 1e9);
  }
  arq_timer_start(r->loop, &r->tick, 1);
}

static void deadline_cb(arq_loop_t *loop, arq_timer_t *t) {
  (void)loop;
  run_t *r = t->data;
  switch (r->phase) {
  case R_CONNECT:
    /* Whatever has not finished its handshake by now counts as failed. */
    r->starting = true;
    for (long i = 0; i < r->o->connections; i++) {
      bconn_t *c = &r->conns[i];
      if (c->phase == C_READY || c->phase == C_DEAD)
        continue;
      if (c->phase == C_IDLE) {
        c->run = r;
        r->in_flight++;
        arq_nats_parser_init(&c->np);
      } else {
        arq_ws_client_close(&c->ws, 1000, "bench done");
      }
      settle(c, false, "timed out connecting");
    }
    r->next = r->o->connections;
    r->starting = false;
    connect_phase_check(r);
    break;
  case R_SETTLE:
    begin_sending(r);
    break;
  case R_HOLD:
    r->res->run_s = (double)(now_ns() - r->send_start_ns) / 1e9;
    finish(r);
    break;
  case R_DRAIN:
    finish(r);
    break;
  default:
    break;
  }
}

static void connect_phase_check(run_t *r) {
  if (r->phase != R_CONNECT || r->settled < r->o->connections)
    return;
  r->res->connect_s = (double)(now_ns() - r->t0_ns) / 1e9;
  arq_timer_stop(r->loop, &r->deadline);
  if (r->hooks && r->hooks->connected)
    r->hooks->connected(r->hooks->ud);
  if (r->o->mode == ARQ_BENCH_IDLE) {
    r->phase = R_HOLD;
    r->send_start_ns = now_ns();
    arq_timer_start(r->loop, &r->deadline, (uint64_t)(r->o->duration_s * 1000));
  } else if (!r->res->ready) {
    finish(r);
  } else {
    r->phase = R_SETTLE;
    arq_timer_start(r->loop, &r->deadline, SETTLE_MS);
  }
}

static void drain_check(run_t *r) {
  if (r->phase != R_DRAIN)
    return;
  arq_bench_result_t *res = r->res;
  bool answered = r->o->target != ARQ_BENCH_SHIELD || res->acked + res->errors >= res->sent;
  if (answered && (r->o->acks_only || res->delivered >= res->delivered_expected))
    finish(r);
}

static bconn_t *next_publisher(run_t *r) {
  if (rooms_mode(r)) {
    for (long k = 0; k < r->o->rooms; k++) {
      bconn_t *c = &r->conns[r->rr * (r->o->members + 1)];
      r->rr = (r->rr + 1) % r->o->rooms;
      if (c->phase == C_READY && arq_ws_client_pending(&c->ws) < MAX_UNSENT)
        return c;
    }
    return NULL;
  }
  long p = r->o->mode == ARQ_BENCH_FANOUT ? r->o->publishers : r->o->connections;
  for (long k = 0; k < p; k++) {
    bconn_t *c = &r->conns[r->rr];
    r->rr = (r->rr + 1) % p;
    if (c->phase == C_READY && arq_ws_client_pending(&c->ws) < MAX_UNSENT)
      return c;
  }
  return NULL;
}

static void tick_cb(arq_loop_t *loop, arq_timer_t *t) {
  run_t *r = t->data;
  const arq_bench_opts_t *o = r->o;
  uint64_t now = now_ns();
  double elapsed = (double)(now - r->send_start_ns) / 1e9;
  bool last = elapsed >= o->duration_s;
  double due = due_at(o, last ? o->duration_s : elapsed);
  while ((double)r->res->sent < due) {
    bconn_t *c = next_publisher(r);
    if (!c)
      break;
    if (o->target == ARQ_BENCH_SHIELD)
      shield_publish(c);
    else
      nats_publish(c);
    if (c->ws.state != ARQ_WS_CLIENT_OPEN)
      continue;
    r->res->sent++;
    if (r->rooms) {
      room_t *rm = &r->rooms[c->room];
      rm->sent++;
      r->res->delivered_expected += rm->live > 0 ? (uint64_t)rm->live : 0;
    } else if (o->mode == ARQ_BENCH_ROUNDTRIP)
      r->res->delivered_expected++;
    else if (o->mode == ARQ_BENCH_FANOUT)
      r->res->delivered_expected += (uint64_t)(r->res->ready - r->res->closed_during_run);
  }
  if (!last) {
    arq_timer_start(loop, &r->tick, 1);
    return;
  }
  r->send_end_ns = now_ns();
  r->res->run_s = (double)(r->send_end_ns - r->send_start_ns) / 1e9;
  r->phase = R_DRAIN;
  arq_timer_start(loop, &r->deadline, (uint64_t)o->drain_ms);
  drain_check(r);
}

static void progress_cb(arq_loop_t *loop, arq_timer_t *t) {
  run_t *r = t->data;
  const arq_bench_result_t *res = r->res;
  static const char *const names[] = {"connecting", "settling", "holding", "sending", "draining", "done"};
  fprintf(stderr,
          "arq bench: %5.1fs %-10s ready %ld/%ld failed %ld sent %llu acked %llu delivered %llu "
          "errors %llu\n",
          (double)(now_ns() - r->t0_ns) / 1e9, names[r->phase], res->ready, r->o->connections,
          res->connect_failed + res->closed_during_run, (unsigned long long)res->sent,
          (unsigned long long)res->acked, (unsigned long long)res->delivered,
          (unsigned long long)res->errors);
  arq_timer_start(loop, &r->progress, 1000);
}

static int resolve(run_t *r, char *err, size_t errcap) {
  uint16_t port;
  if (arq_url_split(r->o->url, "ws", r->host, sizeof r->host, &port, &r->path)) {
    snprintf(err, errcap, "--url: expected ws://HOST:PORT/PATH, got '%s'", r->o->url);
    return -1;
  }
  snprintf(r->hostport, sizeof r->hostport, "%s:%u", r->host, port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  int rc = getaddrinfo(r->host, ps, &hints, &ai);
  if (rc) {
    snprintf(err, errcap, "--url: %s: %s", r->host, gai_strerror(rc));
    return -1;
  }
  memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
  r->alen = ai->ai_addrlen;
  freeaddrinfo(ai);
  if (!r->o->source)
    return 0;
  hints = (struct addrinfo){.ai_socktype = SOCK_STREAM, .ai_family = r->addr.ss_family,
                            .ai_flags = AI_NUMERICHOST};
  rc = getaddrinfo(r->o->source, "0", &hints, &ai);
  if (rc) {
    snprintf(err, errcap, "--source: '%s': %s (an IP address of the same family as --url's)",
             r->o->source, gai_strerror(rc));
    return -1;
  }
  memcpy(&r->src, ai->ai_addr, ai->ai_addrlen);
  r->slen = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

int arq_bench_run(const arq_bench_opts_t *o, const arq_bench_hooks_t *hooks,
                  arq_bench_result_t *res, char *err, size_t errcap) {
  memset(res, 0, sizeof *res);
  res->ack = malloc(sizeof *res->ack);
  res->rt = malloc(sizeof *res->rt);
  run_t *r = calloc(1, sizeof *r);
  if (!res->ack || !res->rt || !r) {
    free(r);
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  arq_hist_init(res->ack);
  arq_hist_init(res->rt);
  bool rooms = o->mode == ARQ_BENCH_ROOMS;
  if (rooms && o->burst_rate > 0 && o->burst_s > 0) {
    for (int i = 0; i < 3; i++) {
      if (!(res->rooms.phase[i] = malloc(sizeof *res->rooms.phase[i])))
        arq_oom("arq bench histogram");
      arq_hist_init(res->rooms.phase[i]);
    }
  }
  if (rooms)
    res->rooms.offered = due_at(o, o->duration_s);
  r->o = o;
  r->hooks = hooks;
  r->res = res;
  if (resolve(r, err, errcap)) {
    free(r);
    return -1;
  }
  r->conns = calloc((size_t)o->connections, sizeof *r->conns);
  size_t hdr = rooms ? HDR : 0;
  r->pad = malloc(hdr + (size_t)o->size + 1);
  r->loop = arq_loop_new();
  if (!r->conns || !r->pad || !r->loop) {
    snprintf(err, errcap, "out of memory or no epoll");
    free(r->conns), free(r->pad);
    if (r->loop)
      arq_loop_free(r->loop);
    free(r);
    return -1;
  }
  memset(r->pad, 'x', hdr + (size_t)o->size);
  arq_buf_init(&r->scratch);
  uint64_t tag;
  if (getrandom(&tag, sizeof tag, 0) != sizeof tag)
    tag = now_ns();
  to_hex16(tag, r->tag);
  r->tag_v = tag;
  if (rooms)
    rooms_alloc(r);
  arq_timer_init(&r->tick, tick_cb, r);
  arq_timer_init(&r->progress, progress_cb, r);
  arq_timer_init(&r->deadline, deadline_cb, r);
  r->t0_ns = now_ns();
  r->phase = R_CONNECT;
  arq_timer_start(r->loop, &r->deadline, (uint64_t)o->connect_timeout_ms);
  if (!o->quiet)
    arq_timer_start(r->loop, &r->progress, 1000);
  start_connects(r);
  connect_phase_check(r);
  int rc = r->phase == R_DONE ? 0 : arq_loop_run(r->loop);
  if (rooms && !o->acks_only)
    rooms_count_lost(r);
  for (long i = 0; i < o->connections; i++) {
    bconn_t *c = &r->conns[i];
    arq_ws_client_close(&c->ws, 1000, "bench done");
    arq_ws_client_free(&c->ws);
    arq_nats_parser_free(&c->np);
  }
  arq_timer_stop(r->loop, &r->tick);
  arq_timer_stop(r->loop, &r->deadline);
  arq_timer_stop(r->loop, &r->progress);
  arq_loop_run_pending(r->loop);
  arq_loop_free(r->loop);
  arq_buf_free(&r->scratch);
  rooms_free(r);
  free(r->conns);
  free(r->pad);
  free(r);
  if (rc)
    snprintf(err, errcap, "the event loop failed");
  return rc;
}

void arq_bench_result_free(arq_bench_result_t *res) {
  free(res->ack);
  free(res->rt);
  res->ack = res->rt = NULL;
  for (int i = 0; i < 3; i++) {
    free(res->rooms.phase[i]);
    res->rooms.phase[i] = NULL;
  }
}
