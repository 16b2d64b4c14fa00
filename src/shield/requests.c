/*
 * requests.c — presence and history commands, forwarded to the Brain as NATS requests
 * (`sys.brain.<tenant>.<command>`) and answered to the client with the Brain's envelope.
 *
 * DESIGN
 *   A pending request is shared by two threads: the reply arrives on a nats.c thread, the
 *   timeout fires on the connection's worker. Whoever removes it from the pending map
 *   (under the mutex) owns the answer; a reply is then handed to the worker as a task,
 *   which frees the request. NATS answers at once with "no responders" when no Brain
 *   listens, so the client gets 503 without waiting for the timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/envelope_json.h"
#include "protocol/subjects.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

typedef struct {
  arq_task_t task;
  arq_timer_t timer;
  arq_worker_t *w;
  char key[24];
  char conn_id[32];
  char *client_id;
  bool text;
  bool no_responders;
  uint8_t *reply;
  size_t reply_len;
} pending_t;

void arq_requests_init(arq_shield_t *s) {
  pthread_mutex_init(&s->requests_lock, NULL);
  arq_strmap_init(&s->requests);
}

void arq_requests_free(arq_shield_t *s) {
  /* Workers have stopped: their timers will not fire; free what is left. */
  for (size_t i = 0; i < s->requests.cap; i++) {
    pending_t *p = s->requests.slots[i].key ? s->requests.slots[i].value : NULL;
    if (p) {
      free(p->client_id);
      free(p);
    }
  }
  arq_strmap_free(&s->requests);
  pthread_mutex_destroy(&s->requests_lock);
}

static bool take(arq_shield_t *s, pending_t *p) {
  pthread_mutex_lock(&s->requests_lock);
  bool mine = arq_strmap_remove(&s->requests, p->key, strlen(p->key)) != NULL;
  pthread_mutex_unlock(&s->requests_lock);
  return mine;
}

static void release(pending_t *p) {
  arq_timer_stop(p->w->loop, &p->timer);
  free(p->client_id);
  free(p->reply);
  free(p);
}

static void answer_error(pending_t *p, int code, const char *reason) {
  arq_conn_t *c = arq_strmap_get(&p->w->conns, p->conn_id, strlen(p->conn_id));
  if (c && c->state == CONN_WS)
    arq_session_answer(c, p->client_id, NULL, NULL, p->text, code, reason);
}

static void on_timeout(arq_loop_t *loop, arq_timer_t *t) {
  pending_t *p = t->data;
  if (!take(p->w->shield, p))
    return; /* a reply won the race; its task frees p */
  arq_counter_inc(p->w->shield->m.spine_unavailable);
  answer_error(p, 503, "no answer from the presence service");
  release(p);
}

/* An answer the connection could never take (a history page of big messages, base64 in
 * JSON) is refused with 413 instead of closing the member as a slow consumer. */
static bool too_big_for(const arq_conn_t *c, const pending_t *p) {
  size_t encoded = p->text ? (p->reply_len + 2) / 3 * 4 + 4096 : p->reply_len;
  return encoded > arq_conn_send_limit(c->w->shield->cfg);
}

static void on_reply_task(arq_loop_t *loop, arq_task_t *task) {
  pending_t *p = task->data;
  arq_conn_t *c = arq_strmap_get(&p->w->conns, p->conn_id, strlen(p->conn_id));
  if (p->no_responders) {
    arq_counter_inc(p->w->shield->m.spine_unavailable);
    answer_error(p, 503, "no presence service is running");
  } else if (c && c->state == CONN_WS && too_big_for(c, p)) {
    answer_error(p, 413, "the answer is larger than this connection's send queue; ask for fewer "
                         "messages (history limit)");
  } else if (c && c->state == CONN_WS) {
    Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(&p->w->pb, p->reply_len, p->reply);
    if (e) {
      e->id = p->client_id;
      arq_session_send_envelope(c, e, p->text);
    } else {
      answer_error(p, 503, "the presence service sent an invalid answer");
    }
    arq_envelope_arena_reset(&p->w->arena);
  }
  release(p);
}

void arq_requests_on_reply(arq_shield_t *s, const char *token, bool no_responders,
                           const void *data, size_t len) {
  pthread_mutex_lock(&s->requests_lock);
  pending_t *p = arq_strmap_remove(&s->requests, token, strlen(token));
  pthread_mutex_unlock(&s->requests_lock);
  if (!p)
    return; /* late: the client already got 503 */
  p->no_responders = no_responders;
  if (len) {
    p->reply = malloc(len);
    if (!p->reply)
      arq_oom("reply");
    memcpy(p->reply, data, len);
    p->reply_len = len;
  }
  p->task.cb = on_reply_task;
  p->task.data = p;
  arq_loop_post(p->w->loop, &p->task);
}

void arq_session_request(arq_conn_t *c, Arqon__V1__Envelope *e, bool text) {
  arq_worker_t *w = c->w;
  arq_shield_t *s = w->shield;
  pending_t *p = calloc(1, sizeof *p);
  if (!p)
    arq_oom("request");
  p->w = w;
  p->text = text;
  snprintf(p->conn_id, sizeof p->conn_id, "%s", c->conn_id);
  p->client_id = strdup(e->id ? e->id : "");
  if (!p->client_id)
    arq_oom("request");
  arq_timer_init(&p->timer, on_timeout, p);

  pthread_mutex_lock(&s->requests_lock);
  snprintf(p->key, sizeof p->key, "%llu", (unsigned long long)++s->next_request);
  arq_strmap_put(&s->requests, p->key, strlen(p->key), p);
  pthread_mutex_unlock(&s->requests_lock);

  char subject[ARQ_SUBJECT_CAP], reply[96];
  arq_subject_brain(subject, sizeof subject, c->id.tenant, e->cmd->type);
  snprintf(reply, sizeof reply, "%s%s", arq_link_inbox(s->link), p->key);
  arq_buf_t *out = &w->scratch;
  size_t n = arq_envelope_pack(e, out);
  arq_link_headers_t h = {e->trace_id, c->id.tenant, c->id.sub, c->conn_id, false, NULL, 0};
  arq_timer_start(w->loop, &p->timer, (uint64_t)s->cfg->shield.request_timeout_ms);
  if (arq_link_publish(s->link, subject, reply, out->data, n, &h) && take(s, p)) {
    arq_counter_inc(s->m.spine_unavailable);
    answer_error(p, 503, "spine unavailable");
    release(p);
  }
}
