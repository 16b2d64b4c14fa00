/*
 * flusher.c — prompt writes of a NATS connection's buffer (see flusher.h).
 */
#include "brain/flusher.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/buf.h" /* arq_oom */

#define FLUSH_WAIT_MS 500 /* for the PONG; the write itself happened before */

struct arq_flusher {
  natsConnection *nc;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool kicked, stop;
};

static void *flusher_main(void *arg) {
  arq_flusher_t *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->kicked && !f->stop)
      pthread_cond_wait(&f->cv, &f->mu);
    if (f->stop)
      break;
    f->kicked = false;
    pthread_mutex_unlock(&f->mu);
    if (natsConnection_Status(f->nc) == NATS_CONN_STATUS_CONNECTED)
      natsConnection_FlushTimeout(f->nc, FLUSH_WAIT_MS); /* an error: nats.c reconnects */
    pthread_mutex_lock(&f->mu);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

arq_flusher_t *arq_flusher_start(natsConnection *nc) {
  arq_flusher_t *f = calloc(1, sizeof *f);
  if (!f)
    arq_oom("flusher");
  f->nc = nc;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  if (pthread_create(&f->thread, NULL, flusher_main, f)) {
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL; /* nats.c's own flusher still writes, a millisecond later */
  }
  return f;
}

void arq_flusher_kick(arq_flusher_t *f) {
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  if (!f->kicked) {
    f->kicked = true;
    pthread_cond_signal(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
}

void arq_flusher_stop(arq_flusher_t *f) {
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thread, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  free(f);
}
