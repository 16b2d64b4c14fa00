/*
 * session.h — the WebSocket phase (session.c) and the requests it sends the Brain
 *   (requests.c): presence and history over NATS request/reply.
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_SESSION_H
#define ARQ_SHIELD_SESSION_H

#include "shield/shield.h"

void arq_session_open(arq_conn_t *c);
void arq_session_message(arq_conn_t *c, bool binary, const uint8_t *data, size_t len,
                         uint64_t received_ns);
void arq_session_closed(arq_conn_t *c);
/** After NATS came back: every worker announces its connections' rooms to the Brain again
 *  (it may have expired them). Safe from any thread. */
void arq_session_rejoin_all(arq_shield_t *s);
/** The one answer a client envelope gets: `ack` when code is 0 (only to an envelope with
 *  an id), else `error` {code, reason} (always). */
void arq_session_answer(arq_conn_t *c, const char *id, const char *trace_id, const char *room,
                        bool text, int code, const char *reason);
/** Sends an envelope to the connection in its preferred encoding. */
void arq_session_send_envelope(arq_conn_t *c, const Arqon__V1__Envelope *e, bool text);

/* requests.c */
void arq_session_request(arq_conn_t *c, Arqon__V1__Envelope *e, bool text);
/** Called on a nats.c thread with the part of the reply subject after the inbox prefix. */
void arq_requests_on_reply(arq_shield_t *s, const char *token, bool no_responders,
                           const void *data, size_t len);
void arq_requests_init(arq_shield_t *s);
void arq_requests_free(arq_shield_t *s);

#endif
