#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/metrics.h"

static void counters_and_gauges(void **state) {
  arq_metrics_t *m = arq_metrics_new();
  arq_counter_t *c = arq_metrics_counter(m, "shield_messages_in_total", "Messages received.", NULL);
  arq_counter_inc(c);
  arq_counter_add(c, 41);
  assert_int_equal(arq_counter_get(c), 42);
  /* Asking again returns the same series. */
  assert_ptr_equal(arq_metrics_counter(m, "shield_messages_in_total", "x", NULL), c);
  arq_gauge_t *g = arq_metrics_gauge(m, "shield_connections", "Open connections.", NULL);
  arq_gauge_add(g, 5);
  arq_gauge_add(g, -2);
  assert_int_equal(arq_gauge_get(g), 3);

  arq_buf_t out;
  arq_buf_init(&out);
  arq_metrics_write(m, &out);
  assert_string_equal(out.data, "# HELP shield_messages_in_total Messages received.\n"
                                "# TYPE shield_messages_in_total counter\n"
                                "shield_messages_in_total 42\n"
                                "# HELP shield_connections Open connections.\n"
                                "# TYPE shield_connections gauge\n"
                                "shield_connections 3\n");
  arq_buf_free(&out);
  arq_metrics_free(m);
}

static void labels_are_series(void **state) {
  arq_metrics_t *m = arq_metrics_new();
  arq_counter_t *fuel = arq_metrics_counter(m, "shield_policy_denials_total", "Denials.",
                                            (const char *[]){"reason", "fuel", NULL});
  arq_counter_t *odd = arq_metrics_counter(m, "shield_policy_denials_total", "Denials.",
                                           (const char *[]){"reason", "a\"b\\c\nd", NULL});
  assert_ptr_not_equal(fuel, odd);
  arq_counter_inc(fuel);
  arq_buf_t out;
  arq_buf_init(&out);
  arq_metrics_write(m, &out);
  assert_non_null(strstr(out.data, "shield_policy_denials_total{reason=\"fuel\"} 1\n"));
  assert_non_null(strstr(out.data, "shield_policy_denials_total{reason=\"a\\\"b\\\\c\\nd\"} 0\n"));
  /* One HELP/TYPE block for the family. */
  const char *type = strstr(out.data, "# TYPE");
  assert_non_null(type);
  assert_null(strstr(type + 1, "# TYPE"));
  arq_buf_free(&out);
  arq_metrics_free(m);
}

static void histogram_buckets(void **state) {
  arq_metrics_t *m = arq_metrics_new();
  const double bounds[] = {0.001, 0.01, 0.1};
  arq_histogram_t *h = arq_metrics_histogram(m, "shield_route_duration_seconds", "Routing time.",
                                             NULL, bounds, 3);
  arq_histogram_observe(h, 0.0005);
  arq_histogram_observe(h, 0.001); /* a bound is inclusive (le) */
  arq_histogram_observe(h, 0.05);
  arq_histogram_observe(h, 7.0);
  assert_int_equal(arq_histogram_count(h), 4);
  assert_true(arq_histogram_sum(h) > 7.0514 && arq_histogram_sum(h) < 7.0516);
  arq_buf_t out;
  arq_buf_init(&out);
  arq_metrics_write(m, &out);
  assert_non_null(strstr(out.data, "# TYPE shield_route_duration_seconds histogram\n"
                                   "shield_route_duration_seconds_bucket{le=\"0.001\"} 2\n"
                                   "shield_route_duration_seconds_bucket{le=\"0.01\"} 2\n"
                                   "shield_route_duration_seconds_bucket{le=\"0.1\"} 3\n"
                                   "shield_route_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                                   "shield_route_duration_seconds_sum 7.0515\n"
                                   "shield_route_duration_seconds_count 4\n"));
  arq_buf_free(&out);
  arq_metrics_free(m);
}

typedef struct {
  arq_counter_t *c;
  arq_histogram_t *h;
} shared_t;

static void *hammer(void *arg) {
  shared_t *s = arg;
  for (int i = 0; i < 100000; i++) {
    arq_counter_inc(s->c);
    arq_histogram_observe(s->h, 1.0);
  }
  return NULL;
}

static void concurrent_updates_are_exact(void **state) {
  arq_metrics_t *m = arq_metrics_new();
  shared_t s = {arq_metrics_counter(m, "hits_total", "Hits.", NULL),
                arq_metrics_histogram(m, "lat_seconds", "Latency.", NULL,
                                      arq_metrics_latency_buckets, arq_metrics_latency_nbuckets)};
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, hammer, &s);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(arq_counter_get(s.c), 400000);
  assert_int_equal(arq_histogram_count(s.h), 400000);
  assert_true(arq_histogram_sum(s.h) == 400000.0);
  arq_metrics_free(m);
}

static double fake_rss(void *arg) { return *(double *)arg; }

/* Debian's promtool must accept an exposition holding every kind. */
static void promtool_accepts_exposition(void **state) {
  arq_metrics_t *m = arq_metrics_new();
  arq_counter_add(arq_metrics_counter(m, "shield_messages_out_total", "Messages sent.", NULL), 3);
  arq_counter_inc(arq_metrics_counter(m, "shield_policy_denials_total", "Policy denials, by reason.",
                                      (const char *[]){"reason", "fuel", NULL}));
  arq_counter_inc(arq_metrics_counter(m, "shield_policy_denials_total", "Policy denials, by reason.",
                                      (const char *[]){"reason", "trap", NULL}));
  arq_gauge_set(arq_metrics_gauge(m, "shield_connections", "Open connections.", NULL), 7);
  double rss = 12345678.0;
  arq_metrics_gauge_fn(m, "process_resident_memory_bytes", "Resident memory.", fake_rss, &rss);
  arq_histogram_t *h = arq_metrics_histogram(m, "shield_route_duration_seconds",
                                             "Frame received to NATS publish.", NULL,
                                             arq_metrics_latency_buckets, arq_metrics_latency_nbuckets);
  arq_histogram_observe(h, 0.000012);
  arq_histogram_observe(h, 2.0);
  arq_buf_t out;
  arq_buf_init(&out);
  arq_metrics_write(m, &out);
  assert_non_null(strstr(out.data, "process_resident_memory_bytes 12345678\n"));

  char path[] = "/tmp/arq-metrics-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fwrite(out.data, 1, out.len, f);
  fclose(f);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
  int rc = system(cmd);
  remove(path);
  assert_int_equal(rc, 0);
  arq_buf_free(&out);
  arq_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counters_and_gauges),
      cmocka_unit_test(labels_are_series),
      cmocka_unit_test(histogram_buckets),
      cmocka_unit_test(concurrent_updates_are_exact),
      cmocka_unit_test(promtool_accepts_exposition),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
