/*
 * confirm.h — room events acknowledged once the ingress stream has stored them.
 *
 * DESIGN
 *   A client's `ack` of a room event means that ARQON_INGRESS stored it (JetStream's
 *   publish acknowledgement), not only that NATS took it: an acknowledged event survives
 *   the death of the Brain and, with [nats] stream_replicas > 1, of a NATS node. Each event
 *   is published with a reply subject `<inbox>c<worker>-<n>`, where n numbers the worker's
 *   events; the stream's answer arrives on the node's inbox subscription (a nats.c thread),
 *   is appended to the worker's list of answers, and the worker is woken once for the
 *   whole list.
 *
 *   Each worker keeps its unconfirmed events in a ring of slots (its share of
 *   shield.max_unconfirmed_publishes), in publishing order: an answer finds its slot by
 *   number, without a lookup or an allocation. The bound is the back-pressure a client
 *   sees: with the ring full, the next event is refused 503 before it is published. An
 *   event the stream does not confirm within shield.publish_timeout_ms is answered 503
 *   (the stream may still have stored it: a client that retries may publish it twice).
 *   When no stream takes the subject, NATS answers "no responders" at once: 503.
 */
#ifndef ARQ_SHIELD_CONFIRM_H
#define ARQ_SHIELD_CONFIRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arq_shield arq_shield_t;
typedef struct arq_worker arq_worker_t;
typedef struct arq_conn arq_conn_t;
typedef struct arq_confirms arq_confirms_t;

/* Room for a reply subject: the inbox prefix, "c", a worker index, "-", a number. */
#define ARQ_CONFIRM_REPLY_CAP 96

/** A worker's ring, sized from shield.max_unconfirmed_publishes. */
arq_confirms_t *arq_confirms_new(arq_worker_t *w);
/** After the worker stopped: what is still unconfirmed gets no answer (its connection is gone). */
void arq_confirms_free(arq_confirms_t *q);

/** Takes a slot for an event of `c` about to be published and writes its reply subject.
 *  `client_id` is the envelope's id ("" when none: only a failure is answered then).
 *  Returns the slot's number, or 0 when the ring is full (counted as reason "full"). */
uint64_t arq_confirms_reserve(arq_confirms_t *q, const arq_conn_t *c, const char *client_id,
                              const char *trace_id, const char *room, bool text,
                              char reply[ARQ_CONFIRM_REPLY_CAP]);
/** The publish of slot n failed at once: the slot is freed without an answer. */
void arq_confirms_cancel(arq_confirms_t *q, uint64_t n);

/** True when `token` (what follows the node's inbox prefix) names a confirmation; then the
 *  answer is handed to its worker. Safe from any thread. */
bool arq_confirms_on_reply(arq_shield_t *s, const char *token, bool no_responders,
                           const void *data, size_t len);

#endif
