/*
 * toml_json.c — writes a TOML tree in toml-test's tagged JSON: tables as objects, arrays
 * as arrays, and every scalar as {"type": T, "value": "text"}.
 *
 * DESIGN
 *   Strings are already valid UTF-8, so only quotes, backslashes and control characters
 *   need escaping. Floats are printed with the fewest significant digits that read back
 *   to the same double, so output is both exact and readable. Write errors are detected
 *   once, at the end, through ferror().
 */
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>

#include "common/toml_internal.h"

static void write_json_string(const char *s, size_t len, FILE *out) {
  fputc('"', out);
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    switch (ch) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\b': fputs("\\b", out); break;
    case '\f': fputs("\\f", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (ch < 0x20 || ch == 0x7F)
        fprintf(out, "\\u%04x", ch);
      else
        fputc(ch, out);
    }
  }
  fputc('"', out);
}

static void format_float(double d, char *buf, size_t cap) {
  if (isnan(d)) {
    snprintf(buf, cap, "nan");
    return;
  }
  if (isinf(d)) {
    snprintf(buf, cap, d < 0 ? "-inf" : "inf");
    return;
  }
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, cap, "%.*g", digits, d);
    if (strtod(buf, NULL) == d)
      return;
  }
}

static void write_scalar(const arq_toml_value_t *v, FILE *out) {
  char num[40];
  fprintf(out, "{\"type\":\"%s\",\"value\":", arq_toml_type_name(v->type));
  switch (v->type) {
  case ARQ_TOML_INTEGER:
    fprintf(out, "\"%" PRId64 "\"", v->u.i);
    break;
  case ARQ_TOML_FLOAT:
    format_float(v->u.f, num, sizeof num);
    fprintf(out, "\"%s\"", num);
    break;
  case ARQ_TOML_BOOL:
    fputs(v->u.b ? "\"true\"" : "\"false\"", out);
    break;
  default: /* strings and the date/time kinds */
    write_json_string(v->u.str.ptr, v->u.str.len, out);
    break;
  }
  fputc('}', out);
}

static void write_value(const arq_toml_value_t *v, FILE *out) {
  if (v->type == ARQ_TOML_TABLE) {
    fputc('{', out);
    for (size_t i = 0; i < v->u.table.len; i++) {
      const arq__toml_entry_t *e = &v->u.table.entries[i];
      if (i)
        fputc(',', out);
      write_json_string(e->key, e->keylen, out);
      fputc(':', out);
      write_value(e->value, out);
    }
    fputc('}', out);
  } else if (v->type == ARQ_TOML_ARRAY) {
    fputc('[', out);
    for (size_t i = 0; i < v->u.array.len; i++) {
      if (i)
        fputc(',', out);
      write_value(v->u.array.items[i], out);
    }
    fputc(']', out);
  } else {
    write_scalar(v, out);
  }
}

int arq_toml_write_tagged_json(const arq_toml_value_t *v, FILE *out) {
  if (!v || !out)
    return -1;
  /* Floats must use '.' whatever locale the program set; uselocale() affects only this
   * thread, so concurrent writers don't interfere. */
  locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  if (!c_locale)
    return -1;
  locale_t previous = uselocale(c_locale);
  write_value(v, out);
  uselocale(previous);
  freelocale(c_locale);
  return ferror(out) ? -1 : 0;
}
