#include "loadgen/histogram.h"

#include <string.h>

void arq_hist_init(arq_hist_t *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

static unsigned shift_of(uint64_t v) {
  unsigned msb = v ? 63u - (unsigned)__builtin_clzll(v) : 0;
  return msb < ARQ_HIST_SUB_BITS ? 0 : msb - ARQ_HIST_SUB_BITS + 1;
}

size_t arq_hist_index(uint64_t v) {
  unsigned s = shift_of(v);
  return (size_t)s * ARQ_HIST_HALF + (size_t)(v >> s);
}

/* Inverse of arq_hist_index: below 2 * HALF the index is the value (shift 0); above, the
 * top bits always lie in [HALF, 2 * HALF), so index / HALF is shift + 1. */
static void split(size_t index, unsigned *shift, uint64_t *top) {
  if (index < 2 * ARQ_HIST_HALF) {
    *shift = 0;
    *top = index;
    return;
  }
  *shift = (unsigned)(index / ARQ_HIST_HALF) - 1;
  *top = index - (size_t)*shift * ARQ_HIST_HALF;
}

uint64_t arq_hist_bucket_low(size_t index) {
  unsigned s;
  uint64_t top;
  split(index, &s, &top);
  return top << s;
}

uint64_t arq_hist_bucket_high(size_t index) {
  unsigned s;
  uint64_t top;
  split(index, &s, &top);
  return (top << s) + ((s ? (1ull << s) : 1ull) - 1);
}

void arq_hist_record(arq_hist_t *h, uint64_t v) {
  h->counts[arq_hist_index(v)]++;
  h->count++;
  h->sum += (double)v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

void arq_hist_merge(arq_hist_t *dst, const arq_hist_t *src) {
  if (!src->count)
    return;
  for (size_t i = 0; i < ARQ_HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
}

uint64_t arq_hist_percentile(const arq_hist_t *h, double q) {
  if (!h->count)
    return 0;
  if (q <= 0)
    return h->min;
  if (q > 100)
    q = 100;
  double want = q * (double)h->count / 100.0;
  uint64_t rank = (uint64_t)want;
  /* 99.9 % of 1000 is rank 999, not 1000: decimal percentiles are inexact in binary, so a
   * fraction within rounding error of a whole rank does not move to the next one. */
  if (want - (double)rank > 1e-9 * want)
    rank++;
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < ARQ_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = arq_hist_bucket_high(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

double arq_hist_mean(const arq_hist_t *h) {
  return h->count ? h->sum / (double)h->count : 0.0;
}
