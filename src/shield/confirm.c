/*
 * confirm.c — the ring of a worker's unconfirmed room events, and the answers of the
 * ingress stream (confirm.h says why).
 */
#include "shield/confirm.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

/* Client ids up to this length are kept in the slot; a longer one is copied to the heap. */
#define ID_INLINE 48
#define WHY_MAX 160

typedef struct {
  uint64_t n; /* 0: free */
  uint64_t deadline_ms;
  char conn_id[32];
  char trace_id[33];
  char room[ARQ_ID_MAX_LEN + 1];
  char id_inline[ID_INLINE + 1];
  char *id_heap;
  bool text;
} slot_t;

typedef struct {
  uint64_t n;
  int code; /* 0: stored */
  char why[WHY_MAX];
} answer_t;

struct arq_confirms {
  arq_worker_t *w;
  slot_t *slots;
  size_t cap; /* a power of two */
  uint64_t next, oldest; /* numbers: [oldest, next) may be pending */
  arq_timer_t timer;
  /* Answers handed over by nats.c's threads, taken by the worker in one go. */
  pthread_mutex_t lock;
  answer_t *answers, *taking;
  size_t nanswers;
  bool posted;
  arq_task_t task;
};

static slot_t *slot_of(arq_confirms_t *q, uint64_t n) { return &q->slots[n & (q->cap - 1)]; }

static const char *client_id(const slot_t *sl) { return sl->id_heap ? sl->id_heap : sl->id_inline; }

static void on_timer(arq_loop_t *loop, arq_timer_t *t);
static void take_answers(arq_loop_t *loop, arq_task_t *task);

arq_confirms_t *arq_confirms_new(arq_worker_t *w) {
  const arq_config_t *cfg = w->shield->cfg;
  size_t share = (size_t)cfg->shield.max_unconfirmed_publishes / w->shield->nworkers, cap = 16;
  while (cap < share)
    cap <<= 1;
  arq_confirms_t *q = calloc(1, sizeof *q);
  if (!q || !(q->slots = calloc(cap, sizeof *q->slots)) || !(q->answers = calloc(cap, sizeof *q->answers)) ||
      !(q->taking = calloc(cap, sizeof *q->taking)))
    arq_oom("confirmations");
  q->w = w;
  q->cap = cap;
  q->next = q->oldest = 1;
  arq_timer_init(&q->timer, on_timer, q);
  pthread_mutex_init(&q->lock, NULL);
  q->task.cb = take_answers;
  q->task.data = q;
  return q;
}

void arq_confirms_free(arq_confirms_t *q) {
  if (!q)
    return;
  if (q->w->loop)
    arq_timer_stop(q->w->loop, &q->timer);
  for (size_t i = 0; i < q->cap; i++)
    free(q->slots[i].id_heap);
  pthread_mutex_destroy(&q->lock);
  free(q->slots);
  free(q->answers);
  free(q->taking);
  free(q);
}

/* Moves `oldest` past the slots already answered; arms the timer for the oldest pending. */
static void advance(arq_confirms_t *q) {
  while (q->oldest < q->next && slot_of(q, q->oldest)->n != q->oldest)
    q->oldest++;
  arq_loop_t *loop = q->w->loop;
  if (q->oldest == q->next) {
    arq_timer_stop(loop, &q->timer);
    return;
  }
  uint64_t now = arq_loop_now_ms(loop), due = slot_of(q, q->oldest)->deadline_ms;
  arq_timer_start(loop, &q->timer, due > now ? due - now : 0);
}

static void release(arq_confirms_t *q, slot_t *sl) {
  free(sl->id_heap);
  sl->id_heap = NULL;
  sl->n = 0;
  arq_gauge_add(q->w->shield->m.unconfirmed, -1);
}

uint64_t arq_confirms_reserve(arq_confirms_t *q, const arq_conn_t *c, const char *id,
                              const char *trace_id, const char *room, bool text,
                              char reply[ARQ_CONFIRM_REPLY_CAP]) {
  if (q->next - q->oldest == q->cap) {
    arq_counter_inc(q->w->shield->m.confirm_failures[ARQ_CONFIRM_FULL]);
    return 0;
  }
  uint64_t n = q->next++;
  slot_t *sl = slot_of(q, n);
  sl->n = n;
  sl->deadline_ms = arq_loop_now_ms(q->w->loop) + (uint64_t)q->w->shield->cfg->shield.publish_timeout_ms;
  snprintf(sl->conn_id, sizeof sl->conn_id, "%s", c->conn_id);
  snprintf(sl->trace_id, sizeof sl->trace_id, "%s", trace_id);
  snprintf(sl->room, sizeof sl->room, "%s", room);
  size_t idlen = strlen(id);
  if (idlen <= ID_INLINE) {
    memcpy(sl->id_inline, id, idlen + 1);
  } else if (!(sl->id_heap = strdup(id))) {
    arq_oom("confirmation id");
  }
  sl->text = text;
  snprintf(reply, ARQ_CONFIRM_REPLY_CAP, "%sc%zu-%" PRIu64, arq_link_inbox(q->w->shield->link),
           q->w->index, n);
  arq_gauge_add(q->w->shield->m.unconfirmed, 1);
  if (!arq_timer_active(&q->timer))
    advance(q);
  return n;
}

void arq_confirms_cancel(arq_confirms_t *q, uint64_t n) {
  slot_t *sl = slot_of(q, n);
  if (sl->n != n)
    return;
  release(q, sl);
  advance(q);
}

/* The client's answer, on the worker; the slot is freed. */
static void settle(arq_confirms_t *q, slot_t *sl, int code, const char *why) {
  arq_conn_t *c = arq_strmap_get(&q->w->conns, sl->conn_id, strlen(sl->conn_id));
  if (c && c->state == CONN_WS)
    arq_session_answer(c, client_id(sl), sl->trace_id, sl->room, sl->text, code, why);
  release(q, sl);
}

static void on_timer(arq_loop_t *loop, arq_timer_t *t) {
  arq_confirms_t *q = t->data;
  uint64_t now = arq_loop_now_ms(loop);
  for (; q->oldest < q->next; q->oldest++) {
    slot_t *sl = slot_of(q, q->oldest);
    if (sl->n != q->oldest)
      continue;
    if (sl->deadline_ms > now)
      break;
    arq_counter_inc(q->w->shield->m.confirm_failures[ARQ_CONFIRM_TIMEOUT]);
    settle(q, sl, 503, "the ingress stream did not confirm in time; it may still have stored the message");
  }
  advance(q);
}

static void take_answers(arq_loop_t *loop, arq_task_t *task) {
  (void)loop;
  arq_confirms_t *q = task->data;
  pthread_mutex_lock(&q->lock);
  answer_t *mine = q->answers;
  size_t n = q->nanswers;
  q->answers = q->taking;
  q->taking = mine;
  q->nanswers = 0;
  q->posted = false;
  pthread_mutex_unlock(&q->lock);
  for (size_t i = 0; i < n; i++) {
    slot_t *sl = slot_of(q, mine[i].n);
    if (sl->n != mine[i].n)
      continue; /* answered already (timed out) */
    settle(q, sl, mine[i].code, mine[i].why);
  }
  advance(q);
}

/* What the stream said: {"stream":..,"seq":..} when stored, {"error":{..,"description":..}}
 * when not. */
static int read_answer(const void *data, size_t len, char *why, size_t cap) {
  if (!memmem(data, len, "\"error\"", 7))
    return 0;
  snprintf(why, cap, "the ingress stream refused the message");
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  const arq_json_value_t *root = arq_json_parse(&doc, data, len, NULL);
  const arq_json_value_t *err = root ? arq_json_object_get(root, "error", 5) : NULL;
  const arq_json_value_t *desc = err ? arq_json_object_get(err, "description", 11) : NULL;
  if (desc && arq_json_type(desc) == ARQ_JSON_STRING)
    snprintf(why, cap, "the ingress stream refused the message: %.100s", arq_json_string(desc, NULL));
  arq_json_doc_free(&doc);
  return 503;
}

bool arq_confirms_on_reply(arq_shield_t *s, const char *token, bool no_responders,
                           const void *data, size_t len) {
  if (*token != 'c')
    return false;
  char *end;
  unsigned long worker = strtoul(token + 1, &end, 10);
  if (*end != '-' || worker >= s->nworkers)
    return true;
  uint64_t n = strtoull(end + 1, &end, 10);
  if (*end || !n)
    return true;
  arq_confirms_t *q = s->workers[worker].confirms;
  if (!q)
    return true;
  answer_t a = {n, 0, ""};
  if (no_responders) {
    a.code = 503;
    snprintf(a.why, sizeof a.why, "no stream takes room events (ARQON_INGRESS is missing: is a Brain running?)");
    arq_counter_inc(s->m.confirm_failures[ARQ_CONFIRM_NO_STREAM]);
  } else if ((a.code = read_answer(data, len, a.why, sizeof a.why))) {
    arq_counter_inc(s->m.confirm_failures[ARQ_CONFIRM_REFUSED]);
  }
  pthread_mutex_lock(&q->lock);
  /* At most one answer per pending slot: the list fills only with answers the worker
   * would drop anyway (numbers answered twice); the slot then times out. */
  if (q->nanswers < q->cap)
    q->answers[q->nanswers++] = a;
  bool post = !q->posted;
  q->posted = true;
  pthread_mutex_unlock(&q->lock);
  if (post)
    arq_loop_post(s->workers[worker].loop, &q->task);
  return true;
}
