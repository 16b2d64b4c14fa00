/*
 * worker.c — the Shield's threads: one event loop per worker, each with its own
 * SO_REUSEPORT listener so the kernel spreads new connections over the workers; the main
 * thread only waits for SIGTERM/SIGINT and then drains: stop accepting, close every
 * WebSocket with 1001, wait (bounded by close_timeout_ms) for the peers, flush NATS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "protocol/payloads.h"
#include "protocol/subjects.h"
#include "shield/admin.h"
#include "shield/nats_link.h"
#include "shield/api.h"
#include "shield/ingress.h"
#include "shield/shield.h"

#define ACCEPTS_PER_EVENT 64
#define DRAIN_POLL_MS 20
#define ACCEPT_PAUSE_MS 100
#define INFLATE_TRIM_MS 1000

uint64_t arq_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t arq_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_on(const char *hostport, char *err, size_t errcap) {
  char host[256];
  uint16_t port;
  if (arq_config_split_hostport(hostport, host, sizeof host, &port)) {
    snprintf(err, errcap, "bad listen address %s", hostport);
    return -1;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *ai = NULL;
  char portstr[8];
  snprintf(portstr, sizeof portstr, "%u", port);
  int rc = getaddrinfo(host, portstr, &hints, &ai);
  if (rc) {
    snprintf(err, errcap, "%s: %s", hostport, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4096)) {
    snprintf(err, errcap, "listen on %s: %s", hostport, strerror(errno));
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t cap) {
  if (ss->ss_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)cap);
  else if (ss->ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out, (socklen_t)cap);
  else
    snprintf(out, cap, "unknown");
}

static void set_listening(arq_worker_t *w, bool on) {
  uint32_t events = on ? ARQ_IO_READ : 0;
  if (w->listen_fd >= 0)
    arq_io_update(w->loop, &w->listen_io, events);
  if (w->admin_fd >= 0)
    arq_io_update(w->loop, &w->admin_io, events);
}

static void resume_accepting(arq_loop_t *loop, arq_timer_t *t) {
  arq_worker_t *w = t->data;
  w->accept_paused = false;
  if (!atomic_load(&w->shield->draining))
    set_listening(w, true);
}

/* accept() failed for want of descriptors or memory: the pending connection stays in the
 * backlog and a level-triggered listener would fire again at once. Pause, logged once per
 * pause, and try again later; open connections keep being served meanwhile. */
static void pause_accepting(arq_worker_t *w, int err) {
  if (w->accept_paused)
    return;
  w->accept_paused = true;
  set_listening(w, false);
  arq_timer_start(w->loop, &w->accept_timer, ACCEPT_PAUSE_MS);
  arq_counter_inc(w->shield->m.accept_pauses);
  ARQ_LOG(ARQ_LOG_WARN, "shield", "accept paused: out of resources", {"error", strerror(err)});
}

/* The node's caps, checked before anything is spent on the connection. The admin listener
 * is exempt: an operator must reach /metrics and /admin while the public port is flooded. */
static bool over_caps(arq_shield_t *s, bool admin) {
  if (admin)
    return false;
  int64_t pending = arq_gauge_get(s->m.pending_handshakes);
  if (arq_gauge_get(s->m.connections) + pending >= s->cfg->shield.max_connections) {
    arq_counter_inc(s->m.preauth_refusals[ARQ_PREAUTH_CONNECTION_CAP]);
    return true;
  }
  if (pending >= s->cfg->shield.max_pending_handshakes) {
    arq_counter_inc(s->m.preauth_refusals[ARQ_PREAUTH_PENDING_CAP]);
    return true;
  }
  return false;
}

static void on_accept(arq_loop_t *loop, arq_io_t *io, uint32_t events) {
  arq_worker_t *w = io->data;
  arq_shield_t *s = w->shield;
  bool admin = io == &w->admin_io;
  for (int i = 0; i < ACCEPTS_PER_EVENT && !w->accept_paused; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        pause_accepting(w, errno);
      else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        ARQ_LOG(ARQ_LOG_WARN, "shield", "accept failed", {"error", strerror(errno)});
      return;
    }
    if (over_caps(s, admin)) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char peer[64];
    peer_name(&ss, peer, sizeof peer);
    arq_conn_accept(w, fd, peer, s->tls, admin);
  }
}

static void publish_heartbeat(arq_loop_t *loop, arq_timer_t *t) {
  arq_worker_t *w = t->data;
  arq_shield_t *s = w->shield;
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_heartbeat(subject, sizeof subject, s->node_id);
  arq_buf_t *body = &w->scratch;
  arq_buf_reset(body);
  arq_payload_heartbeat(body, s->node_id, s->instance, arq_gauge_get(s->m.connections), arq_wall_ms());
  arq_link_headers_t h = {"00000000000000000000000000000001", "_system", s->node_id, s->node_id, false, NULL, 0};
  arq_link_publish(s->link, subject, NULL, body->data, body->len, &h);
  arq_timer_start(loop, t, (uint64_t)s->cfg->shield.heartbeat_interval_ms);
}

static void trim_inflater(arq_loop_t *loop, arq_timer_t *t) {
  arq_worker_t *w = t->data;
  if (!arq_ws_inflater_trim(w->inflater, ARQ_INFLATE_KEEP_BYTES))
    arq_timer_start(loop, t, INFLATE_TRIM_MS);
}

void arq_worker_watch_inflater(arq_worker_t *w) {
  if (w->inflater && !arq_timer_active(&w->inflate_timer) &&
      arq_ws_inflater_capacity(w->inflater) > ARQ_INFLATE_KEEP_BYTES)
    arq_timer_start(w->loop, &w->inflate_timer, INFLATE_TRIM_MS);
}

static void close_listener(arq_worker_t *w, arq_io_t *io, int *fd) {
  if (*fd < 0)
    return;
  arq_io_stop(w->loop, io);
  close(*fd);
  *fd = -1;
}

static void drain_check(arq_loop_t *loop, arq_timer_t *t) {
  arq_worker_t *w = t->data;
  if (!w->open_conns) {
    arq_loop_stop(loop);
    return;
  }
  arq_timer_start(loop, t, DRAIN_POLL_MS);
}

static void start_drain(arq_loop_t *loop, arq_task_t *task) {
  arq_worker_t *w = task->data;
  close_listener(w, &w->listen_io, &w->listen_fd);
  close_listener(w, &w->admin_io, &w->admin_fd);
  arq_timer_stop(loop, &w->heartbeat_timer);
  arq_timer_stop(loop, &w->accept_timer);
  arq_timer_stop(loop, &w->inflate_timer);
  for (arq_conn_t *c = w->all, *next; c; c = next) {
    next = c->next;
    if (c->state == CONN_WS)
      arq_conn_close(c, 1001, "server shutting down");
    else if (c->state == CONN_HTTP)
      arq_conn_abort(c);
  }
  arq_timer_start(loop, &w->drain_timer, 0);
}

static void *worker_main(void *arg) {
  arq_worker_t *w = arg;
  if (arq_loop_run(w->loop))
    ARQ_LOG(ARQ_LOG_ERROR, "shield", "event loop failed", {"error", strerror(errno)});
  /* Whatever is left after the close timeout is cut. */
  while (w->all)
    arq_conn_abort(w->all);
  arq_loop_run_pending(w->loop);
  return NULL;
}

static int start_workers(arq_shield_t *s, char *err, size_t errcap) {
  for (size_t i = 0; i < s->nworkers; i++) {
    arq_worker_t *w = &s->workers[i];
    w->shield = s;
    w->index = i;
    w->admin_fd = -1;
    arq_timer_init(&w->heartbeat_timer, publish_heartbeat, w);
    arq_timer_init(&w->drain_timer, drain_check, w);
    arq_timer_init(&w->accept_timer, resume_accepting, w);
    arq_timer_init(&w->inflate_timer, trim_inflater, w);
    w->loop = arq_loop_new();
    arq_strmap_init(&w->rooms);
    arq_strmap_init(&w->users);
    arq_strmap_init(&w->conns);
    arq_json_limits_t limits = {(size_t)s->cfg->shield.max_message_bytes, 64, 1u << 20};
    arq_envelope_arena_init(&w->arena, &limits);
    w->pb = arq_envelope_arena_allocator(&w->arena);
    arq_buf_init(&w->scratch);
    w->frames = arq_frame_pool_new();
    arq_buf_init(&w->deflated);
    if (s->cfg->shield.permessage_deflate) {
      w->inflater = arq_ws_inflater_new();
      w->deflater = arq_ws_deflater_new();
    }
    w->read_buf_cap = 64 * 1024;
    w->read_buf = malloc(w->read_buf_cap);
    if (!w->read_buf)
      arq_oom("read buffer");
    arq_buf_init(&w->policy_headers);
    arq_buf_init(&w->audit);
    arq_buf_init(&w->reply);
    w->confirms = arq_confirms_new(w);
    if (s->cfg->platform.overseer.enabled)
      w->policies = arq_worker_policies_new(w);
    if (s->cfg->platform.registry.enabled)
      w->schemas = arq_worker_schemas_new(w);
    w->listen_fd = listen_on(s->cfg->shield.listen, err, errcap);
    if (!w->loop || w->listen_fd < 0)
      return -1;
    arq_io_start(w->loop, &w->listen_io, w->listen_fd, ARQ_IO_READ, on_accept, w);
    if (i == 0 && s->cfg->shield.admin_listen) {
      w->admin_fd = listen_on(s->cfg->shield.admin_listen, err, errcap);
      if (w->admin_fd < 0)
        return -1;
      arq_io_start(w->loop, &w->admin_io, w->admin_fd, ARQ_IO_READ, on_accept, w);
    }
    if (i == 0)
      arq_timer_start(w->loop, &w->heartbeat_timer, 0);
  }
  for (size_t i = 0; i < s->nworkers; i++)
    if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i])) {
      snprintf(err, errcap, "cannot start worker threads");
      return -1;
    }
  return 0;
}

static void free_workers(arq_shield_t *s) {
  for (size_t i = 0; i < s->nworkers; i++) {
    arq_worker_t *w = &s->workers[i];
    if (w->listen_fd > 0)
      close(w->listen_fd);
    if (w->admin_fd > 0)
      close(w->admin_fd);
    arq_confirms_free(w->confirms);
    arq_loop_free(w->loop);
    arq_strmap_free(&w->rooms);
    arq_strmap_free(&w->users);
    arq_strmap_free(&w->conns);
    arq_envelope_arena_free(&w->arena);
    arq_buf_free(&w->scratch);
    arq_frame_pool_free(w->frames);
    arq_ws_inflater_free(w->inflater);
    arq_ws_deflater_free(w->deflater);
    arq_buf_free(&w->deflated);
    free(w->read_buf);
    arq_worker_policies_free(w->policies);
    arq_worker_schemas_free(w->schemas);
    arq_buf_free(&w->policy_headers);
    arq_buf_free(&w->audit);
    arq_buf_free(&w->reply);
  }
}

int arq_shield_run(arq_shield_t *s) {
  /* Signals go to the main thread's sigwait, not to a worker in the middle of a write. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[512] = "";
  /* Before the workers: a request to /api/ may come with the first connection. */
  if (!(s->api = arq_api_start(s, err, sizeof err))) {
    ARQ_LOG(ARQ_LOG_ERROR, "shield", "cannot start the server API", {"error", err});
    return 1;
  }
  if (start_workers(s, err, sizeof err)) {
    ARQ_LOG(ARQ_LOG_ERROR, "shield", "cannot start", {"error", err});
    free_workers(s);
    arq_api_stop(s->api);
    s->api = NULL;
    return 1;
  }
  s->ingress = arq_ingress_start(s);
  s->overseer = arq_overseer_start(s);
  s->schemas = arq_schemas_start(s);
  s->admin = arq_admin_start(s);
  ARQ_LOG(ARQ_LOG_INFO, "shield", "listening", {"addr", s->cfg->shield.listen},
          {"node", s->node_id}, {"ws_path", s->cfg->shield.ws_path});
  int sig = 0;
  while (!sigwait(&set, &sig) && sig == SIGHUP)
    arq_api_reload_keys(s->api); /* the one setting read again without a restart */
  ARQ_LOG(ARQ_LOG_INFO, "shield", "draining", {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"});
  atomic_store(&s->draining, true);
  for (size_t i = 0; i < s->nworkers; i++) {
    arq_worker_t *w = &s->workers[i];
    w->drain_task.cb = start_drain;
    w->drain_task.data = w;
    arq_loop_post(w->loop, &w->drain_task);
  }
  /* Bounded: each worker stops once its connections are closed or the close timeout cut them. */
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_sec += s->cfg->shield.close_timeout_ms / 1000 + 2;
  for (size_t i = 0; i < s->nworkers; i++) {
    if (pthread_timedjoin_np(s->workers[i].thread, NULL, &limit)) {
      arq_loop_stop(s->workers[i].loop);
      pthread_join(s->workers[i].thread, NULL);
    }
  }
  arq_ingress_stop(s->ingress);
  s->ingress = NULL;
  arq_overseer_stop(s->overseer);
  s->overseer = NULL;
  arq_schemas_stop(s->schemas);
  s->schemas = NULL;
  arq_admin_stop(s->admin); /* its last answers are run with the workers' pending tasks */
  s->admin = NULL;
  arq_api_stop(s->api);
  s->api = NULL;
  /* No more NATS callbacks after this; then run what they handed to the workers. */
  arq_link_free(s->link, 2000);
  s->link = NULL;
  for (size_t i = 0; i < s->nworkers; i++)
    arq_loop_run_pending(s->workers[i].loop);
  free_workers(s);
  arq_egress_free_pools();
  ARQ_LOG(ARQ_LOG_INFO, "shield", "stopped");
  return 0;
}
