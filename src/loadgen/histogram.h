/*
 * histogram.h — a log-linear latency histogram in the manner of HdrHistogram.
 *
 * DESIGN
 *   Values (nanoseconds, or any unsigned count) below 2^SUB_BITS each have a bucket of their
 *   own; above, every power of two is split into 2^(SUB_BITS-1) equal buckets, so a reported
 *   percentile is within 1/2^(SUB_BITS-1) (under 1.6 %) of the true value over the whole
 *   uint64 range, with a fixed array and no allocation: recording is one index computation
 *   and one increment, cheap enough for a load generator's hot path.
 */
#ifndef ARQ_LOADGEN_HISTOGRAM_H
#define ARQ_LOADGEN_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define ARQ_HIST_SUB_BITS 7
#define ARQ_HIST_HALF (1u << (ARQ_HIST_SUB_BITS - 1))
/* The largest shift is 64 - SUB_BITS; its buckets end at index shift * HALF + 2 * HALF - 1. */
#define ARQ_HIST_BUCKETS ((64 - ARQ_HIST_SUB_BITS) * ARQ_HIST_HALF + 2 * ARQ_HIST_HALF)

typedef struct {
  uint64_t counts[ARQ_HIST_BUCKETS];
  uint64_t count, min, max;
  double sum;
} arq_hist_t;

void arq_hist_init(arq_hist_t *h);
void arq_hist_record(arq_hist_t *h, uint64_t v);
/** Adds every value of src to dst. */
void arq_hist_merge(arq_hist_t *dst, const arq_hist_t *src);
/** The value at percentile q (0..100): the highest value equivalent to the bucket that holds
 *  the rank ceil(q/100 * count), never above the largest value recorded; 0 when empty. */
uint64_t arq_hist_percentile(const arq_hist_t *h, double q);
double arq_hist_mean(const arq_hist_t *h);

/** The bucket of v, and the lowest and highest value a bucket stands for. */
size_t arq_hist_index(uint64_t v);
uint64_t arq_hist_bucket_low(size_t index);
uint64_t arq_hist_bucket_high(size_t index);

#endif
