#include "shield/disconnect.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "shield/conn.h"
#include "shield/egress.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

/* A close frame carries 123 bytes of reason; one byte more is kept so that the close
 * frame's writer (arq_ws_close_payload) sees the cut and backs it up to a character
 * boundary. */
#define REASON_KEPT 124
#define CLOSE_SERVER_DISCONNECT 4000

typedef struct disconnect disconnect_t;

typedef struct {
  arq_task_t task;
  arq_worker_t *w;
  disconnect_t *d;
} per_worker_t;

struct disconnect {
  arq_shield_t *s;
  atomic_size_t workers_left;
  atomic_size_t closed;
  char tenant[ARQ_ID_MAX_LEN + 1], user[ARQ_ID_MAX_LEN + 1];
  char reason[REASON_KEPT + 1];
  char *reply;
  per_worker_t tasks[];
};

static void answer(disconnect_t *d) {
  arq_buf_t out;
  arq_buf_init(&out);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &out);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "node", 4);
  arq_json_w_string(&w, d->s->node_id, strlen(d->s->node_id));
  arq_json_w_key(&w, "closed", 6);
  arq_json_w_uint64(&w, atomic_load(&d->closed));
  arq_json_w_object_end(&w);
  arq_link_reply(d->s->link, d->reply, out.data, out.len);
  arq_buf_free(&out);
}

static void run(arq_loop_t *loop, arq_task_t *task) {
  (void)loop;
  per_worker_t *t = task->data;
  disconnect_t *d = t->d;
  arq_members_t *m = arq_egress_user(t->w, d->tenant, d->user);
  size_t closed = 0;
  /* Closing leaves the list alone: members are removed when a connection is freed. */
  for (size_t i = 0; m && i < m->len; i++) {
    arq_conn_t *c = m->conns[i];
    if (c->state != CONN_WS)
      continue;
    arq_conn_close(c, CLOSE_SERVER_DISCONNECT, d->reason);
    closed++;
  }
  atomic_fetch_add(&d->closed, closed);
  if (atomic_fetch_sub(&d->workers_left, 1) != 1)
    return;
  if (d->reply)
    answer(d);
  if (atomic_load(&d->closed))
    ARQ_LOG(ARQ_LOG_INFO, "shield", "user disconnected by the server API", {"tenant_id", d->tenant},
            {"user", d->user});
  free(d->reply);
  free(d);
}

void arq_disconnect_user(arq_shield_t *s, const char *tenant, const char *user, const void *reason,
                         size_t reason_len, const char *reply) {
  disconnect_t *d = calloc(1, sizeof *d + s->nworkers * sizeof d->tasks[0]);
  if (!d)
    arq_oom("disconnect");
  d->s = s;
  atomic_init(&d->workers_left, s->nworkers);
  atomic_init(&d->closed, 0);
  memcpy(d->tenant, tenant, strlen(tenant) + 1);
  memcpy(d->user, user, strlen(user) + 1);
  size_t n = reason_len > REASON_KEPT ? REASON_KEPT : reason_len;
  memcpy(d->reason, reason, n);
  d->reason[n] = '\0';
  if (reply && *reply && !(d->reply = strdup(reply)))
    arq_oom("disconnect");
  for (size_t i = 0; i < s->nworkers; i++) {
    per_worker_t *t = &d->tasks[i];
    t->w = &s->workers[i];
    t->d = d;
    t->task.cb = run;
    t->task.data = t;
    arq_loop_post(t->w->loop, &t->task);
  }
}
