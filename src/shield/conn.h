/*
 * conn.h — a connection's bytes (conn.c): accepting, the bounded send queue, closing.
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_CONN_H
#define ARQ_SHIELD_CONN_H

#include "shield/shield.h"

void arq_conn_accept(arq_worker_t *w, int fd, const char *peer, arq_tls_ctx_t *tls, bool admin_port);
/** Bytes a connection's send queue may hold: send_queue_bytes of backlog on top of the
 *  largest frame one delivery can make. */
size_t arq_conn_send_limit(const arq_config_t *cfg);
/** Queues a frame (takes a new reference). Closes a slow consumer with 1008. */
void arq_conn_send(arq_conn_t *c, arq_frame_t *f);
void arq_conn_send_bytes(arq_conn_t *c, const void *data, size_t len);
/** Sends a close frame and waits (bounded) for the peer's. */
void arq_conn_close(arq_conn_t *c, uint16_t code, const char *reason);
/** Closes the socket now and frees the connection after the current batch. */
void arq_conn_abort(arq_conn_t *c);
void arq_conn_start_ws(arq_conn_t *c);
/** Serves input that waited while an admin request was in progress. */
void arq_conn_resume(arq_conn_t *c);
/** An admin job is over: frees the connection if it was closed meanwhile. */
void arq_conn_job_done(arq_conn_t *c);

#endif
