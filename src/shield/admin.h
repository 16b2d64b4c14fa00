/*
 * admin.h — the admin HTTP API (`/admin/...`, an admin JWT):
 *
 *   GET    /admin/policies            list: [{"key":...,"bytes":N,"revision":R}]
 *   GET    /admin/policies/<key>      the module (application/wasm)
 *   PUT    /admin/policies/<key>      body: the module; validated as the Shields will
 *   DELETE /admin/policies/<key>
 *   PUT    /admin/policies/<key>/canary      body: a candidate module (key <key>.canary)
 *   GET    /admin/policies/<key>/canary      every Shield's comparison of the candidate
 *                                            with the active policy, added up (JSON)
 *   DELETE /admin/policies/<key>/canary
 *   POST   /admin/policies/<key>/promote[?revision=R]   the candidate becomes the active
 *                                            policy (policy/store.h); 404 no candidate,
 *                                            409 it or the active policy changed
 *   GET    /admin/schemas             list
 *   GET    /admin/schemas/<id>        the gzip-compressed FileDescriptorSet
 *   PUT    /admin/schemas/<id>[?message=pkg.Name]   body: the set, plain or gzip
 *   DELETE /admin/schemas/<id>
 *
 * AUTHORITY
 *   A platform admin (role = [auth] platform_admin_role; unset: there is none) may do all
 *   of the above. A tenant admin (role "admin") administers its own tenant only:
 *   /admin/policies/<its tenant_id>[/canary|/promote], the list (which shows that key and
 *   its candidate's only), and reads of schemas. `_global` (it sees every tenant's traffic) and schema
 *   writes (a subject's schema binds every tenant) are the platform admin's. Anything else
 *   is refused with 403; no valid token, 401.
 *
 * DESIGN
 *   nats.c's KV calls block, so requests are checked for authority on the worker and then
 *   served by one admin thread with its own NATS connection; the answer comes back to the
 *   worker as a posted task. The connection waits (later pipelined requests queue behind)
 *   and is kept alive by a job count even if the client goes away meanwhile.
 */
#ifndef ARQ_SHIELD_ADMIN_H
#define ARQ_SHIELD_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

typedef struct arq_admin arq_admin_t;
typedef struct arq_shield arq_shield_t;
typedef struct arq_conn arq_conn_t;

arq_admin_t *arq_admin_start(arq_shield_t *s);
void arq_admin_stop(arq_admin_t *a);

/** Decides from the head alone whether the request's token may do what its method and
 *  path ask (the rules above), so that a refused request's body is never read or
 *  buffered. Returns 0, or the refusal's status (401 or 403) with the reason in `why`
 *  (static or per-thread storage, valid until the next call on this thread). A path that
 *  names no admin resource passes for any admin: arq_admin_handle answers it 404. */
int arq_admin_authorize_head(arq_conn_t *c, const arq_http_request_t *r, const char **why);

/** Serves one /admin/ request (on the connection's worker); checks authority again. */
void arq_admin_handle(arq_conn_t *c, const arq_http_request_t *r, const uint8_t *body, size_t len);

#endif
