/*
 * egress.h — who is where on a worker, and fan-out of deliveries (egress.c).
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_EGRESS_H
#define ARQ_SHIELD_EGRESS_H

#include "shield/shield.h"

int arq_egress_join(arq_conn_t *c, const char *room);
void arq_egress_leave(arq_conn_t *c, const char *room);
void arq_egress_register(arq_conn_t *c);
void arq_egress_unregister(arq_conn_t *c);
/** Delivers NATS payload bytes (an Envelope) to local members: called on nats.c threads. */
typedef enum { ARQ_TARGET_ROOM, ARQ_TARGET_USER, ARQ_TARGET_CONN } arq_target_kind_t;
void arq_egress_deliver(arq_shield_t *s, arq_target_kind_t kind, const char *tenant,
                        const char *name, const void *payload, size_t len, uint64_t worker_mask);
/** Whether a message of `len` payload bytes goes compressed to c (when deflate shrinks it):
 *  c negotiated permessage-deflate, len is at least compression_min_bytes, and the message
 *  fits the window c asked for. On c's worker: deliveries and replies alike. */
bool arq_egress_compresses(const arq_conn_t *c, size_t len);
/** The payload compressed by the worker's deflater as a frame with RSV1 (one reference for
 *  the caller), valid for every connection arq_egress_compresses() accepts; NULL when
 *  deflate does not make it smaller. Counted in shield_deflate_in/out_bytes_total. */
arq_frame_t *arq_egress_deflate(arq_worker_t *w, uint8_t opcode, const uint8_t *payload,
                                size_t len);
/** Frees the NATS threads' frame pools: after NATS is closed and the workers are done. */
void arq_egress_free_pools(void);

/** The local connections of a user on worker w (NULL: none). On w's thread. */
arq_members_t *arq_egress_user(arq_worker_t *w, const char *tenant, const char *user);

void arq_members_add(arq_members_t *m, arq_conn_t *c);
bool arq_members_remove(arq_members_t *m, arq_conn_t *c);

#endif
