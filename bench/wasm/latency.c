/*
 * latency — small-module latency of the engine through its public API (src/wasm/wasm.h):
 * what an embedder pays per message for a tiny policy, apart from the work it does.
 *
 *   wasm_latency_bench [ITERATIONS]     (default 200000 per row)
 *
 * Rows, each timed per iteration with CLOCK_MONOTONIC and reported as median and p99 in
 * nanoseconds (the "timer only" row is the cost of the two clock reads in every sample):
 *   call                          arq_wasm_call on a live instance
 *   reset + call                  arq_wasm_reset, then the call (the per-message path)
 *   instantiate + call + free     a fresh instance per message
 *   load + instantiate + call     decode, validate and compile too, per message
 * Every row checks the policy's result, so the program also serves as a smoke test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wasm/wasm.h"

/* A minimal policy (wat2wasm of the text below): it writes its argument to memory and
 * bumps a mutable global, so a reset has one dirty memory chunk and a global to restore.
 *   (module
 *     (memory (export "memory") 1)
 *     (global $count (mut i32) (i32.const 0))
 *     (func (export "on_message") (param $len i32) (result i32)
 *       (i32.store (i32.const 16) (local.get $len))
 *       (global.set $count (i32.add (global.get $count) (i32.const 1)))
 *       (i32.add (i32.load (i32.const 16)) (global.get $count))))
 */
static const uint8_t tiny[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01,
    0x7f, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x06, 0x06, 0x01, 0x7f, 0x01,
    0x41, 0x00, 0x0b, 0x07, 0x17, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00,
    0x0a, 0x6f, 0x6e, 0x5f, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x00, 0x00, 0x0a, 0x1a,
    0x01, 0x18, 0x00, 0x41, 0x10, 0x20, 0x00, 0x36, 0x02, 0x00, 0x23, 0x00, 0x41, 0x01, 0x6a,
    0x24, 0x00, 0x41, 0x10, 0x28, 0x02, 0x00, 0x23, 0x00, 0x6a, 0x0b,
};

#define ARG 7

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void fail(const char *what, arq_wasm_result_t r) {
  fprintf(stderr, "wasm_latency_bench: %s: %s\n", what, r ? r : "wrong result");
  exit(1);
}

/* One call of on_message; returns its result. */
static int32_t call(arq_wasm_instance_t *inst) {
  arq_wasm_func_t *f = arq_wasm_export_func(inst, "on_message");
  arq_wasm_val_t arg = {.type = ARQ_WASM_I32, .of.i32 = ARG}, res;
  arq_wasm_result_t r = arq_wasm_call(inst, f, &arg, 1, &res, 1);
  if (r)
    fail("call", r);
  return res.of.i32;
}

static arq_wasm_instance_t *instantiate(const arq_wasm_module_t *m) {
  arq_wasm_instance_t *inst = NULL;
  arq_wasm_result_t r = arq_wasm_instantiate(m, NULL, 0, NULL, &inst);
  if (r)
    fail("instantiate", r);
  return inst;
}

enum { ROW_TIMER, ROW_CALL, ROW_RESET_CALL, ROW_INST_CALL, ROW_LOAD_CALL, ROWS };

static const char *const row_names[ROWS] = {
    "timer only (two clock reads)",
    "call (live instance, no reset)",
    "reset + call",
    "instantiate + call + free",
    "load + instantiate + call + free",
};

/* One sample of a row, in ns including the two clock reads. */
static uint64_t sample(int row, const arq_wasm_module_t *m, arq_wasm_instance_t *live) {
  uint64_t t0 = now_ns();
  switch (row) {
  case ROW_CALL:
    call(live);
    break;
  case ROW_RESET_CALL: {
    arq_wasm_result_t r = arq_wasm_reset(live);
    if (r)
      fail("reset", r);
    if (call(live) != ARG + 1)
      fail("reset + call", NULL);
    break;
  }
  case ROW_INST_CALL: {
    arq_wasm_instance_t *inst = instantiate(m);
    if (call(inst) != ARG + 1)
      fail("instantiate + call", NULL);
    arq_wasm_instance_free(inst);
    break;
  }
  case ROW_LOAD_CALL: {
    arq_wasm_module_t *mod = NULL;
    arq_wasm_result_t r = arq_wasm_module_load(tiny, sizeof tiny, &mod);
    if (r)
      fail("load", r);
    arq_wasm_instance_t *inst = instantiate(mod);
    if (call(inst) != ARG + 1)
      fail("load + call", NULL);
    arq_wasm_instance_free(inst);
    arq_wasm_module_free(mod);
    break;
  }
  default:
    break;
  }
  return now_ns() - t0;
}

int main(int argc, char **argv) {
  size_t iterations = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
  if (iterations < 10)
    iterations = 10;
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(tiny, sizeof tiny, &m);
  if (r)
    fail("load", r);
  arq_wasm_instance_t *live = instantiate(m);
  uint64_t *samples[ROWS];
  for (int row = 0; row < ROWS; row++) {
    samples[row] = malloc(iterations * sizeof **samples);
    if (!samples[row])
      fail("malloc", "out of memory");
  }
  /* Warm-up, then the rows interleaved in blocks of 100 so that a burst of load on this
   * shared machine hits every row alike instead of one row entirely. */
  for (int row = 0; row < ROWS; row++)
    for (int k = 0; k < 1000; k++)
      sample(row, m, live);
  for (size_t done = 0; done < iterations;) {
    size_t block = iterations - done < 100 ? iterations - done : 100;
    for (int row = 0; row < ROWS; row++)
      for (size_t k = 0; k < block; k++)
        samples[row][done + k] = sample(row, m, live);
    done += block;
  }
  printf("| operation (tiny policy, %zu iterations) | median ns | p99 ns |\n|---|---:|---:|\n",
         iterations);
  for (int row = 0; row < ROWS; row++) {
    qsort(samples[row], iterations, sizeof **samples, cmp_u64);
    printf("| %s | %llu | %llu |\n", row_names[row],
           (unsigned long long)samples[row][iterations / 2],
           (unsigned long long)samples[row][iterations * 99 / 100]);
    free(samples[row]);
  }
  arq_wasm_instance_free(live);
  arq_wasm_module_free(m);
  return 0;
}
