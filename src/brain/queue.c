/*
 * queue.c — the hand-off from nats.c's threads to the Brain's worker.
 *
 * DESIGN
 *   A mutex-protected FIFO with a condition variable. Pushing never blocks for long: the
 *   lock is held for a pointer swap. Only control traffic goes through it (room events and
 *   notices are pulled from the stream, never queued here). Each push names its bound: a
 *   request is refused once brain.max_pending_requests jobs wait (the caller answers 503 at
 *   once), a heartbeat or probe answer only at ARQ_BRAIN_QUEUE_MAX, so a flood of requests
 *   never pushes out the liveness traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "brain/brain.h"

void arq_queue_init(arq_queue_t *q) {
  pthread_mutex_init(&q->lock, NULL);
  arq_cond_init_monotonic(&q->cond);
  q->head = q->tail = NULL;
  q->len = 0;
  q->woken = false;
}

void arq_queue_wake(arq_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  q->woken = true;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

void arq_job_free(arq_job_t *job) {
  if (!job)
    return;
  natsMsg_Destroy(job->msg);
  free(job);
}

void arq_queue_free(arq_queue_t *q) {
  arq_job_t *j = q->head;
  while (j) {
    arq_job_t *next = j->next;
    arq_job_free(j);
    j = next;
  }
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
}

bool arq_queue_push(arq_queue_t *q, arq_job_t *job, size_t max) {
  job->next = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->len >= max) {
    pthread_mutex_unlock(&q->lock);
    return false;
  }
  if (q->tail)
    q->tail->next = job;
  else
    q->head = job;
  q->tail = job;
  q->len++;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
  return true;
}

arq_job_t *arq_queue_pop(arq_queue_t *q, int timeout_ms) {
  struct timespec until = arq_deadline_ms(timeout_ms);
  pthread_mutex_lock(&q->lock);
  while (!q->head && !q->woken) {
    if (pthread_cond_timedwait(&q->cond, &q->lock, &until) == ETIMEDOUT)
      break;
  }
  q->woken = false;
  arq_job_t *j = q->head;
  if (j) {
    q->head = j->next;
    if (!q->head)
      q->tail = NULL;
    q->len--;
  }
  pthread_mutex_unlock(&q->lock);
  return j;
}
