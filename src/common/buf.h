/*
 * buf.h — a growable byte buffer for text built off the hot path (metrics exposition,
 * JSON bodies, error messages). Allocation failure aborts: there is no useful way for
 * a server to carry on without memory for a reply.
 */
#ifndef ARQ_COMMON_BUF_H
#define ARQ_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
  char *data; /* always NUL-terminated when cap > 0 */
  size_t len;
  size_t cap;
} arq_buf_t;

void arq_buf_init(arq_buf_t *b);
void arq_buf_free(arq_buf_t *b);
void arq_buf_reset(arq_buf_t *b);
void arq_buf_reserve(arq_buf_t *b, size_t extra);
void arq_buf_append(arq_buf_t *b, const void *data, size_t len);
void arq_buf_puts(arq_buf_t *b, const char *s);
void arq_buf_putc(arq_buf_t *b, char c);
__attribute__((format(printf, 2, 3))) void arq_buf_printf(arq_buf_t *b, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) void arq_buf_vprintf(arq_buf_t *b, const char *fmt, va_list ap);

/** Aborts the process after printing `what` to stderr: out of memory. */
__attribute__((noreturn)) void arq_oom(const char *what);

#endif
