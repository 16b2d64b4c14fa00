/*
 * utf8.h — the one UTF-8 validator of the project (RFC 3629, section 4): no overlong forms,
 * no encoded surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no C0, C1 or F5..FF lead
 * bytes, no stray or missing continuation bytes. U+0000 and noncharacters are valid.
 *
 * Three ways in:
 *   - arq_utf8_valid / arq_utf8_check: a whole buffer (protobuf strings, WebAssembly names,
 *     TOML documents, WebSocket close reasons); check also says where the first bad
 *     sequence starts.
 *   - arq_utf8_seq_len: one sequence at a position (the JSON parser and writer, which copy
 *     or replace sequence by sequence).
 *   - arq_utf8_t with init/feed/complete: incremental, for WebSocket text messages checked
 *     fragment by fragment, where a sequence may be split across fragments.
 */
#ifndef ARQ_COMMON_UTF8_H
#define ARQ_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The whole of p[0..n) is valid UTF-8. */
bool arq_utf8_valid(const uint8_t *p, size_t n);

/** The offset of the first byte of the first ill-formed (or truncated) sequence in
 *  p[0..n), or n if the whole buffer is valid. */
size_t arq_utf8_check(const uint8_t *p, size_t n);

/** The length (1..4) of the well-formed sequence that starts at p, looking at no more than
 *  `avail` bytes; 0 if it is ill-formed, truncated, or avail is 0. ASCII is 1. */
size_t arq_utf8_seq_len(const uint8_t *p, size_t avail);

/** Incremental validation. */
typedef struct {
  uint32_t state; /* 0 between characters; opaque otherwise */
} arq_utf8_t;

void arq_utf8_init(arq_utf8_t *u);
/** Validates the next bytes. False on an invalid sequence; the state then stays failed.
 *  A sequence may be split across calls. */
bool arq_utf8_feed(arq_utf8_t *u, const uint8_t *p, size_t n);
/** True when everything fed so far is valid and does not end inside a sequence. */
bool arq_utf8_complete(const arq_utf8_t *u);

#endif
