/*
 * schema_batch DESC MESSAGE [--strict-unknown] — validates many messages in one process
 * for the differential test (tests/integration/test_registry_diff.py): stdin is a series
 * of records, each a 4-byte little-endian length and that many bytes; stdout gets one
 * line per record: `ok`, or `invalid <error text>`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/schema.h"

static uint8_t *slurp(FILE *f, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap && !(buf = realloc(buf, cap *= 2)))
      return NULL;
  }
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: schema_batch DESC MESSAGE [--strict-unknown] < records\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  size_t desc_len, in_len;
  uint8_t *desc = f ? slurp(f, &desc_len) : NULL;
  if (f)
    fclose(f);
  arq_schema_t *s;
  arq_schema_error_t err;
  if (!desc || arq_schema_load(desc, desc_len, 0, &s, &err)) {
    fprintf(stderr, "%s: %s\n", argv[1], desc ? err.message : "cannot read");
    return 2;
  }
  const arq_schema_message_t *m = arq_schema_find_message(s, argv[2]);
  if (!m) {
    fprintf(stderr, "no message %s\n", argv[2]);
    return 2;
  }
  arq_schema_limits_t lim = {.strict_unknown = argc > 3 && !strcmp(argv[3], "--strict-unknown")};
  uint8_t *in = slurp(stdin, &in_len);
  if (!in)
    return 2;
  for (size_t at = 0; at + 4 <= in_len;) {
    size_t n = (size_t)in[at] | (size_t)in[at + 1] << 8 | (size_t)in[at + 2] << 16 |
               (size_t)in[at + 3] << 24;
    at += 4;
    if (n > in_len - at) {
      fprintf(stderr, "truncated record\n");
      return 2;
    }
    /* a copy of exactly n bytes, so that ASan sees any read past the end */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, in + at, n);
    if (arq_schema_validate(s, m, copy, n, &lim, &err))
      printf("invalid %s\n", err.message);
    else
      printf("ok\n");
    free(copy);
    at += n;
  }
  free(in);
  free(desc);
  arq_schema_free(s);
  return 0;
}
