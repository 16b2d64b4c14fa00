/*
 * log.h — structured log lines, logfmt (default) or JSON.
 *
 *   ts=2026-11-21T23:50:07.123Z level=info component=shield msg="listening" addr=127.0.0.1:4000
 *
 * DESIGN
 *   A line is formatted into a thread-local buffer and handed to the kernel with one
 *   write(2), so lines from different threads never interleave and no lock is taken.
 *   Lines longer than the buffer are cut (marked with `truncated=true`), never split.
 *   The level check is a relaxed atomic load, so disabled levels cost one branch.
 *   Values are escaped; nothing here decides what is safe to log (callers keep tokens
 *   and payloads out of info-level lines).
 */
#ifndef ARQ_COMMON_LOG_H
#define ARQ_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  ARQ_LOG_ERROR = 0,
  ARQ_LOG_WARN = 1,
  ARQ_LOG_INFO = 2,
  ARQ_LOG_DEBUG = 3,
  ARQ_LOG_TRACE = 4,
} arq_log_level_t;

typedef enum { ARQ_LOG_LOGFMT, ARQ_LOG_JSON } arq_log_format_t;

typedef struct {
  const char *key;
  const char *value; /* NULL values are left out of the line */
} arq_log_field_t;

/** Sets the threshold, the format and the output descriptor (default: info, logfmt, 2). */
void arq_log_configure(arq_log_level_t level, arq_log_format_t format, int fd);
void arq_log_set_level(arq_log_level_t level);
bool arq_log_enabled(arq_log_level_t level);

/** Parses "error", "warn", "info", "debug", "trace". Returns 0, or -1 if unknown. */
int arq_log_level_parse(const char *s, arq_log_level_t *out);
const char *arq_log_level_name(arq_log_level_t level);
/** Parses "logfmt" or "json". Returns 0, or -1 if unknown. */
int arq_log_format_parse(const char *s, arq_log_format_t *out);

/** Adds `node=<node>` to every line that has no `node` field of its own (a process that
 *  is one node of a cluster, such as the Shield). Call once, before other threads log. */
void arq_log_set_node(const char *node);

/** Writes one line. Fields follow `msg` in the order given. */
void arq_log_write(arq_log_level_t level, const char *component, const char *msg,
                   const arq_log_field_t *fields, size_t nfields);

/** ARQ_LOG(ARQ_LOG_INFO, "shield", "listening", {"addr", addr}, {"node", id}); */
#define ARQ_LOG(level, component, msg, ...)                                                   \
  do {                                                                                        \
    if (arq_log_enabled(level)) {                                                             \
      const arq_log_field_t arq_log_fields_[] = {{0, 0}, __VA_ARGS__};                        \
      arq_log_write(level, component, msg, arq_log_fields_ + 1,                               \
                    sizeof arq_log_fields_ / sizeof arq_log_fields_[0] - 1);                  \
    }                                                                                         \
  } while (0)

/** printf-style message without fields. */
__attribute__((format(printf, 3, 4))) void arq_logf(arq_log_level_t level, const char *component,
                                                    const char *fmt, ...);

#endif
