/*
 * percent.h — hex digits and percent-encoding (RFC 3986), for every reader of them: URL
 * query parameters, credentials in a URL, TOML and test-script escapes.
 */
#ifndef ARQ_COMMON_PERCENT_H
#define ARQ_COMMON_PERCENT_H

#include <stdbool.h>
#include <stddef.h>

/** The value of a hex digit (either case), or -1. */
int arq_hex_value(int c);

/** Decodes s[0..n) into out[0..cap) (NUL-terminated); with plus_is_space, '+' is a space
 *  (form encoding). The decoded length, or -1 for a bad or truncated escape, an escaped
 *  NUL, or no room. */
long arq_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t cap);

#endif
