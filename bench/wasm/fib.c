/*
 * fib — naive doubly recursive Fibonacci: measures the cost of a WebAssembly call and
 * return (about 7 million calls for fib(32)), with almost no other work per call.
 */
#include "bench.h"

BENCH_SIZE(32);

static uint32_t fib(uint32_t n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

EXPORT(run) uint32_t run(uint32_t n) {
  return fib(n);
}

EXPORT(bench) uint32_t bench(void) {
  return fib(bench_size);
}
