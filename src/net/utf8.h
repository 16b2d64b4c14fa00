/*
 * utf8.h — an incremental UTF-8 validator (RFC 3629): text WebSocket messages are checked
 * as their fragments arrive, so a bad sequence fails the connection without waiting for
 * the rest of the message, and a sequence split across fragments still validates.
 */
#ifndef ARQ_NET_UTF8_H
#define ARQ_NET_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t state; /* 0 between characters; opaque otherwise */
} arq_utf8_t;

void arq_utf8_init(arq_utf8_t *u);
/** Validates the next bytes. False on an invalid sequence (overlongs, surrogates, code
 *  points above U+10FFFF, stray continuation bytes); the state then stays failed. */
bool arq_utf8_feed(arq_utf8_t *u, const uint8_t *p, size_t n);
/** True when everything fed so far is valid and does not end inside a sequence. */
bool arq_utf8_complete(const arq_utf8_t *u);
/** The whole of p[0..n) is valid UTF-8. */
bool arq_utf8_valid(const uint8_t *p, size_t n);

#endif
