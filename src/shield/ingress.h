/*
 * ingress.h — makes sure the stream that confirms room events (ARQON_INGRESS) exists.
 *
 * DESIGN
 *   A room event is acknowledged once ARQON_INGRESS stored it (confirm.h). The Brain creates
 *   that stream, but a Shield may start first: a thread of its own creates the stream when
 *   it is missing (with the settings of spine/streams.h; an existing stream is left to the
 *   Brain), retrying while NATS or its JetStream is not ready, for at most
 *   INGRESS_SETUP_WAIT_MS. Until the stream exists, room events are answered 503 (NATS says
 *   at once that no stream takes them). A NATS user without the right to create streams (the
 *   strict accounts of deploy/nats) is told once in the log; the Brain creates it then.
 */
#ifndef ARQ_SHIELD_INGRESS_H
#define ARQ_SHIELD_INGRESS_H

typedef struct arq_shield arq_shield_t;
typedef struct arq_ingress arq_ingress_t;

arq_ingress_t *arq_ingress_start(arq_shield_t *s);
/** Returns within a JetStream request's timeout (2 s). */
void arq_ingress_stop(arq_ingress_t *g);

#endif
