/*
 * subject.h — NATS subject names and patterns (`*` matches one token, `>` the rest).
 */
#ifndef ARQ_COMMON_SUBJECT_H
#define ARQ_COMMON_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

/** A literal subject: non-empty tokens separated by '.', no wildcards, no spaces. */
bool arq_subject_valid(const char *s);
/** A pattern: like a subject, where a token may be `*`, and the last token may be `>`. */
bool arq_subject_pattern_valid(const char *s);
/** True when the literal `subject` matches `pattern`. */
bool arq_subject_match(const char *pattern, const char *subject, size_t subject_len);

#endif
