/*
 * schemas.h — schema governance on the write path (SPEC section 7).
 *
 * DESIGN
 *   Schemas live gzip-compressed in the KV bucket `platform.registry.kv_bucket` (key: the
 *   schema id). A watch thread (src/spine/watch.h) decompresses each one with a bound
 *   (max_schema_bytes: a gzip bomb is refused), compiles it once (src/registry), and hands
 *   it to every worker as a posted task, as policies are. Each worker resolves, for every
 *   configured mapping, the message type of the schema it names, so that checking an
 *   event costs one subject match per mapping and one validation walk: no lookup by
 *   string, no allocation. A mapped subject whose schema is missing, or whose schema lacks
 *   the message, rejects (fail closed).
 */
#ifndef ARQ_SHIELD_SCHEMAS_H
#define ARQ_SHIELD_SCHEMAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arq_shield arq_shield_t;
typedef struct arq_worker arq_worker_t;
typedef struct arq_schemas arq_schemas_t;
typedef struct arq_worker_schemas arq_worker_schemas_t;

/** Starts the watch when platform.registry.enabled; NULL otherwise. */
arq_schemas_t *arq_schemas_start(arq_shield_t *s);
void arq_schemas_stop(arq_schemas_t *r);
/** False until the bucket has been read once (handshakes wait for it, like for policies). */
bool arq_schemas_ready(const arq_schemas_t *r);

arq_worker_schemas_t *arq_worker_schemas_new(arq_worker_t *w);
void arq_worker_schemas_free(arq_worker_schemas_t *ws);

/** Checks `data` (an event's data) for a message bound to `subject`. Returns true when it
 *  may pass (no mapping, or valid); false with the reason in `reason`. */
bool arq_schemas_check(arq_worker_t *w, const char *subject, const uint8_t *data, size_t len,
                       char *reason, size_t cap);

#endif
