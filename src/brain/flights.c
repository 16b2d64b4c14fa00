/*
 * flights.c — the sequencer's published, not yet committed batches (see flights.h).
 */
#include "brain/flights.h"

#include <errno.h>
#include <stdlib.h>

#include "brain/brain.h"
#include "common/deadline.h"

void arq_flights_init(arq_flights_t *f, size_t messages_per_flight) {
  pthread_mutex_init(&f->mu, NULL);
  arq_cond_init_monotonic(&f->cv);
  for (size_t i = 0; i < ARQ_FLIGHTS_MAX; i++) {
    f->slot[i].upd = calloc(messages_per_flight, sizeof *f->slot[i].upd);
    f->slot[i].timing = calloc(messages_per_flight, sizeof *f->slot[i].timing);
    if (!f->slot[i].upd || !f->slot[i].timing)
      arq_oom("sequencer batches");
  }
}

void arq_flights_free(arq_flights_t *f) {
  for (size_t i = 0; i < ARQ_FLIGHTS_MAX; i++) {
    free(f->slot[i].upd);
    free(f->slot[i].timing);
  }
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
}

arq_flight_t *arq_flights_next(arq_flights_t *f) {
  arq_flight_t *fl = &f->slot[(f->head + f->len) % ARQ_FLIGHTS_MAX];
  pthread_mutex_lock(&f->mu);
  fl->ack_msg = NULL;
  fl->state = ARQ_FLIGHT_PENDING;
  pthread_mutex_unlock(&f->mu);
  fl->last_in = fl->pending = 0;
  fl->nupd = fl->ntiming = 0;
  return fl;
}

void arq_flights_expect(arq_flights_t *f, arq_flight_t *fl, natsMsg *msg, int wait_ms) {
  pthread_mutex_lock(&f->mu);
  fl->ack_msg = msg;
  fl->deadline_ms = arq_monotonic_ms() + wait_ms;
  pthread_mutex_unlock(&f->mu);
}

void arq_flights_unexpect(arq_flights_t *f, arq_flight_t *fl) {
  pthread_mutex_lock(&f->mu);
  fl->ack_msg = NULL;
  pthread_mutex_unlock(&f->mu);
}

void arq_flights_launch(arq_flights_t *f, arq_flight_t *fl) {
  pthread_mutex_lock(&f->mu);
  if (!fl->ack_msg)
    fl->state = ARQ_FLIGHT_STORED; /* nothing published (all passed over or dropped) */
  fl->launched_ms = arq_monotonic_ms();
  f->len++;
  pthread_mutex_unlock(&f->mu);
}

void arq_flights_on_ack(arq_flights_t *f, natsMsg *msg, bool stored) {
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < ARQ_FLIGHTS_MAX; i++) {
    arq_flight_t *fl = &f->slot[i];
    if (fl->ack_msg == msg && fl->state == ARQ_FLIGHT_PENDING) {
      fl->state = stored ? ARQ_FLIGHT_STORED : ARQ_FLIGHT_FAILED;
      fl->ack_msg = NULL; /* the handler hands it on to be destroyed (spine/spent.h) */
      break;
    }
  }
  f->wakes++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

size_t arq_flights_stored(arq_flights_t *f, bool *failed) {
  int64_t now = arq_monotonic_ms();
  size_t k = 0;
  *failed = false;
  pthread_mutex_lock(&f->mu);
  for (; k < f->len; k++) {
    arq_flight_t *fl = &f->slot[(f->head + k) % ARQ_FLIGHTS_MAX];
    if (fl->state == ARQ_FLIGHT_STORED)
      continue;
    /* nats.c times a publish out itself (MaxWait); the deadline is a backstop. */
    *failed = fl->state == ARQ_FLIGHT_FAILED || now > fl->deadline_ms + 1000;
    break;
  }
  pthread_mutex_unlock(&f->mu);
  return k;
}

arq_flight_t *arq_flights_at(arq_flights_t *f, size_t i) {
  return &f->slot[(f->head + i) % ARQ_FLIGHTS_MAX];
}

void arq_flights_pop(arq_flights_t *f, size_t k) {
  pthread_mutex_lock(&f->mu);
  f->head = (f->head + k) % ARQ_FLIGHTS_MAX;
  f->len -= k;
  pthread_mutex_unlock(&f->mu);
}

void arq_flights_discard(arq_flights_t *f) {
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < ARQ_FLIGHTS_MAX; i++)
    f->slot[i].ack_msg = NULL;
  f->head = f->len = 0;
  pthread_mutex_unlock(&f->mu);
}

uint64_t arq_flights_mark(arq_flights_t *f) {
  pthread_mutex_lock(&f->mu);
  uint64_t w = f->wakes;
  pthread_mutex_unlock(&f->mu);
  return w;
}

void arq_flights_wait(arq_flights_t *f, uint64_t mark, int timeout_ms) {
  struct timespec until = arq_deadline_ms(timeout_ms);
  pthread_mutex_lock(&f->mu);
  while (f->wakes == mark)
    if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&f->mu);
}

void arq_flights_wake(arq_flights_t *f) {
  pthread_mutex_lock(&f->mu);
  f->wakes++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}
