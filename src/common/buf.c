#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void arq_oom(const char *what) {
  fprintf(stderr, "fatal: out of memory (%s)\n", what);
  abort();
}

void arq_buf_init(arq_buf_t *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void arq_buf_free(arq_buf_t *b) {
  free(b->data);
  arq_buf_init(b);
}

void arq_buf_reset(arq_buf_t *b) {
  b->len = 0;
  if (b->cap)
    b->data[0] = '\0';
}

void arq_buf_reserve(arq_buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    arq_oom("buffer");
  b->data = p;
  b->cap = cap;
  b->data[b->len] = '\0';
}

void arq_buf_append(arq_buf_t *b, const void *data, size_t len) {
  arq_buf_reserve(b, len);
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void arq_buf_puts(arq_buf_t *b, const char *s) { arq_buf_append(b, s, strlen(s)); }

void arq_buf_putc(arq_buf_t *b, char c) { arq_buf_append(b, &c, 1); }

void arq_buf_vprintf(arq_buf_t *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0)
    return;
  arq_buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void arq_buf_printf(arq_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  arq_buf_vprintf(b, fmt, ap);
  va_end(ap);
}
