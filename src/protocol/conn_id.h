/*
 * conn_id.h — a connection's id, "<instance>-<worker>-<n>": the Shield process's random
 * instance (so ids never repeat across restarts), the worker that owns the connection,
 * and a counter of that worker. The Brain reads the instance to tell which Shield process
 * a member belongs to (presence expires with that process).
 */
#ifndef ARQ_PROTOCOL_CONN_ID_H
#define ARQ_PROTOCOL_CONN_ID_H

#include <stddef.h>
#include <stdint.h>

#include "common/ids.h"

#define ARQ_CONN_ID_CAP 32

/** Writes the id; returns its length (like snprintf). */
int arq_conn_id_format(char *out, size_t cap, const char *instance, size_t worker, uint64_t n);
/** The instance part of a connection id. Returns 0, or -1 when the id has another shape. */
int arq_conn_id_instance(const char *conn_id, char instance[ARQ_ID_MAX_LEN + 1]);

#endif
