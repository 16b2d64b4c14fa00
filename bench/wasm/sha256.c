/*
 * sha256 — SHA-256 (FIPS 180-4) of a 1 MiB buffer: 32-bit rotates, shifts and adds in a
 * long straight-line round function, with loads and stores of the message schedule.
 * `check()` returns 1 when the two short test messages of FIPS 180-4 hash to their
 * published digests, so a runner that agrees on the checksum also hashes correctly.
 */
#include "bench.h"

BENCH_SIZE(1024); /* KiB */

#define MAX_KIB 1024u

static uint8_t data[MAX_KIB * 1024u];

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

typedef struct {
  uint32_t h[8];
} digest_t;

/* Masked so that a rotate by 0 is defined (a shift by 32 is not). */
static uint32_t rotr(uint32_t x, unsigned s) {
  return (x >> s) | (x << ((32u - s) & 31u));
}

static uint32_t load_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One 64-byte block into the running state. */
static void compress(uint32_t st[8], const uint8_t *block) {
  uint32_t w[64];
  for (unsigned t = 0; t < 16; t++)
    w[t] = load_be32(block + 4 * t);
  for (unsigned t = 16; t < 64; t++) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
  uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
  for (unsigned t = 0; t < 64; t++) {
    uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] +
                  w[t];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
  st[4] += e;
  st[5] += f;
  st[6] += g;
  st[7] += h;
}

static digest_t sha256(const uint8_t *msg, uint32_t len) {
  uint32_t st[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint32_t done = 0;
  for (; len - done >= 64; done += 64)
    compress(st, msg + done);
  /* Padding: 0x80, zeros, then the length in bits as 64-bit big-endian; one or two
   * blocks depending on whether the length still fits after the tail. */
  uint8_t tail[128];
  uint32_t rest = len - done, total = rest + 9 <= 64 ? 64 : 128;
  for (uint32_t i = 0; i < total; i++)
    tail[i] = i < rest ? msg[done + i] : 0;
  tail[rest] = 0x80;
  uint64_t bits = (uint64_t)len * 8u;
  for (unsigned i = 0; i < 8; i++)
    tail[total - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (uint32_t off = 0; off < total; off += 64)
    compress(st, tail + off);
  digest_t d;
  for (unsigned i = 0; i < 8; i++)
    d.h[i] = st[i];
  return d;
}

/* Fills the first n KiB of `data` from a xorshift generator, so the input is not
 * compressible into a pattern the hash could shortcut (it cannot, but neither can a
 * compiler see through it), then hashes them. */
EXPORT(run) uint32_t run(uint32_t kib) {
  if (kib > MAX_KIB)
    kib = MAX_KIB;
  uint32_t x = 0x9e3779b9u ^ kib;
  for (uint32_t i = 0; i < kib * 1024u; i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    data[i] = (uint8_t)x;
    data[i + 1] = (uint8_t)(x >> 8);
    data[i + 2] = (uint8_t)(x >> 16);
    data[i + 3] = (uint8_t)(x >> 24);
  }
  digest_t d = sha256(data, kib * 1024u);
  uint32_t sum = 0;
  for (unsigned i = 0; i < 8; i++)
    sum ^= rotr(d.h[i], i);
  return sum;
}

EXPORT(bench) uint32_t bench(void) {
  return run(bench_size);
}

static int equal(const digest_t *d, const uint32_t want[8]) {
  for (unsigned i = 0; i < 8; i++)
    if (d->h[i] != want[i])
      return 0;
  return 1;
}

EXPORT(check) uint32_t check(void) {
  static const uint8_t one[] = "abc";
  static const uint8_t two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  static const uint32_t want_one[8] = {0xba7816bf, 0x8f01cfea, 0x414140de, 0x5dae2223,
                                       0xb00361a3, 0x96177a9c, 0xb410ff61, 0xf20015ad};
  static const uint32_t want_two[8] = {0x248d6a61, 0xd20638b8, 0xe5c02693, 0x0c3e6039,
                                       0xa33ce459, 0x64ff2167, 0xf6ecedd4, 0x19db06c1};
  digest_t a = sha256(one, sizeof one - 1), b = sha256(two, sizeof two - 1);
  return (uint32_t)(equal(&a, want_one) && equal(&b, want_two));
}
