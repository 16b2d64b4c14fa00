/*
 * errors.c — the named error strings of the registry and the one place that fills an
 * arq_schema_error_t. Callers compare codes by identity, so each text exists once.
 */
#include "registry/compiled.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ARQ_SCHEMA_DEFINE_ERROR(id, text) const char arq_schema_err_##id[] = text;
ARQ_SCHEMA_ERRORS(ARQ_SCHEMA_DEFINE_ERROR)
#undef ARQ_SCHEMA_DEFINE_ERROR

int arq__schema_fail(arq_schema_error_t *err, const char *code, size_t offset, const char *fmt,
                     ...) {
  if (!err)
    return -1;
  err->code = code;
  err->offset = offset;
  err->field = 0;
  err->depth = 0;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  if (n < 0)
    snprintf(err->message, sizeof err->message, "%s", code);
  return -1;
}
