/*
 * metrics.h — counters, gauges and histograms with Prometheus text exposition (0.0.4).
 *
 * DESIGN
 *   Registration (off the hot path) takes the registry's mutex and returns a stable
 *   pointer to one series; asking again for the same name and labels returns the same
 *   pointer. Updates through that pointer are relaxed atomic operations: no lock, no
 *   allocation. A histogram's buckets are fixed at registration. Exposition reads each
 *   atomic once; the `_count` it prints is the sum of the bucket counts it read, so the
 *   output is always self-consistent even while other threads keep updating.
 *
 *   Registering one name with two different kinds, or a histogram with two different
 *   bucket layouts, is a programming error: the process aborts with a message.
 */
#ifndef ARQ_COMMON_METRICS_H
#define ARQ_COMMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct arq_metrics arq_metrics_t;

typedef struct {
  _Atomic uint64_t value;
} arq_counter_t;

typedef struct {
  _Atomic int64_t value;
} arq_gauge_t;

#define ARQ_HISTOGRAM_MAX_BUCKETS 32

typedef struct {
  size_t nbounds;
  double bounds[ARQ_HISTOGRAM_MAX_BUCKETS];      /* upper bounds, increasing */
  _Atomic uint64_t counts[ARQ_HISTOGRAM_MAX_BUCKETS + 1]; /* last one: above every bound */
  _Atomic uint64_t sum_bits;                     /* a double, updated by compare-and-swap */
} arq_histogram_t;

/** Buckets for latencies in seconds, 1 µs .. 1 s. */
extern const double arq_metrics_latency_buckets[];
extern const size_t arq_metrics_latency_nbuckets;

arq_metrics_t *arq_metrics_new(void);
void arq_metrics_free(arq_metrics_t *m);

/* `labels` is NULL or a NULL-terminated list of name, value pairs:
 *   (const char *[]){"reason", "fuel", NULL}
 * Label names must match [a-zA-Z_][a-zA-Z0-9_]*; values are escaped on output. */
arq_counter_t *arq_metrics_counter(arq_metrics_t *m, const char *name, const char *help,
                                   const char *const *labels);
arq_gauge_t *arq_metrics_gauge(arq_metrics_t *m, const char *name, const char *help,
                               const char *const *labels);
arq_histogram_t *arq_metrics_histogram(arq_metrics_t *m, const char *name, const char *help,
                                       const char *const *labels, const double *bounds,
                                       size_t nbounds);

/** A gauge whose value is computed when scraped (e.g. resident memory). */
void arq_metrics_gauge_fn(arq_metrics_t *m, const char *name, const char *help,
                          double (*read)(void *arg), void *arg);

static inline void arq_counter_add(arq_counter_t *c, uint64_t n) {
  atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}
static inline void arq_counter_inc(arq_counter_t *c) { arq_counter_add(c, 1); }
static inline uint64_t arq_counter_get(const arq_counter_t *c) {
  return atomic_load_explicit(&c->value, memory_order_relaxed);
}

static inline void arq_gauge_set(arq_gauge_t *g, int64_t v) {
  atomic_store_explicit(&g->value, v, memory_order_relaxed);
}
static inline void arq_gauge_add(arq_gauge_t *g, int64_t d) {
  atomic_fetch_add_explicit(&g->value, d, memory_order_relaxed);
}
static inline int64_t arq_gauge_get(const arq_gauge_t *g) {
  return atomic_load_explicit(&g->value, memory_order_relaxed);
}

void arq_histogram_observe(arq_histogram_t *h, double v);
uint64_t arq_histogram_count(const arq_histogram_t *h);
double arq_histogram_sum(const arq_histogram_t *h);

/** Appends the whole registry in Prometheus text format 0.0.4. */
void arq_metrics_write(arq_metrics_t *m, arq_buf_t *out);

/** The Content-Type of arq_metrics_write()'s output. */
#define ARQ_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
