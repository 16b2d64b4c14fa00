#include "common/trace.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

bool arq_trace_id_valid(const char *t) {
  if (!t || strlen(t) != ARQ_TRACE_ID_LEN)
    return false;
  bool nonzero = false;
  for (int i = 0; i < ARQ_TRACE_ID_LEN; i++) {
    if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
      return false;
    nonzero |= t[i] != '0';
  }
  return nonzero;
}

/* Trace ids need to be unique, not secret (a client may choose its own), so they come from
 * a per-thread xoshiro256** seeded once from getrandom: a system call per message was a
 * measurable share of a busy Shield's CPU. */
static _Thread_local uint64_t trace_state[4];
static _Thread_local bool trace_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void seed(void) {
  uint64_t s[4];
  if (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) {
    /* Not expected once the pool is ready; the clock and the state's address (per
     * thread) still give distinct sequences. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^ (uint64_t)(uintptr_t)trace_state;
    for (int i = 0; i < 4; i++)
      s[i] = splitmix64(&x);
  }
  if (!(s[0] | s[1] | s[2] | s[3]))
    s[0] = 1; /* the one state xoshiro never leaves */
  memcpy(trace_state, s, sizeof s);
  trace_seeded = true;
}

static uint64_t next64(void) {
  uint64_t *s = trace_state;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

void arq_trace_id_new(char out[ARQ_TRACE_ID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  if (!trace_seeded)
    seed();
  uint64_t words[2] = {next64(), next64()};
  if (!(words[0] | words[1]))
    words[0] = 1; /* never all zero */
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < 16; i++)
      out[w * 16 + i] = hex[(words[w] >> (60 - 4 * i)) & 15];
  out[ARQ_TRACE_ID_LEN] = '\0';
}
