/*
 * bench_run.h — one run of `arq bench`: connect N WebSocket clients, optionally publish at a
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
 */
#ifndef ARQ_CLI_BENCH_RUN_H
#define ARQ_CLI_BENCH_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/bench_histogram.h"

typedef enum { ARQ_BENCH_SHIELD, ARQ_BENCH_NATS_WS } arq_bench_target_t;
typedef enum { ARQ_BENCH_ACK, ARQ_BENCH_ROUNDTRIP, ARQ_BENCH_FANOUT, ARQ_BENCH_IDLE } arq_bench_mode_t;

typedef struct {
  arq_bench_target_t target;
  arq_bench_mode_t mode;
  const char *url;    /* ws://host:port/path */
  const char *source; /* a local address to connect from (numeric), or NULL */
  const char *secret; /* Shield: HS256 secret for the tokens */
  const char *tenant;
  const char *room;
  bool join;
  long connections, publishers, concurrency;
  double rate;        /* messages per second, all publishers together */
  double duration_s;  /* publishing time, or idle holding time */
  long size;          /* event payload bytes */
  long drain_ms, connect_timeout_ms;
  bool quiet;
} arq_bench_opts_t;

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
