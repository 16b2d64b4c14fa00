/*
 * trace.h — W3C trace ids (32 lowercase hex digits, not all zero), as carried in
 * `trace_id`, `x-arqon-trace-id` and `traceparent`.
 */
#ifndef ARQ_COMMON_TRACE_H
#define ARQ_COMMON_TRACE_H

#include <stdbool.h>

#define ARQ_TRACE_ID_LEN 32

bool arq_trace_id_valid(const char *t);
/** A fresh trace id, NUL-terminated: random (per-thread generator seeded from
 *  getrandom), unique in practice, not meant to be secret. */
void arq_trace_id_new(char out[ARQ_TRACE_ID_LEN + 1]);

#endif
