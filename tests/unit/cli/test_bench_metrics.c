#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loadgen/metrics.h"

static const char before_text[] =
    "# HELP shield_route_duration_seconds Time from a frame received to its NATS publish.\n"
    "# TYPE shield_route_duration_seconds histogram\n"
    "shield_route_duration_seconds_bucket{le=\"1e-05\"} 10\n"
    "shield_route_duration_seconds_bucket{le=\"2.5e-05\"} 10\n"
    "shield_route_duration_seconds_bucket{le=\"0.0001\"} 10\n"
    "shield_route_duration_seconds_bucket{le=\"+Inf\"} 10\n"
    "shield_route_duration_seconds_sum 5e-05\n"
    "shield_route_duration_seconds_count 10\n"
    "shield_connections 3\n";

static const char after_text[] =
    "shield_route_duration_seconds_bucket{le=\"1e-05\"} 60\n"
    "shield_route_duration_seconds_bucket{le=\"2.5e-05\"} 100\n"
    "shield_route_duration_seconds_bucket{le=\"0.0001\"} 109\n"
    "shield_route_duration_seconds_bucket{le=\"+Inf\"} 110\n"
    "shield_route_duration_seconds_sum 0.002\n"
    "shield_route_duration_seconds_count 110\n"
    "shield_wasm_execution_duration_seconds_bucket{le=\"+Inf\"} 0\n";

static void parse_and_delta(void **state) {
  (void)state;
  arq_prom_hist_t b, a, d;
  assert_int_equal(arq_prom_hist_parse(before_text, "shield_route_duration_seconds", &b), 0);
  assert_int_equal(arq_prom_hist_parse(after_text, "shield_route_duration_seconds", &a), 0);
  assert_int_equal(a.n, 4);
  assert_true(isinf(a.le[3]));
  assert_int_equal(arq_prom_hist_delta(&a, &b, &d), 0);
  assert_true(d.count == 100 && d.cum[0] == 50 && d.cum[3] == 100);
  bool open;
  /* rank 50 of 100 is the last of the first bucket [0, 10 µs] */
  assert_true(fabs(arq_prom_hist_quantile(&d, 0.5, &open) - 1e-5) < 1e-12);
  assert_false(open);
  /* rank 70: 20 of the 40 in (10 µs, 25 µs] */
  assert_true(fabs(arq_prom_hist_quantile(&d, 0.7, &open) - 1.75e-5) < 1e-12);
  /* rank 99: 9 of 9 in (25 µs, 100 µs] */
  assert_true(fabs(arq_prom_hist_quantile(&d, 0.99, &open) - 1e-4) < 1e-12);
  assert_false(open);
  /* rank 100 lies in +Inf: only a lower limit is known */
  assert_true(fabs(arq_prom_hist_quantile(&d, 1.0, &open) - 1e-4) < 1e-12);
  assert_true(open);
}

static void absent_or_malformed(void **state) {
  (void)state;
  arq_prom_hist_t h;
  assert_int_equal(arq_prom_hist_parse(after_text, "nope", &h), -1);
  assert_int_equal(arq_prom_hist_parse("x_bucket{le=\"1\"} 1\nx_count 1\n", "x", &h), -1); /* no +Inf */
  assert_int_equal(arq_prom_hist_parse("x_bucket{le=\"2\"} 1\nx_bucket{le=\"1\"} 1\n"
                                       "x_bucket{le=\"+Inf\"} 1\nx_count 1\n", "x", &h), -1);
  assert_int_equal(arq_prom_hist_parse("x_bucket{le=\"+Inf\"} 0\nx_count 0\n", "x", &h), 0);
  bool open;
  assert_true(isnan(arq_prom_hist_quantile(&h, 0.5, &open)));
  arq_prom_hist_t other;
  assert_int_equal(arq_prom_hist_parse(after_text, "shield_route_duration_seconds", &other), 0);
  arq_prom_hist_t d;
  assert_int_equal(arq_prom_hist_delta(&other, &h, &d), -1);
}

static void url_split(void **state) {
  (void)state;
  char host[64];
  uint16_t port;
  const char *path;
  assert_int_equal(arq_url_split("ws://127.0.0.1:4000/ws?x=1", "ws", host, sizeof host, &port, &path), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 4000);
  assert_string_equal(path, "/ws?x=1");
  assert_int_equal(arq_url_split("nats://localhost:4222", "nats", host, sizeof host, &port, &path), 0);
  assert_string_equal(path, "/");
  assert_int_equal(arq_url_split("http://h:80/metrics", "ws", host, sizeof host, &port, &path), -1);
  assert_int_equal(arq_url_split("ws://h/ws", "ws", host, sizeof host, &port, &path), -1);
  assert_int_equal(arq_url_split("ws://h:0/", "ws", host, sizeof host, &port, &path), -1);
  assert_int_equal(arq_url_split("ws://h:70000/", "ws", host, sizeof host, &port, &path), -1);
  assert_int_equal(arq_url_split("ws://h:12x/", "ws", host, sizeof host, &port, &path), -1);
}

static void rss_of_self(void **state) {
  (void)state;
  assert_true(arq_proc_rss_kib((long)getpid()) > 0);
  assert_int_equal(arq_proc_rss_kib(-5), -1);
  volatile double x = 0;
  for (long i = 0; i < 50000000; i++)
    x += (double)i;
  assert_true(arq_proc_cpu_s((long)getpid()) > 0);
  assert_true(arq_proc_cpu_s(-5) < 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parse_and_delta),
      cmocka_unit_test(absent_or_malformed),
      cmocka_unit_test(url_split),
      cmocka_unit_test(rss_of_self),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
