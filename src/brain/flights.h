/*
 * flights.h — the sequencer's batches that are published and not yet committed, in order.
 *
 * DESIGN
 *   The sequencer publishes a batch and goes on with the next one without waiting for the
 *   stream's acknowledgement; a batch is committed to Redis once it and every batch before
 *   it are stored. A batch's acknowledgement is the one of its last message (the stream
 *   stores one connection's messages in order), published through JetStream's asynchronous
 *   API: nats.c calls arq_flights_on_ack on its own thread with the message it was given,
 *   and the message's address, unique while nats.c holds it, names the batch. At most
 *   ARQ_FLIGHTS_MAX batches are in flight: the pipeline's bound, past which the sequencer
 *   waits instead of reading more.
 *
 *   The same mutex and condition carry every reason for the sequencer to wake up: a
 *   message from the pull consumer, an acknowledgement, an ownership change to apply.
 */
#ifndef ARQ_BRAIN_FLIGHTS_H
#define ARQ_BRAIN_FLIGHTS_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARQ_FLIGHTS_MAX 16

typedef enum { ARQ_FLIGHT_PENDING, ARQ_FLIGHT_STORED, ARQ_FLIGHT_FAILED } arq_flight_state_t;

/* A room's last (seq, ingress sequence) after the batch. */
typedef struct {
  void *room;
  uint64_t seq, in;
} arq_flight_update_t;

/* For the metrics observed at commit. */
typedef struct {
  int64_t stored_ns; /* when the ingress stream stored the message */
  int64_t sent_ms;   /* the envelope's timestamp (0: none) */
} arq_flight_timing_t;

typedef struct {
  uint64_t last_in;  /* the ingress sequence of the batch's last message: the checkpoint */
  uint64_t pending;  /* the ingress lag after it, per the server */
  arq_flight_update_t *upd;
  size_t nupd;
  arq_flight_timing_t *timing;
  size_t ntiming;
  /* under the mutex */
  natsMsg *ack_msg; /* the publish whose acknowledgement covers the batch; NULL: none */
  arq_flight_state_t state;
  int64_t deadline_ms; /* monotonic: taken as failed if not acknowledged by then */
  int64_t launched_ms; /* monotonic: when it joined the queue */
} arq_flight_t;

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t wakes; /* bumped by every wake-up */
  arq_flight_t slot[ARQ_FLIGHTS_MAX];
  size_t head, len;
} arq_flights_t;

void arq_flights_init(arq_flights_t *f, size_t messages_per_flight);
void arq_flights_free(arq_flights_t *f);

/** The slot for the next batch (len < ARQ_FLIGHTS_MAX), emptied; not in flight yet. */
arq_flight_t *arq_flights_next(arq_flights_t *f);
/** Before publishing `msg` as the batch's covering message: its acknowledgement is expected
 *  within `wait_ms`. */
void arq_flights_expect(arq_flights_t *f, arq_flight_t *fl, natsMsg *msg, int wait_ms);
/** The publish of `expect` did not go out (the message is not nats.c's). */
void arq_flights_unexpect(arq_flights_t *f, arq_flight_t *fl);
/** The batch is published: it joins the queue (stored at once when nothing was expected). */
void arq_flights_launch(arq_flights_t *f, arq_flight_t *fl);
/** From nats.c's acknowledgement handler: the message `msg` was stored (or not). */
void arq_flights_on_ack(arq_flights_t *f, natsMsg *msg, bool stored);

/** How many batches at the head are stored; *failed when the one after them failed or
 *  is overdue (everything after it must be read again). */
size_t arq_flights_stored(arq_flights_t *f, bool *failed);
/** The i-th batch from the head. */
arq_flight_t *arq_flights_at(arq_flights_t *f, size_t i);
/** Removes k batches from the head (committed). */
void arq_flights_pop(arq_flights_t *f, size_t k);
/** Forgets every batch: acknowledgements arriving later match nothing. */
void arq_flights_discard(arq_flights_t *f);
static inline size_t arq_flights_len(const arq_flights_t *f) { return f->len; }

/** A mark for arq_flights_wait: wake-ups after it end the wait. */
uint64_t arq_flights_mark(arq_flights_t *f);
/** Waits until a wake-up after `mark`, at most `timeout_ms`. */
void arq_flights_wait(arq_flights_t *f, uint64_t mark, int timeout_ms);
void arq_flights_wake(arq_flights_t *f);

#endif
