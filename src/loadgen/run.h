/*
 * run.h — one run of `arq bench`: connect N WebSocket clients, optionally publish at a
 * total rate for a duration, then drain and collect the counts and latencies.
 *
 * DESIGN
 *   Everything runs on one arq_loop (epoll) thread: the clients, a 1 ms pacing timer and a
 *   1 s progress timer. Send times travel inside the messages (the envelope id towards the
 *   Shield, the first bytes of the payload through NATS), so an ack or a delivery is timed
 *   without a lookup table and a lost message costs no memory. Pacing is open-loop: the
 *   number of messages due is rate × elapsed time, whatever the answers do, so a slow
 *   server shows as latency rather than as a lower offered load (until a client's unsent
 *   bytes pass a bound, which is reported as the achieved send rate falling short).
 *
 *   Rooms mode (ARQ_BENCH_ROOMS) checks delivery rather than only timing it: R rooms of M
 *   members and one publisher (a member too); each message carries a per-room counter, and
 *   every receiver keeps a bitmap of the counters it got (sized up front from the rate, grown
 *   by doubling if a room gets more), so loss, duplicates and reordering are counted per
 *   receiver with no per-message allocation; with the Shield each room also keeps the seq the
 *   Brain gave each counter, so that members can be compared.
 */
#ifndef ARQ_LOADGEN_RUN_H
#define ARQ_LOADGEN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loadgen/histogram.h"

typedef enum { ARQ_BENCH_SHIELD, ARQ_BENCH_NATS_WS } arq_bench_target_t;
typedef enum { ARQ_BENCH_ACK, ARQ_BENCH_ROUNDTRIP, ARQ_BENCH_FANOUT, ARQ_BENCH_IDLE,
               ARQ_BENCH_ROOMS } arq_bench_mode_t;

/** Shield: the token of connection `index` (free() it), or NULL with a message in err. */
typedef char *(*arq_bench_token_fn)(void *ud, uint32_t index, char *err, size_t errcap);

typedef struct {
  arq_bench_target_t target;
  arq_bench_mode_t mode;
  const char *url;    /* ws://host:port/path */
  const char *source; /* a local address to connect from (numeric), or NULL */
  arq_bench_token_fn token; /* Shield: mints each connection's token */
  void *token_ud;
  const char *tenant;
  const char *room;
  bool join;
  long connections, publishers, concurrency;
  double rate;        /* messages per second, all publishers together */
  double duration_s;  /* publishing time, or idle holding time */
  long size;          /* event payload bytes */
  long drain_ms, connect_timeout_ms;
  bool quiet;
  /* rooms mode: connections = rooms * (members + 1); publisher k is connection k*(members+1) */
  long rooms, members;
  double burst_rate, burst_s; /* from duration/3: burst_rate msg/s for burst_s seconds */
  bool acks_only; /* rooms, Shield: the drain waits for acks only (nothing delivers) */
} arq_bench_opts_t;

/** The payload of a rooms-mode message: send time, per-room counter and run tag, each as
 *  16 lowercase hex digits, then --size bytes of padding. */
#define ARQ_BENCH_ROOMS_HEADER 48

#define ARQ_BENCH_MAX_CODES 8

typedef struct {
  long ready, connect_failed, closed_during_run;
  char first_failure[200];
  uint64_t sent, acked, delivered, delivered_expected, errors, other;
  struct {
    int code;
    uint64_t count;
  } codes[ARQ_BENCH_MAX_CODES];
  char first_error[200];
  double connect_s, run_s; /* how long connecting and publishing took */
  double rx_s;             /* from the first send to the last ack or delivery received */
  arq_hist_t *ack, *rt;    /* send → ack, send → delivery (to the sender or every member) */
  /* rooms mode */
  struct {
    double offered;      /* messages due by the schedule (rate and burst) over the run */
    uint64_t refused;    /* messages answered with an error (never delivered) */
    uint64_t lost;       /* (receiver, counter) pairs sent, not refused, never received */
    uint64_t duplicates, out_of_order;
    uint64_t seq_gaps, seq_gap_missing; /* jumps of more than 1, and the seqs skipped */
    uint64_t seq_repeats, seq_mismatches, seq_missing; /* seq <= last; differs; absent */
    uint64_t foreign;    /* deliveries of another run or a malformed header */
    double drain_s;      /* from the last send to the last delivery */
    double burst_drain_s; /* from the burst's end to the last delivery of a burst message */
    arq_hist_t *phase[3]; /* with a burst: send → delivery of messages sent before, in, after */
  } rooms;
} arq_bench_result_t;

/** Hooks between phases, so the caller can measure the server around the load. */
typedef struct {
  void (*connected)(void *ud); /* every client is ready (or failed); before publishing */
  void (*finished)(void *ud);  /* publishing and draining are over; clients still open */
  void *ud;
} arq_bench_hooks_t;

/** Runs the load; 0, or -1 with a message in err when it could not start at all. */
int arq_bench_run(const arq_bench_opts_t *o, const arq_bench_hooks_t *hooks,
                  arq_bench_result_t *res, char *err, size_t errcap);
void arq_bench_result_free(arq_bench_result_t *res);

#endif
