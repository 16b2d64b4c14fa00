/*
 * siphash.h — SipHash (Aumasson and Bernstein, 2012): a keyed hash for hash tables whose
 * keys an adversary chooses.
 *
 * DESIGN
 *   A table keyed by client-chosen strings (room names, user ids) under an unkeyed hash can
 *   be flooded: whoever knows the function picks keys that all land in one bucket, and every
 *   insert and lookup turns linear. SipHash is a pseudo-random function of a 128-bit secret
 *   key, so without the key no one can aim at a bucket. SipHash-1-3 (one compression round
 *   per 8-byte block, three finalisation rounds) is the variant hash tables use in
 *   practice; SipHash-2-4 is the conservative one of the paper, kept here for its test
 *   vectors and for callers that want the margin.
 *
 *   Written from the paper's description; the result is the 64-bit SipHash of `len` bytes,
 *   key bytes and message words read little-endian.
 */
#ifndef ARQ_COMMON_SIPHASH_H
#define ARQ_COMMON_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t k0, k1; /* the 16 key bytes, read as two little-endian words */
} arq_siphash_key_t;

/** The key of the 16 bytes `k` (as the paper numbers them: k0 is bytes 0..7). */
arq_siphash_key_t arq_siphash_key(const uint8_t k[16]);
/** A fresh random key from getrandom(2) (then /dev/urandom; failing both, the clock, the
 *  process id and addresses, which are still unpredictable to a remote client). */
arq_siphash_key_t arq_siphash_key_random(void);

uint64_t arq_siphash13(const arq_siphash_key_t *key, const void *data, size_t len);
uint64_t arq_siphash24(const arq_siphash_key_t *key, const void *data, size_t len);

#endif
