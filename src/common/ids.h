/*
 * ids.h — identifiers that become NATS subject tokens (tenant, room, user, node).
 * They must match ^[A-Za-z0-9_-]{1,64}$. Anything else is rejected, never rewritten:
 * rewriting makes two tenants collide on one subject.
 */
#ifndef ARQ_COMMON_IDS_H
#define ARQ_COMMON_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define ARQ_ID_MAX_LEN 64

bool arq_id_valid(const char *s, size_t len);
/** Same for a NUL-terminated string (NULL is invalid). */
bool arq_id_valid_str(const char *s);
/** A human-readable reason why `s` is not a valid id, or NULL when it is. */
const char *arq_id_problem(const char *s);

#endif
