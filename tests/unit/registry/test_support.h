/* Helpers shared by the registry's tests: reading the build-time test data. */
#ifndef ARQ_TEST_REGISTRY_SUPPORT_H
#define ARQ_TEST_REGISTRY_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole of ARQ_REGISTRY_DATA/name, malloc'd; aborts the test program if unreadable. */
static inline uint8_t *read_data(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", ARQ_REGISTRY_DATA, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    abort();
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
    abort();
  fclose(f);
  *len = (size_t)n;
  return buf;
}

#endif
