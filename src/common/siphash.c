/*
 * siphash.c — SipHash-c-d over a byte string (see siphash.h).
 *
 * State: four 64-bit words v0..v3 initialised from the key and four constants (the ASCII
 * of "somepseudorandomlygeneratedbytes"). Each 8-byte little-endian word m of the message
 * is absorbed as v3 ^= m, c rounds, v0 ^= m; the last word holds the remaining 0..7 bytes
 * and the length modulo 256 in its top byte. Then v2 ^= 0xff, d rounds, and the output is
 * v0 ^ v1 ^ v2 ^ v3.
 */
#include "common/siphash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const uint8_t *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
         (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
         (uint64_t)p[7] << 56;
}

#define SIPROUND                                                                          \
  do {                                                                                    \
    v0 += v1;                                                                             \
    v1 = rotl(v1, 13);                                                                    \
    v1 ^= v0;                                                                             \
    v0 = rotl(v0, 32);                                                                    \
    v2 += v3;                                                                             \
    v3 = rotl(v3, 16);                                                                    \
    v3 ^= v2;                                                                             \
    v0 += v3;                                                                             \
    v3 = rotl(v3, 21);                                                                    \
    v3 ^= v0;                                                                             \
    v2 += v1;                                                                             \
    v1 = rotl(v1, 17);                                                                    \
    v1 ^= v2;                                                                             \
    v2 = rotl(v2, 32);                                                                    \
  } while (0)

/* Inlined into each variant, where c and d are constants and the loops unroll. */
static inline __attribute__((always_inline)) uint64_t
siphash(const arq_siphash_key_t *key, const void *data, size_t len, int c, int d) {
  uint64_t v0 = key->k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = key->k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = key->k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = key->k1 ^ 0x7465646279746573ULL;
  const uint8_t *p = data;
  const uint8_t *end = p + (len & ~(size_t)7);
  for (; p != end; p += 8) {
    uint64_t m = load_le64(p);
    v3 ^= m;
    for (int i = 0; i < c; i++)
      SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t i = 0; i < (len & 7); i++)
    b |= (uint64_t)p[i] << (8 * i);
  v3 ^= b;
  for (int i = 0; i < c; i++)
    SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  for (int i = 0; i < d; i++)
    SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t arq_siphash13(const arq_siphash_key_t *key, const void *data, size_t len) {
  return siphash(key, data, len, 1, 3);
}

uint64_t arq_siphash24(const arq_siphash_key_t *key, const void *data, size_t len) {
  return siphash(key, data, len, 2, 4);
}

arq_siphash_key_t arq_siphash_key(const uint8_t k[16]) {
  arq_siphash_key_t key = {load_le64(k), load_le64(k + 8)};
  return key;
}

static int read_urandom(uint8_t *buf, size_t len) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  return got == len ? 0 : -1;
}

arq_siphash_key_t arq_siphash_key_random(void) {
  uint8_t k[16];
  size_t got = 0;
  while (got < sizeof k) {
    ssize_t n = getrandom(k + got, sizeof k - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  if (got == sizeof k || read_urandom(k, sizeof k) == 0)
    return arq_siphash_key(k);
  /* No kernel randomness: still nothing a remote peer can read. */
  struct timespec rt, mt;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mt);
  arq_siphash_key_t mix = {(uint64_t)rt.tv_nsec ^ (uint64_t)rt.tv_sec << 30 ^ (uint64_t)getpid(),
                           (uint64_t)mt.tv_nsec ^ (uint64_t)(uintptr_t)&mix ^
                               (uint64_t)(uintptr_t)&arq_siphash_key_random};
  uint64_t words[2] = {(uint64_t)mt.tv_sec, (uint64_t)(uintptr_t)k};
  arq_siphash_key_t key = {arq_siphash24(&mix, words, sizeof words),
                           arq_siphash24(&mix, &rt, sizeof rt)};
  return key;
}
