/*
 * json_write.c — JSON output into an arq_buf_t: strings, numbers, parsed values, and a
 * small writer that places the commas.
 *
 * Output must always be valid JSON, even when the bytes handed to us are not valid UTF-8
 * (a protobuf string from a peer, say): such bytes become U+FFFD rather than passing
 * through and breaking the reader at the other end.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/utf8.h"

void arq_json_write_string(arq_buf_t *b, const char *str, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  arq_buf_reserve(b, len + 2);
  arq_buf_putc(b, '"');
  size_t run = 0; /* start of the pending run of bytes that need no escaping */
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    size_t n = c >= 0x80 ? arq_utf8_seq_len(s + i, len - i) : 0;
    if (n) {
      i += n;
      continue;
    }
    arq_buf_append(b, s + run, i - run);
    switch (c) {
    case '"': arq_buf_append(b, "\\\"", 2); break;
    case '\\': arq_buf_append(b, "\\\\", 2); break;
    case '\n': arq_buf_append(b, "\\n", 2); break;
    case '\r': arq_buf_append(b, "\\r", 2); break;
    case '\t': arq_buf_append(b, "\\t", 2); break;
    case '\b': arq_buf_append(b, "\\b", 2); break;
    case '\f': arq_buf_append(b, "\\f", 2); break;
    default:
      if (c < 0x20) {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        arq_buf_append(b, esc, sizeof esc);
      } else {
        arq_buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD for an ill-formed byte */
      }
    }
    i++;
    run = i;
  }
  arq_buf_append(b, s + run, len - run);
  arq_buf_putc(b, '"');
}

void arq_json_write_int64(arq_buf_t *b, int64_t v) { arq_buf_printf(b, "%" PRId64, v); }

void arq_json_write_uint64(arq_buf_t *b, uint64_t v) { arq_buf_printf(b, "%" PRIu64, v); }

void arq_json_write_double(arq_buf_t *b, double v) {
  if (!isfinite(v)) {
    arq_buf_puts(b, "null");
    return;
  }
  char text[32];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(text, sizeof text, "%.*g", prec, v);
    if (prec == 17 || strtod(text, NULL) == v)
      break;
  }
  arq_buf_puts(b, text);
}

void arq_json_write_value(arq_buf_t *b, const arq_json_value_t *v) {
  size_t n;
  const char *s;
  switch (arq_json_type(v)) {
  case ARQ_JSON_NULL: arq_buf_puts(b, "null"); return;
  case ARQ_JSON_FALSE: arq_buf_puts(b, "false"); return;
  case ARQ_JSON_TRUE: arq_buf_puts(b, "true"); return;
  case ARQ_JSON_NUMBER:
    s = arq_json_number_text(v, &n);
    arq_buf_append(b, s, n);
    return;
  case ARQ_JSON_STRING:
    s = arq_json_string(v, &n);
    arq_json_write_string(b, s, n);
    return;
  case ARQ_JSON_ARRAY:
    arq_buf_putc(b, '[');
    for (size_t i = 0; i < arq_json_len(v); i++) {
      if (i)
        arq_buf_putc(b, ',');
      arq_json_write_value(b, arq_json_array_get(v, i));
    }
    arq_buf_putc(b, ']');
    return;
  case ARQ_JSON_OBJECT:
    arq_buf_putc(b, '{');
    for (size_t i = 0; i < arq_json_len(v); i++) {
      if (i)
        arq_buf_putc(b, ',');
      arq_json_write_value(b, arq_json_object_key(v, i));
      arq_buf_putc(b, ':');
      arq_json_write_value(b, arq_json_object_value(v, i));
    }
    arq_buf_putc(b, '}');
    return;
  }
}

/* ---- the writer ---- */

void arq_json_writer_init(arq_json_writer_t *w, arq_buf_t *out) {
  w->out = out;
  w->_nonempty = 0;
  w->_depth = 0;
  w->_after_key = false;
}

static void before_value(arq_json_writer_t *w) {
  if (w->_after_key) {
    w->_after_key = false;
    return;
  }
  if (!w->_depth)
    return;
  uint64_t bit = (uint64_t)1 << (w->_depth - 1);
  if (w->_nonempty & bit)
    arq_buf_putc(w->out, ',');
  w->_nonempty |= bit;
}

static void w_open(arq_json_writer_t *w, char c) {
  before_value(w);
  if (w->_depth >= ARQ_JSON_WRITER_MAX_DEPTH) {
    fprintf(stderr, "fatal: arq_json_writer nested deeper than %d\n", ARQ_JSON_WRITER_MAX_DEPTH);
    abort();
  }
  arq_buf_putc(w->out, c);
  w->_depth++;
  w->_nonempty &= ~((uint64_t)1 << (w->_depth - 1));
}

static void close_(arq_json_writer_t *w, char c) {
  if (w->_depth)
    w->_depth--;
  arq_buf_putc(w->out, c);
}

void arq_json_w_object_begin(arq_json_writer_t *w) { w_open(w, '{'); }
void arq_json_w_object_end(arq_json_writer_t *w) { close_(w, '}'); }
void arq_json_w_array_begin(arq_json_writer_t *w) { w_open(w, '['); }
void arq_json_w_array_end(arq_json_writer_t *w) { close_(w, ']'); }

void arq_json_w_key(arq_json_writer_t *w, const char *key, size_t len) {
  before_value(w);
  arq_json_write_string(w->out, key, len);
  arq_buf_putc(w->out, ':');
  w->_after_key = true;
}

void arq_json_w_string(arq_json_writer_t *w, const char *s, size_t len) {
  before_value(w);
  arq_json_write_string(w->out, s, len);
}

void arq_json_w_int64(arq_json_writer_t *w, int64_t v) {
  before_value(w);
  arq_json_write_int64(w->out, v);
}

void arq_json_w_uint64(arq_json_writer_t *w, uint64_t v) {
  before_value(w);
  arq_json_write_uint64(w->out, v);
}

void arq_json_w_double(arq_json_writer_t *w, double v) {
  before_value(w);
  arq_json_write_double(w->out, v);
}

void arq_json_w_bool(arq_json_writer_t *w, bool v) {
  before_value(w);
  arq_buf_puts(w->out, v ? "true" : "false");
}

void arq_json_w_null(arq_json_writer_t *w) {
  before_value(w);
  arq_buf_puts(w->out, "null");
}

void arq_json_w_raw(arq_json_writer_t *w, const char *json, size_t len) {
  before_value(w);
  arq_buf_append(w->out, json, len);
}
