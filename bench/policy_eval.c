/*
 * policy_eval — the per-message cost of a policy in the Shield's own evaluation path
 * (arq_overseer_check_message: reset to the initial state, fuel, host calls, verdict),
 * side by side in one run: no policy, an empty one, a typical one (reads a header and the
 * 1 KiB payload: sdk/policy/examples/typical.c) and one that scans every payload byte;
 * then the typical policy with a candidate beside it (the canary, docs/policies.md): a
 * typical candidate in the share and out of it, a looping candidate stopped by its fuel,
 * and one stopped by its time budget. The fuel column is the active policy's.
 *
 *   policy_eval_bench POLICY_DIR [ITERATIONS] [--no-candidates]
 *
 * (--no-candidates: the first four rows only, e.g. to count instructions against a build
 * without the canary.)
 *
 * Prints a Markdown table of median and p99 per evaluation in nanoseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "shield/overseer_internal.h"
#include "shield/sample.h"
#include "shield/shield.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static const char *trace = "4bf92f3577b34da6a3ce929d0e0e4736";

static arq_policy_t *load(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "policy_eval: %s: cannot open (build the arqon_policies target)\n", path);
    exit(2);
  }
  static uint8_t bytes[1 << 20];
  size_t n = fread(bytes, 1, sizeof bytes, f);
  fclose(f);
  arq_policy_t *p = calloc(1, sizeof *p);
  atomic_init(&p->refs, 1);
  snprintf(p->key, sizeof p->key, "T1");
  if (arq_wasm_module_load(bytes, n, &p->module)) {
    fprintf(stderr, "policy_eval: %s: invalid module\n", path);
    exit(2);
  }
  p->has_message = true;
  return p;
}

/* The same module as the candidate of T1. */
static arq_policy_t *load_candidate(arq_shield_t *s, const char *dir, const char *name) {
  arq_policy_t *p = load(dir, name);
  snprintf(p->key, sizeof p->key, "T1.canary");
  snprintf(p->base, sizeof p->base, "T1");
  p->canary = true;
  p->tally = arq_canary_tally_new(s, "T1");
  return p;
}

/* Runs `iterations` evaluations and prints median and p99. */
static void measure(const char *label, arq_worker_t *w, size_t iterations, uint64_t *samples) {
  static const char headers[] = "x-client\0bench\0x-arqon-tenant\0T1\0x-arqon-sender\0alice\0";
  uint8_t payload[1024];
  memset(payload, 'a', sizeof payload);
  payload[0] = '{';
  payload[sizeof payload - 1] = '}';
  arq_policy_headers_t h = {headers, sizeof headers - 1};
  arq_verdict_t v;
  arq_canary_ctx_t canary = {trace, NULL};
  for (size_t i = 0; i < iterations; i++) {
    uint64_t t0 = now_ns();
    arq_overseer_check_message(w, "T1", "{\"sub\":\"alice\",\"tenant_id\":\"T1\"}", h, "in.t.T1.r.R1",
                               payload, sizeof payload, &canary, &v);
    samples[i] = now_ns() - t0;
    if (v.denied) {
      fprintf(stderr, "policy_eval: %s denied: %s\n", label, v.reason);
      exit(1);
    }
  }
  qsort(samples, iterations, sizeof *samples, cmp_u64);
  uint64_t fuel = arq_counter_get(w->shield->m.wasm_fuel_consumed);
  static uint64_t fuel_before;
  printf("| %s | %llu | %llu | %llu |\n", label, (unsigned long long)samples[iterations / 2],
         (unsigned long long)samples[iterations * 99 / 100],
         (unsigned long long)((fuel - fuel_before) / iterations));
  fuel_before = fuel;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: policy_eval_bench POLICY_DIR [ITERATIONS] [--no-candidates]\n");
    return 2;
  }
  size_t iterations = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 200000;
  if (!iterations)
    iterations = 1;
  arq_log_set_level(ARQ_LOG_ERROR);
  arq_config_t cfg;
  arq_config_defaults(&cfg);
  /* A byte-by-byte scan of 1 KiB takes more than the default 10 000 instructions. */
  cfg.platform.overseer.fuel_limit = 1000000;
  arq_shield_t s = {0};
  s.cfg = &cfg;
  s.metrics = arq_metrics_new();
  s.m.wasm_duration = arq_metrics_histogram(s.metrics, "d", "d", NULL, arq_metrics_latency_buckets,
                                            arq_metrics_latency_nbuckets);
  s.m.wasm_fuel_consumed = arq_metrics_counter(s.metrics, "f_total", "f", NULL);
  arq_worker_t w = {0};
  w.shield = &s;
  w.loop = arq_loop_new();
  s.workers = &w;
  s.nworkers = 1;
  w.policies = arq_worker_policies_new(&w);
  uint64_t *samples = malloc(iterations * sizeof *samples);

  printf("| policy (1 KiB payload, 3 headers) | median ns | p99 ns | fuel per evaluation |\n"
         "|---|---|---|---|\n");
  measure("none (the hook is skipped)", &w, iterations, samples);
  arq_overseer_install(&s, "T1", false, load(argv[1], "logger_quiet.wasm"));
  arq_loop_run_pending(w.loop);
  measure("empty on_message (reset + call)", &w, iterations, samples);
  arq_overseer_install(&s, "T1", false, load(argv[1], "typical.wasm"));
  arq_loop_run_pending(w.loop);
  measure("typical: reads a header and the 1 KiB payload", &w, iterations, samples);
  arq_overseer_install(&s, "T1", false, load(argv[1], "block_word.wasm"));
  arq_loop_run_pending(w.loop);
  measure("block_word: also scans every byte for a word", &w, iterations, samples);
  if (argc > 3 && !strcmp(argv[3], "--no-candidates"))
    goto done;

  arq_overseer_install(&s, "T1", false, load(argv[1], "typical.wasm"));
  arq_loop_run_pending(w.loop);
  measure("typical, no candidate", &w, iterations, samples);
  arq_overseer_install(&s, "T1", true, load_candidate(&s, argv[1], "typical.wasm"));
  arq_loop_run_pending(w.loop);
  measure("typical + typical candidate (canary_percent 1.0)", &w, iterations, samples);
  /* a trace id the rule leaves out of half the traffic */
  static char out[33];
  for (unsigned i = 0; i < 1000; i++) {
    snprintf(out, sizeof out, "%032x", i + 1);
    if (!arq_sample_in(out, 32, 0.5))
      break;
  }
  cfg.platform.overseer.canary_percent = 0.5;
  trace = out;
  measure("typical + typical candidate, trace out of the share (0.5)", &w, iterations, samples);
  cfg.platform.overseer.canary_percent = 1.0;
  arq_overseer_install(&s, "T1", true, load_candidate(&s, argv[1], "infinite_loop.wasm"));
  arq_loop_run_pending(w.loop);
  measure("typical + looping candidate, stopped by canary_fuel_limit 10 000", &w, iterations, samples);
  cfg.platform.overseer.canary_fuel_limit = 1000000000000;
  size_t slow = iterations / 100 > 100 ? iterations / 100 : 100;
  measure("typical + looping candidate, stopped by canary_time_budget_us 200", &w, slow, samples);

done:
  arq_worker_policies_free(w.policies);
  arq_loop_free(w.loop);
  arq_metrics_free(s.metrics);
  arq_config_free(&cfg);
  free(samples);
  return 0;
}
