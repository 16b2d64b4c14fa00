/*
 * nop — an export that does nothing: the fixed cost of each runner (process start,
 * module load and instantiation), to read the other rows against.
 */
#include "bench.h"

BENCH_SIZE(1);

EXPORT(run) uint32_t run(uint32_t n) {
  return n;
}

EXPORT(bench) uint32_t bench(void) {
  return bench_size;
}
