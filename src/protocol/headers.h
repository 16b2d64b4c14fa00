/*
 * headers.h — the NATS message headers of SPEC section 4, which the Shield stamps on every
 * routed message and the Brain reads, and the names a client may never supply.
 */
#ifndef ARQ_PROTOCOL_HEADERS_H
#define ARQ_PROTOCOL_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARQ_HEADER_TRACEPARENT "traceparent"
#define ARQ_HEADER_TRACE_ID "x-arqon-trace-id"
#define ARQ_HEADER_TENANT "x-arqon-tenant"
#define ARQ_HEADER_SENDER "x-arqon-sender"
#define ARQ_HEADER_CONN "x-arqon-conn"
#define ARQ_HEADER_NODE "x-arqon-node"
#define ARQ_HEADER_SHADOW "x-arqon-shadow"
#define ARQ_HEADER_PEER "x-arqon-peer" /* handshake policies: the client's address */
#define ARQ_HEADER_ROOM "x-arqon-room" /* message policies: the room a message names */
#define ARQ_HEADER_ORIGIN "x-arqon-origin" /* "api": a request of the server API, not a client's */
#define ARQ_HEADER_MSG_ID "Nats-Msg-Id" /* JetStream's deduplication id */

/** Names the server stamps or NATS interprets (`x-arqon-*`, `traceparent`, `nats-*`, any
 *  case): a client's header of such a name could pose as the server's. */
bool arq_header_reserved(const char *name, size_t len);

#define ARQ_TRACEPARENT_LEN 55 /* "00-" trace "-" span "-01" */

/** A W3C traceparent: version 00, the trace id (32 lowercase hex digits), the span id
 *  (zero is not a valid span id: the caller passes a non-zero one), sampled. */
void arq_traceparent_format(char out[ARQ_TRACEPARENT_LEN + 1], const char *trace_id,
                            uint64_t span);
/** The trace id of a well-formed version-00 traceparent (lowercase hex, trace and span
 *  ids not zero); false for anything else. */
bool arq_traceparent_trace_id(const char *traceparent, char out[33]);

#endif
