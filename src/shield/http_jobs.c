#include "shield/http_jobs.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"
#include "protocol/payloads.h"
#include "shield/conn.h"
#include "shield/http_routes.h"
#include "shield/shield.h"

struct arq_http_jobs {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  arq_http_job_t *head, *tail;
  size_t queued, max_queued;
  bool stopping;
  void *ctx;
  void (*on_exit)(void *ctx);
};

void arq_http_job_answer(arq_http_job_t *j, int status, const char *content_type, const void *body,
                         size_t len) {
  j->status = status;
  j->content_type = content_type;
  arq_buf_reset(&j->reply);
  arq_buf_append(&j->reply, body, len);
}

void arq_http_job_error(arq_http_job_t *j, int status, const char *details) {
  j->status = status;
  j->content_type = "application/json";
  arq_buf_reset(&j->reply);
  arq_payload_http_error(&j->reply, arq_http_status_reason(status), details);
}

static void deliver(arq_loop_t *loop, arq_task_t *task) {
  (void)loop;
  arq_http_job_t *j = task->data;
  arq_conn_t *c = j->_conn;
  if (c->state == CONN_HTTP) {
    arq_http_reply(c, j->status, j->content_type, j->reply.data, j->reply.len, j->keep_alive, NULL);
    if (c->state == CONN_HTTP)
      arq_conn_resume(c);
  }
  arq_conn_job_done(c);
  arq_buf_free(&j->reply);
  j->release(j);
}

void arq_http_job_complete(arq_http_job_t *j) {
  arq_http_jobs_t *q = j->_queue;
  arq_conn_t *c = j->_conn;
  pthread_mutex_lock(&q->lock);
  q->queued--; /* counted from submission to the answer */
  pthread_mutex_unlock(&q->lock);
  arq_loop_post(c->w->loop, &j->_task);
}

static void *jobs_main(void *arg) {
  arq_http_jobs_t *q = arg;
  pthread_mutex_lock(&q->lock);
  for (;;) {
    while (!q->head && !q->stopping)
      pthread_cond_wait(&q->cond, &q->lock);
    arq_http_job_t *j = q->head;
    if (!j)
      break; /* stopping and nothing queued */
    q->head = j->_next;
    if (!q->head)
      q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    if (!j->run(j, q->ctx))
      arq_http_job_complete(j);
    pthread_mutex_lock(&q->lock);
  }
  pthread_mutex_unlock(&q->lock);
  if (q->on_exit)
    q->on_exit(q->ctx);
  return NULL;
}

arq_http_jobs_t *arq_http_jobs_start(const char *name, size_t max_queued, void *ctx,
                                     void (*on_exit)(void *ctx)) {
  arq_http_jobs_t *q = calloc(1, sizeof *q);
  if (!q)
    arq_oom("job queue");
  q->max_queued = max_queued;
  q->ctx = ctx;
  q->on_exit = on_exit;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cond, NULL);
  if (pthread_create(&q->thread, NULL, jobs_main, q)) {
    ARQ_LOG(ARQ_LOG_ERROR, "shield", "cannot start a job thread", {"queue", name});
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
    return NULL;
  }
  return q;
}

bool arq_http_jobs_submit(arq_http_jobs_t *q, arq_conn_t *c, arq_http_job_t *j) {
  pthread_mutex_lock(&q->lock);
  if (q->queued >= q->max_queued || q->stopping) {
    pthread_mutex_unlock(&q->lock);
    return false;
  }
  q->queued++;
  j->_queue = q;
  j->_conn = c;
  j->_next = NULL;
  j->_task.cb = deliver;
  j->_task.data = j;
  arq_buf_init(&j->reply);
  c->admin.pending_jobs++;
  c->admin.busy = true;
  if (q->tail)
    q->tail->_next = j;
  else
    q->head = j;
  q->tail = j;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
  return true;
}

void arq_http_jobs_stop(arq_http_jobs_t *q) {
  if (!q)
    return;
  pthread_mutex_lock(&q->lock);
  q->stopping = true;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
  pthread_join(q->thread, NULL);
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
  free(q);
}
