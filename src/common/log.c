#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static atomic_int log_level = ARQ_LOG_INFO;
static atomic_int log_format = ARQ_LOG_LOGFMT;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void arq_log_configure(arq_log_level_t level, arq_log_format_t format, int fd) {
  atomic_store(&log_level, (int)level);
  atomic_store(&log_format, (int)format);
  atomic_store(&log_fd, fd);
}

void arq_log_set_level(arq_log_level_t level) { atomic_store(&log_level, (int)level); }

bool arq_log_enabled(arq_log_level_t level) {
  return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int arq_log_level_parse(const char *s, arq_log_level_t *out) {
  for (int i = 0; i <= ARQ_LOG_TRACE; i++) {
    if (s && !strcmp(s, level_names[i])) {
      *out = (arq_log_level_t)i;
      return 0;
    }
  }
  return -1;
}

const char *arq_log_level_name(arq_log_level_t level) {
  return (level >= ARQ_LOG_ERROR && level <= ARQ_LOG_TRACE) ? level_names[level] : "unknown";
}

int arq_log_format_parse(const char *s, arq_log_format_t *out) {
  if (s && !strcmp(s, "logfmt")) {
    *out = ARQ_LOG_LOGFMT;
    return 0;
  }
  if (s && !strcmp(s, "json")) {
    *out = ARQ_LOG_JSON;
    return 0;
  }
  return -1;
}

/* A bounded line writer: once full, further output is dropped and `cut` is set. */
typedef struct {
  char *p;
  size_t len;
  size_t cap;
  bool cut;
} line_t;

static void put(line_t *l, const char *s, size_t n) {
  if (l->cut)
    return;
  if (l->len + n > l->cap) {
    l->cut = true;
    return;
  }
  memcpy(l->p + l->len, s, n);
  l->len += n;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

static bool logfmt_needs_quotes(const char *s) {
  if (!*s)
    return true;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
      return true;
  }
  return false;
}

/* Escapes for both formats: logfmt quoted values follow the same rules as JSON strings. */
static void put_escaped(line_t *l, const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '"': puts_(l, "\\\""); break;
    case '\\': puts_(l, "\\\\"); break;
    case '\n': puts_(l, "\\n"); break;
    case '\r': puts_(l, "\\r"); break;
    case '\t': puts_(l, "\\t"); break;
    default:
      if (c < 0x20 || c == 0x7f) {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(l, esc, sizeof esc);
      } else {
        put(l, (const char *)&c, 1);
      }
    }
  }
}

static void put_field_text(line_t *l, arq_log_format_t format, bool first, const char *key,
                           const char *value, bool quote) {
  if (format == ARQ_LOG_JSON) {
    puts_(l, first ? "{\"" : ",\"");
    put_escaped(l, key);
    puts_(l, "\":\"");
    put_escaped(l, value);
    puts_(l, "\"");
    return;
  }
  if (!first)
    puts_(l, " ");
  puts_(l, key);
  puts_(l, "=");
  if (quote || logfmt_needs_quotes(value)) {
    puts_(l, "\"");
    put_escaped(l, value);
    puts_(l, "\"");
  } else {
    puts_(l, value);
  }
}

/* A field that does not fit is left out whole, so a cut line still parses. */
static void put_field(line_t *l, arq_log_format_t format, bool first, const char *key,
                      const char *value, bool quote) {
  size_t mark = l->len;
  put_field_text(l, format, first, key, value, quote);
  if (l->cut)
    l->len = mark;
}

static void format_ts(char *out, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static char log_node[128];

void arq_log_set_node(const char *node) {
  snprintf(log_node, sizeof log_node, "%s", node ? node : "");
}

void arq_log_write(arq_log_level_t level, const char *component, const char *msg,
                   const arq_log_field_t *fields, size_t nfields) {
  if (!arq_log_enabled(level))
    return;
  static _Thread_local char buf[LOG_LINE_MAX];
  /* Room kept back so the closing of the line always fits. */
  line_t l = {buf, 0, LOG_LINE_MAX - 32, false};
  arq_log_format_t format = (arq_log_format_t)atomic_load_explicit(&log_format, memory_order_relaxed);
  char ts[40];
  format_ts(ts, sizeof ts);

  put_field(&l, format, true, "ts", ts, false);
  put_field(&l, format, false, "level", arq_log_level_name(level), false);
  put_field(&l, format, false, "component", component ? component : "-", false);
  /* msg is always quoted so that a one-word message reads like the others. */
  put_field(&l, format, false, "msg", msg ? msg : "", true);
  bool has_node = false;
  for (size_t i = 0; i < nfields; i++) {
    if (fields[i].key && fields[i].value) {
      put_field(&l, format, false, fields[i].key, fields[i].value, false);
      has_node |= !strcmp(fields[i].key, "node");
    }
  }
  if (*log_node && !has_node)
    put_field(&l, format, false, "node", log_node, false);

  l.cap = LOG_LINE_MAX;
  if (l.cut) {
    l.cut = false;
    put_field(&l, format, false, "truncated", "true", false);
  }
  puts_(&l, format == ARQ_LOG_JSON ? "}\n" : "\n");

  int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
  size_t off = 0;
  while (off < l.len) {
    ssize_t n = write(fd, buf + off, l.len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    off += (size_t)n;
  }
}

void arq_logf(arq_log_level_t level, const char *component, const char *fmt, ...) {
  if (!arq_log_enabled(level))
    return;
  char msg[LOG_LINE_MAX / 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  arq_log_write(level, component, msg, NULL, 0);
}
