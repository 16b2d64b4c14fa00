/*
 * admin.h — the admin HTTP API (`/admin/...`, admin JWT with role "admin"):
 *
 *   GET    /admin/policies            list: [{"key":...,"bytes":N,"revision":R}]
 *   GET    /admin/policies/<key>      the module (application/wasm)
 *   PUT    /admin/policies/<key>      body: the module; validated as the Shields will
 *   DELETE /admin/policies/<key>
 *   GET    /admin/schemas             list
 *   GET    /admin/schemas/<id>        the gzip-compressed FileDescriptorSet
 *   PUT    /admin/schemas/<id>[?message=pkg.Name]   body: the set, plain or gzip
 *   DELETE /admin/schemas/<id>
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

/** Serves one /admin/ request (on the connection's worker). */
void arq_admin_handle(arq_conn_t *c, const arq_http_request_t *r, const uint8_t *body, size_t len);

#endif
