/*
 * payloads.h — the JSON the server puts in its own events and messages (SPEC section 3 and
 * 4), each built with the JSON writer in one place: the error payload, the welcome event's
 * data, and a Shield's heartbeat on sys.shield.<node>.hb.
 */
#ifndef ARQ_PROTOCOL_PAYLOADS_H
#define ARQ_PROTOCOL_PAYLOADS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

/** The most messages one history answer carries (a request's `limit`: 1 to this). */
#define ARQ_HISTORY_PAGE_MAX 1000

/** SPEC section 10: the types of the events the server sends (`ack`, `error`, `welcome`,
 *  `pong`, `history`, `presence.*`). A member must be able to trust that an "ack" or a
 *  "presence.join" came from the server, so nobody else may send one. */
bool arq_event_type_reserved(const char *type);

/** {"code":N,"reason":"..."} (SPEC section 3), the data of every `error` event, from the
 *  Shield and the Brain alike. The reason may quote client input: it is escaped, ill-formed
 *  UTF-8 becomes U+FFFD, and it is cut (on a character boundary) at 512 bytes, so a refusal
 *  never costs more than its cause. */
void arq_payload_error(arq_buf_t *b, int code, const char *reason);

/** {"error":"...","details":"..."}: the body of every HTTP error the Shield answers
 *  (upgrade refusals, the admin API). `details` may quote client input: it is escaped. */
void arq_payload_http_error(arq_buf_t *b, const char *error, const char *details);

typedef struct {
  const char *conn_id, *node, *tenant, *user, *version;
  const char *limits_json; /* an object, built once per process */
} arq_welcome_t;

/** {"conn_id","node","tenant_id","user","version","limits":{...}} */
void arq_payload_welcome(arq_buf_t *b, const arq_welcome_t *w);
/** An audit record on sys.audit.<tenant> (docs/shield.md, docs/brain.md): {"ts","component",
 *  "code" (when code >= 0), then each (key, value) pair whose value is not NULL, every value
 *  escaped (reasons and subjects may quote client input). */
void arq_payload_audit(arq_buf_t *b, int64_t ts_ms, const char *component, int code,
                       const char *const pairs[][2], size_t npairs);
/** The same, ending with "headers": an object of the (name, value) pairs given (`headers`
 *  not NULL; a repeated name is written as often as it is given). */
void arq_payload_audit_headers(arq_buf_t *b, int64_t ts_ms, const char *component, int code,
                               const char *const pairs[][2], size_t npairs,
                               const char *const headers[][2], size_t nheaders);
/** {"node","instance","connections","ts"} */
void arq_payload_heartbeat(arq_buf_t *b, const char *node, const char *instance,
                           int64_t connections, int64_t ts_ms);

#endif
