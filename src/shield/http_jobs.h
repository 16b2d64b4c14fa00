/*
 * http_jobs.h — HTTP requests whose work blocks (nats.c's KV calls, JetStream publishes
 * awaiting their acknowledgement, NATS requests): a bounded queue served by one thread of
 * its own, the answer posted back to the connection's worker.
 *
 * DESIGN
 *   The connection waits for its answer (later pipelined requests queue behind it in its
 *   input) and is kept alive by its job count even if the client goes away meanwhile. The
 *   queue has a bound: a request beyond it is refused with 503 at once, before any work.
 *   The admin API and the server API each have a queue, so that one cannot hold the
 *   other back.
 */
#ifndef ARQ_SHIELD_HTTP_JOBS_H
#define ARQ_SHIELD_HTTP_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "net/loop.h"

typedef struct arq_conn arq_conn_t;
typedef struct arq_http_jobs arq_http_jobs_t;
typedef struct arq_http_job arq_http_job_t;

struct arq_http_job {
  /* Set by the submitter. */
  /* On the queue's thread: sets the answer and returns false, or returns true when the
   * answer comes later through arq_http_job_complete (the job may be gone by then). */
  bool (*run)(arq_http_job_t *j, void *ctx);
  void (*release)(arq_http_job_t *j);        /* frees the job, on the worker, once answered */
  bool keep_alive;
  /* The answer. */
  int status;
  const char *content_type;
  arq_buf_t reply;
  /* The queue's. */
  arq_http_jobs_t *_queue;
  arq_http_job_t *_next;
  arq_task_t _task;
  arq_conn_t *_conn;
};

/** Starts the thread. `ctx` is passed to every run; `on_exit(ctx)` runs on the thread when
 *  it stops (to close what the runs opened). NULL when the thread cannot start. */
arq_http_jobs_t *arq_http_jobs_start(const char *name, size_t max_queued, void *ctx,
                                     void (*on_exit)(void *ctx));
/** Queues j for c (the connection waits for the answer). False when the queue is full:
 *  nothing was queued and j is still the caller's. */
bool arq_http_jobs_submit(arq_http_jobs_t *q, arq_conn_t *c, arq_http_job_t *j);
/** Serves what is queued, then stops the thread. */
void arq_http_jobs_stop(arq_http_jobs_t *q);

/** Sends the answer (set before) of a job whose run returned true back to its connection;
 *  the job counts against the queue's bound until then. Any thread. */
void arq_http_job_complete(arq_http_job_t *j);

/** Sets the answer (on the queue's thread, or before arq_http_job_complete). */
void arq_http_job_answer(arq_http_job_t *j, int status, const char *content_type, const void *body,
                         size_t len);
/** Sets a JSON error answer {"error": <the status's reason>, "details": details}. */
void arq_http_job_error(arq_http_job_t *j, int status, const char *details);

#endif
