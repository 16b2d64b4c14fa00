#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loadgen/histogram.h"

static arq_hist_t *new_hist(void) {
  arq_hist_t *h = malloc(sizeof *h);
  assert_non_null(h);
  arq_hist_init(h);
  return h;
}

/* Every value falls inside the bucket it is counted in, and buckets tile the range. */
static void buckets_cover_values(void **state) {
  (void)state;
  for (uint64_t v = 0; v < (1u << 18); v++) {
    size_t i = arq_hist_index(v);
    assert_true(arq_hist_bucket_low(i) <= v);
    assert_true(v <= arq_hist_bucket_high(i));
  }
  for (size_t i = 1; i < ARQ_HIST_BUCKETS; i++)
    assert_true(arq_hist_bucket_low(i) == arq_hist_bucket_high(i - 1) + 1);
  assert_int_equal(arq_hist_index(UINT64_MAX), ARQ_HIST_BUCKETS - 1);
  assert_true(arq_hist_bucket_high(ARQ_HIST_BUCKETS - 1) == UINT64_MAX);
  uint64_t x = 88172645463325252ull;
  for (int k = 0; k < 100000; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t v = x >> (x & 63);
    size_t i = arq_hist_index(v);
    assert_true(i < ARQ_HIST_BUCKETS);
    assert_true(arq_hist_bucket_low(i) <= v && v <= arq_hist_bucket_high(i));
  }
}

/* The width of a bucket stays under 1/64 of its values: the precision promised. */
static void relative_precision(void **state) {
  (void)state;
  for (size_t i = 2 * ARQ_HIST_HALF; i < ARQ_HIST_BUCKETS; i++) {
    uint64_t lo = arq_hist_bucket_low(i), hi = arq_hist_bucket_high(i);
    assert_true((double)(hi - lo) / (double)lo <= 1.0 / ARQ_HIST_HALF);
  }
}

static void empty(void **state) {
  (void)state;
  arq_hist_t *h = new_hist();
  assert_int_equal(arq_hist_percentile(h, 50), 0);
  assert_int_equal(arq_hist_percentile(h, 100), 0);
  assert_true(arq_hist_mean(h) == 0.0);
  free(h);
}

static void small_values_are_exact(void **state) {
  (void)state;
  arq_hist_t *h = new_hist();
  for (uint64_t v = 1; v <= 100; v++)
    arq_hist_record(h, v);
  assert_int_equal(arq_hist_percentile(h, 50), 50);
  assert_int_equal(arq_hist_percentile(h, 99), 99);
  assert_int_equal(arq_hist_percentile(h, 100), 100);
  assert_int_equal(arq_hist_percentile(h, 0), 1);
  assert_int_equal(h->min, 1);
  assert_int_equal(h->max, 100);
  assert_true(arq_hist_mean(h) == 50.5);
  free(h);
}

static void within(uint64_t got, double want) {
  double err = ((double)got - want) / want;
  if (err < 0)
    err = -err;
  if (err > 1.0 / ARQ_HIST_HALF) {
    fprintf(stderr, "got %llu, want %.0f\n", (unsigned long long)got, want);
    fail();
  }
}

static void uniform_percentiles(void **state) {
  (void)state;
  arq_hist_t *h = new_hist();
  for (uint64_t v = 1; v <= 1000000; v++)
    arq_hist_record(h, v * 1000); /* 1 µs .. 1 s in ns */
  within(arq_hist_percentile(h, 50), 500000e3);
  within(arq_hist_percentile(h, 90), 900000e3);
  within(arq_hist_percentile(h, 99), 990000e3);
  within(arq_hist_percentile(h, 99.9), 999000e3);
  assert_int_equal(arq_hist_percentile(h, 100), 1000000000ull);
  within((uint64_t)arq_hist_mean(h), 500000.5e3);
  free(h);
}

/* One slow outlier among fast values: p99 stays fast, the maximum is the outlier. */
static void outlier(void **state) {
  (void)state;
  arq_hist_t *h = new_hist();
  for (int i = 0; i < 999; i++)
    arq_hist_record(h, 20000);
  arq_hist_record(h, 5000000000ull);
  within(arq_hist_percentile(h, 99), 20000);
  within(arq_hist_percentile(h, 99.9), 20000);
  assert_int_equal(arq_hist_percentile(h, 99.95), 5000000000ull);
  assert_int_equal(arq_hist_percentile(h, 100), 5000000000ull);
  free(h);
}

static void merge(void **state) {
  (void)state;
  arq_hist_t *a = new_hist(), *b = new_hist(), *all = new_hist();
  for (uint64_t v = 1; v <= 5000; v++) {
    arq_hist_record(v % 2 ? a : b, v * 37);
    arq_hist_record(all, v * 37);
  }
  arq_hist_t *empty_h = new_hist();
  arq_hist_merge(a, empty_h);
  arq_hist_merge(a, b);
  assert_int_equal(a->count, all->count);
  assert_int_equal(a->min, all->min);
  assert_int_equal(a->max, all->max);
  assert_memory_equal(a->counts, all->counts, sizeof a->counts);
  for (double q = 1; q <= 100; q += 7.5)
    assert_int_equal(arq_hist_percentile(a, q), arq_hist_percentile(all, q));
  free(a), free(b), free(all), free(empty_h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(buckets_cover_values), cmocka_unit_test(relative_precision),
      cmocka_unit_test(empty),                cmocka_unit_test(small_values_are_exact),
      cmocka_unit_test(uniform_percentiles),  cmocka_unit_test(outlier),
      cmocka_unit_test(merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
