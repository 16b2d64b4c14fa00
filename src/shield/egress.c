/*
 * egress.c — who is where on this worker, and fan-out of NATS deliveries to them.
 *
 * DESIGN
 *   A delivery arrives on a nats.c thread as the Envelope's protobuf bytes. That thread
 *   builds one binary frame and posts one task to each worker with members; the frame is
 *   shared by every binary recipient. A worker converts the envelope to JSON at most once
 *   per delivery for its text recipients. Membership maps are the worker's own: no lock.
 *
 *   permessage-deflate is negotiated without server context takeover, so a compressed frame
 *   does not depend on its recipient: a worker compresses each encoding of a delivery at most
 *   once, the first time a recipient that negotiated the extension needs it, and shares that
 *   frame like the plain one. Messages under compression_min_bytes, messages a client's
 *   window is too small for, and messages deflate does not shrink go plain (RSV1 clear).
 *   Replies to one client (session.c) follow the same rule with the same deflater
 *   (arq_egress_compresses, arq_egress_deflate): compressed once, for that client.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/envelope_json.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

typedef struct {
  arq_task_t task;
  arq_worker_t *worker;
  arq_target_kind_t kind;
  arq_frame_t *binary;
  char tenant[ARQ_ID_MAX_LEN + 1];
  char name[ARQ_ID_MAX_LEN + 1];
} delivery_t;

void arq_members_add(arq_members_t *m, arq_conn_t *c) {
  if (m->len == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 4;
    arq_conn_t **p = realloc(m->conns, cap * sizeof *p);
    if (!p)
      arq_oom("members");
    m->conns = p;
    m->cap = cap;
  }
  m->conns[m->len++] = c;
}

bool arq_members_remove(arq_members_t *m, arq_conn_t *c) {
  for (size_t i = 0; i < m->len; i++) {
    if (m->conns[i] == c) {
      m->conns[i] = m->conns[--m->len];
      return true;
    }
  }
  return false;
}

static size_t pair_key(char *key, const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  memcpy(key, a, la + 1);
  memcpy(key + la + 1, b, lb);
  return la + 1 + lb;
}

arq_members_t *arq_egress_user(arq_worker_t *w, const char *tenant, const char *user) {
  char key[2 * ARQ_ID_MAX_LEN + 2];
  size_t klen = pair_key(key, tenant, user);
  return arq_strmap_get(&w->users, key, klen);
}

static void map_add(arq_strmap_t *map, const char *tenant, const char *name, arq_conn_t *c) {
  char key[2 * ARQ_ID_MAX_LEN + 2];
  size_t klen = pair_key(key, tenant, name);
  arq_members_t *m = arq_strmap_get(map, key, klen);
  if (!m) {
    m = calloc(1, sizeof *m);
    if (!m)
      arq_oom("members");
    arq_strmap_put(map, key, klen, m);
  }
  arq_members_add(m, c);
}

/* Returns how many members remain. */
static size_t map_remove(arq_strmap_t *map, const char *tenant, const char *name, arq_conn_t *c) {
  char key[2 * ARQ_ID_MAX_LEN + 2];
  size_t klen = pair_key(key, tenant, name);
  arq_members_t *m = arq_strmap_get(map, key, klen);
  if (!m)
    return 0;
  arq_members_remove(m, c);
  if (m->len)
    return m->len;
  arq_strmap_remove(map, key, klen);
  free(m->conns);
  free(m);
  return 0;
}

int arq_egress_join(arq_conn_t *c, const char *room) {
  for (size_t i = 0; i < c->nrooms; i++)
    if (!strcmp(c->rooms[i], room))
      return 0; /* already a member */
  arq_worker_t *w = c->w;
  if (arq_link_room_ref(w->shield->link, c->id.tenant, room, w->index))
    return -1;
  char **rooms = realloc(c->rooms, (c->nrooms + 1) * sizeof *rooms);
  char *copy = strdup(room);
  if (!rooms || !copy)
    arq_oom("rooms");
  c->rooms = rooms;
  c->rooms[c->nrooms++] = copy;
  map_add(&w->rooms, c->id.tenant, room, c);
  return 0;
}

void arq_egress_leave(arq_conn_t *c, const char *room) {
  for (size_t i = 0; i < c->nrooms; i++) {
    if (strcmp(c->rooms[i], room))
      continue;
    arq_worker_t *w = c->w;
    map_remove(&w->rooms, c->id.tenant, room, c);
    arq_link_room_unref(w->shield->link, c->id.tenant, room, w->index);
    free(c->rooms[i]);
    c->rooms[i] = c->rooms[--c->nrooms];
    return;
  }
}

void arq_egress_register(arq_conn_t *c) {
  arq_worker_t *w = c->w;
  map_add(&w->users, c->id.tenant, c->id.sub, c);
  arq_strmap_put(&w->conns, c->conn_id, strlen(c->conn_id), c);
}

void arq_egress_unregister(arq_conn_t *c) {
  while (c->nrooms)
    arq_egress_leave(c, c->rooms[c->nrooms - 1]);
  free(c->rooms);
  c->rooms = NULL;
  arq_worker_t *w = c->w;
  map_remove(&w->users, c->id.tenant, c->id.sub, c);
  arq_strmap_remove(&w->conns, c->conn_id, strlen(c->conn_id));
}

/* The JSON text frame of a binary envelope, or NULL when the bytes are not an envelope. */
static arq_frame_t *json_frame(arq_worker_t *w, arq_frame_t *binary) {
  const uint8_t *payload = arq_frame_payload(binary);
  size_t len = binary->len - (size_t)(payload - binary->data);
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(&w->pb, len, payload);
  arq_frame_t *f = NULL;
  if (e) {
    arq_buf_reset(&w->scratch);
    arq_envelope_to_json(e, &w->scratch);
    f = arq_frame_new(w->frames, ARQ_WS_OP_TEXT, w->scratch.data, w->scratch.len);
  }
  arq_envelope_arena_reset(&w->arena);
  return f;
}

/* One encoding of a delivery on this worker: the plain frame, and its compressed twin once a
 * recipient asked for it (built at most once; `incompressible` when deflate did not shrink
 * it). */
typedef struct {
  arq_frame_t *plain, *deflated;
  bool failed, incompressible;
} encoding_t;

static size_t payload_len(arq_frame_t *f) {
  return f->len - (size_t)(arq_frame_payload(f) - f->data);
}

bool arq_egress_compresses(const arq_conn_t *c, size_t len) {
  return c->deflate && c->w->deflater &&
         len >= (size_t)c->w->shield->cfg->shield.compression_min_bytes &&
         arq_ws_pmd_fits(c->deflate_window_bits, len);
}

arq_frame_t *arq_egress_deflate(arq_worker_t *w, uint8_t opcode, const uint8_t *payload,
                                size_t len) {
  arq_ws_deflate(w->deflater, payload, len, &w->deflated);
  arq_shield_metrics_t *m = &w->shield->m;
  arq_counter_add(m->deflate_in_bytes, len);
  arq_counter_add(m->deflate_out_bytes, w->deflated.len);
  if (w->deflated.len >= len)
    return NULL;
  arq_frame_t *f = arq_frame_new(w->frames, opcode, w->deflated.data, w->deflated.len);
  f->data[0] |= ARQ_WS_RSV1;
  return f;
}

/* The compressed frame of e->plain, or NULL when it should go plain to everyone. */
static arq_frame_t *deflated_frame(arq_worker_t *w, encoding_t *e) {
  if (e->deflated || e->incompressible)
    return e->deflated;
  e->deflated = arq_egress_deflate(w, e->plain->data[0] & 0x0F, arq_frame_payload(e->plain),
                                   payload_len(e->plain));
  e->incompressible = !e->deflated;
  return e->deflated;
}

static void send_to(arq_conn_t *c, encoding_t *binary, encoding_t *text) {
  if (c->state != CONN_WS)
    return;
  encoding_t *e = binary;
  if (c->prefers_text) {
    e = text;
    if (!e->plain && !e->failed) {
      e->plain = json_frame(c->w, binary->plain);
      e->failed = !e->plain;
    }
    if (!e->plain)
      return;
  }
  arq_frame_t *f = e->plain;
  size_t len = payload_len(f);
  if (arq_egress_compresses(c, len)) {
    arq_frame_t *z = deflated_frame(c->w, e);
    if (z) {
      arq_counter_add(c->w->shield->m.deflate_saved_bytes, f->len - z->len);
      f = z;
    }
  }
  arq_conn_send(c, f);
  arq_counter_inc(c->w->shield->m.messages_out);
}

static void run_delivery(arq_loop_t *loop, arq_task_t *task) {
  delivery_t *d = task->data;
  arq_worker_t *w = d->worker;
  encoding_t binary = {.plain = d->binary}, text = {0};
  if (d->kind == ARQ_TARGET_CONN) {
    arq_conn_t *c = arq_strmap_get(&w->conns, d->name, strlen(d->name));
    if (c && !strcmp(c->id.tenant, d->tenant))
      send_to(c, &binary, &text);
  } else {
    char key[2 * ARQ_ID_MAX_LEN + 2];
    size_t klen = pair_key(key, d->tenant, d->name);
    arq_members_t *m = arq_strmap_get(d->kind == ARQ_TARGET_ROOM ? &w->rooms : &w->users, key, klen);
    /* Closing a slow consumer here leaves the list alone: members are removed only when
     * the connection is freed, after this batch. */
    for (size_t i = 0; m && i < m->len; i++)
      send_to(m->conns[i], &binary, &text);
  }
  if (text.failed)
    ARQ_LOG(ARQ_LOG_WARN, "egress", "delivery is not an Envelope; not sent to JSON clients",
            {"tenant_id", d->tenant}, {"target", d->name});
  if (text.plain)
    arq_frame_unref(text.plain);
  if (text.deflated)
    arq_frame_unref(text.deflated);
  if (binary.deflated)
    arq_frame_unref(binary.deflated);
  arq_frame_unref(d->binary); /* d lives inside that block: last use of d */
}

/* Which worker owns a connection id "<instance>-<worker>-<counter>". */
static int conn_worker(const char *conn_id) {
  const char *p = strchr(conn_id, '-');
  if (!p)
    return -1;
  int w = atoi(p + 1);
  return w >= 0 && w < 64 ? w : -1;
}

/* NATS delivery threads are few and long-lived (global message delivery): each gets a
 * frame pool of its own, found through a thread-local pointer and registered so that it
 * can be freed at shutdown. */
#define MAX_DELIVERY_POOLS 64
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static arq_frame_pool_t *pools[MAX_DELIVERY_POOLS];
static size_t npools;
static _Thread_local arq_frame_pool_t *thread_pool;
static _Thread_local bool thread_pool_tried;

static arq_frame_pool_t *delivery_pool(void) {
  if (!thread_pool_tried) {
    thread_pool_tried = true;
    pthread_mutex_lock(&pools_lock);
    if (npools < MAX_DELIVERY_POOLS)
      thread_pool = pools[npools++] = arq_frame_pool_new();
    pthread_mutex_unlock(&pools_lock);
  }
  return thread_pool; /* NULL beyond the bound: plain allocations */
}

void arq_egress_free_pools(void) {
  pthread_mutex_lock(&pools_lock);
  for (size_t i = 0; i < npools; i++)
    arq_frame_pool_free(pools[i]);
  npools = 0;
  pthread_mutex_unlock(&pools_lock);
}

void arq_egress_deliver(arq_shield_t *s, arq_target_kind_t kind, const char *tenant,
                        const char *name, const void *payload, size_t len, uint64_t worker_mask) {
  if (kind == ARQ_TARGET_CONN) {
    int w = conn_worker(name);
    worker_mask = w >= 0 ? 1ull << w : 0;
  }
  size_t targets = 0;
  for (size_t i = 0; i < s->nworkers; i++)
    targets += (worker_mask >> i) & 1;
  if (!targets)
    return;
  /* One block per message: the frame, and the tasks that carry it to each worker. */
  delivery_t *tasks;
  arq_frame_t *binary = arq_frame_alloc_extra(delivery_pool(), ARQ_WS_OP_BINARY, len,
                                              targets * sizeof *tasks, (void **)&tasks);
  memcpy(arq_frame_payload(binary), payload, len);
  for (size_t i = 0; i < s->nworkers; i++) {
    if (!(worker_mask & (1ull << i)))
      continue;
    delivery_t *d = tasks++;
    d->task.cb = run_delivery;
    d->task.data = d;
    d->worker = &s->workers[i];
    d->kind = kind;
    d->binary = arq_frame_ref(binary);
    snprintf(d->tenant, sizeof d->tenant, "%s", tenant);
    snprintf(d->name, sizeof d->name, "%s", name);
    arq_loop_post(s->workers[i].loop, &d->task);
  }
  arq_frame_unref(binary);
}
