/*
 * base64.h — RFC 4648 base64, as the proto3 JSON mapping and the server API read and write
 * `bytes`: decoding accepts the standard and the URL-safe alphabet (one per value), with
 * or without padding; encoding writes the standard alphabet, padded.
 */
#ifndef ARQ_COMMON_BASE64_H
#define ARQ_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/** Room `out` needs for arq_base64_decode of `len` characters. */
#define ARQ_BASE64_DECODED_CAP(len) ((len) / 4 * 3 + 3)

/** Decodes s[0..len) into out (ARQ_BASE64_DECODED_CAP(len) bytes). Returns the decoded
 *  length, or -1 for anything that is not base64 (a mixture of alphabets, wrong padding, a
 *  length no encoding has). Bits below the last whole byte are ignored, as the reference
 *  implementations do, rather than required to be zero. */
long arq_base64_decode(const char *s, size_t len, uint8_t *out);
/** Appends the padded standard encoding of p[0..len). */
void arq_base64_append(arq_buf_t *b, const uint8_t *p, size_t len);

#endif
