/*
 * bench.h — what every engine benchmark program shares.
 *
 * Each program is compiled twice from the same source: to wasm32 (clang, no libc) and
 * natively (gcc -O2). It defines `run(n)` (the workload at size n) and `bench()` (the
 * workload at its benchmark size), both returning a 32-bit checksum, so that every
 * runner can be checked for the same answer. `bench` takes no argument because wabt's
 * wasm-interp only calls exports without parameters (--run-all-exports).
 */
#ifndef ARQ_BENCH_WASM_H
#define ARQ_BENCH_WASM_H

#include <stdint.h>

#if defined(__wasm__)
#define EXPORT(name) __attribute__((export_name(#name)))
#else
#define EXPORT(name)
#endif

uint32_t run(uint32_t n);
uint32_t bench(void);

/* The benchmark size is read from a volatile global so that no compiler can evaluate
 * bench() at build time: the work must happen when it is called. */
#define BENCH_SIZE(value) static volatile uint32_t bench_size = (value)

#if !defined(__wasm__)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Native driver: `prog` runs bench(), `prog N` runs run(N). Prints the checksum the way
 * `arq wasm run` does, and the in-process time on stderr (without process start-up). */
int main(int argc, char **argv) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  uint32_t r = argc > 1 ? run((uint32_t)strtoul(argv[1], NULL, 0)) : bench();
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("i32:%d\n", (int32_t)r);
  fprintf(stderr, "in-process ns: %lld\n",
          (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
  return 0;
}
#endif

#endif
