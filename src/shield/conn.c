/*
 * conn.c — a connection's bytes: non-blocking reads into a buffer, the HTTP phase until
 * an upgrade, the WebSocket reader after it, the bounded send queue of shared frames,
 * one timer (handshake, ping, idle, close), and closing.
 *
 * DESIGN
 *   Reads are bounded per wakeup (READS_PER_EVENT) so one busy client cannot starve the
 *   others on its worker. The send queue holds references to frames; a write drains it
 *   with writev. When the queued bytes pass send_queue_bytes the client is a slow
 *   consumer: it is closed with 1008 and counted, the others keep receiving.
 *   A connection is never freed inside its own callback: arq_conn_abort() closes the
 *   socket and defers the free to the end of the loop's batch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "shield/admin.h"
#include "shield/api.h"
#include "shield/shield.h"
#include "shield/tls.h"

#define READ_CHUNK (16 * 1024)
#define READS_PER_EVENT 8
#define IOV_PER_WRITE 64
#define MAX_HTTP_HEAD 8192

static void on_io(arq_loop_t *loop, arq_io_t *io, uint32_t events);
static void on_timer(arq_loop_t *loop, arq_timer_t *t);
static void free_conn(arq_loop_t *loop, arq_task_t *task);
static void on_readable(arq_conn_t *c);
static void process_ws(arq_conn_t *c);

static void reread(arq_loop_t *loop, arq_task_t *task) {
  arq_conn_t *c = task->data;
  c->reread_queued = false;
  if (c->state != CONN_CLOSED)
    on_readable(c);
}

/* ---- transport: the socket, or TLS on it ---- */

#define IO_AGAIN (-1)
#define IO_FAILED (-2)

static ssize_t transport_read(arq_conn_t *c, void *buf, size_t len) {
  if (c->tls) {
    ssize_t n = arq_tls_read(c->tls, buf, len);
    c->tls_read_wants_write = n == ARQ_TLS_WANT_WRITE;
    if (n == ARQ_TLS_WANT_READ || n == ARQ_TLS_WANT_WRITE)
      return IO_AGAIN;
    return n == ARQ_TLS_FAILED ? IO_FAILED : n;
  }
  ssize_t n = read(c->io.fd, buf, len);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR ? IO_AGAIN : IO_FAILED;
  return n;
}

/* Writes from the queue; returns bytes written, IO_AGAIN or IO_FAILED. */
static ssize_t transport_write_queue(arq_conn_t *c) {
  if (c->tls) { /* one frame at a time: OpenSSL has no writev */
    arq_frame_t *f = c->out.ring[c->out.head].frame;
    ssize_t n = arq_tls_write(c->tls, f->data + c->out.offset, f->len - c->out.offset);
    if (n == ARQ_TLS_WANT_READ || n == ARQ_TLS_WANT_WRITE)
      return IO_AGAIN;
    return n > 0 ? n : IO_FAILED;
  }
  struct iovec iov[IOV_PER_WRITE];
  int n = 0;
  for (size_t i = 0; i < c->out.count && n < IOV_PER_WRITE; i++) {
    arq_frame_t *f = c->out.ring[(c->out.head + i) % c->out.cap].frame;
    size_t skip = i == 0 ? c->out.offset : 0;
    iov[n].iov_base = f->data + skip;
    iov[n].iov_len = f->len - skip;
    n++;
  }
  ssize_t wrote = writev(c->io.fd, iov, n);
  if (wrote < 0)
    return errno == EAGAIN || errno == EINTR ? IO_AGAIN : IO_FAILED;
  return wrote;
}

/* A client that sends requests and never reads their answers gets no more answers queued:
 * its input waits (in the kernel, where TCP pushes back) until it reads. */
static bool http_over_queue(const arq_conn_t *c) {
  return c->state == CONN_HTTP &&
         c->out.bytes > (size_t)c->w->shield->cfg->shield.http_max_queued_bytes;
}

static void update_interest(arq_conn_t *c) {
  bool want_write = c->out.count || c->tls_read_wants_write;
  c->http.paused = http_over_queue(c);
  bool no_read = c->http.paused || (c->state == CONN_HTTP && (c->admin.busy || c->out.close_after_flush));
  uint32_t events = (no_read ? 0 : ARQ_IO_READ) | (want_write ? ARQ_IO_WRITE : 0);
  arq_io_update(c->w->loop, &c->io, events);
}

static void stop_counting_pending(arq_conn_t *c) {
  if (c->http.pending_counted) {
    c->http.pending_counted = false;
    arq_gauge_add(c->w->shield->m.pending_handshakes, -1);
  }
}

void arq_conn_accept(arq_worker_t *w, int fd, const char *peer, arq_tls_ctx_t *tls, bool admin_port) {
  arq_shield_t *s = w->shield;
  arq_conn_t *c = calloc(1, sizeof *c);
  if (!c)
    arq_oom("connection");
  c->w = w;
  c->state = CONN_HTTP;
  c->http.admin_port = admin_port;
  snprintf(c->peer, sizeof c->peer, "%s", peer);
  c->last_seen_ms = arq_loop_now_ms(w->loop);
  arq_timer_init(&c->timer, on_timer, c);
  arq_timer_init(&c->expiry_timer, NULL, c); /* armed by the session */
  c->free_task.cb = free_conn;
  c->free_task.data = c;
  c->reread_task.cb = reread;
  c->reread_task.data = c;
  if (tls && !(c->tls = arq_tls_new(tls, fd))) {
    close(fd);
    free(c);
    return;
  }
  if (arq_io_start(w->loop, &c->io, fd, ARQ_IO_READ, on_io, c)) {
    if (c->tls)
      arq_tls_free(c->tls);
    close(fd);
    free(c);
    return;
  }
  c->next = w->all;
  if (w->all)
    w->all->prev = c;
  w->all = c;
  w->open_conns++;
  if (!admin_port) { /* the admin listener is exempt from the pre-upgrade caps */
    c->http.pending_counted = true;
    arq_gauge_add(s->m.pending_handshakes, 1);
  }
  arq_timer_start(w->loop, &c->timer, (uint64_t)s->cfg->shield.handshake_timeout_ms);
}

/* ---- output ---- */

static void out_pop(arq_conn_t *c) {
  arq_frame_t *f = c->out.ring[c->out.head].frame;
  c->out.bytes -= f->len - c->out.offset;
  arq_frame_unref(f);
  c->out.head = (c->out.head + 1) % c->out.cap;
  c->out.count--;
  c->out.offset = 0;
}

static void out_clear(arq_conn_t *c) {
  while (c->out.count)
    out_pop(c);
  free(c->out.ring);
  c->out.ring = NULL;
  c->out.cap = 0;
}

/* After the last answer to a client that may still be sending (pipelined requests, a body
 * we refused): closing now with unread input would make the kernel send RST, which can
 * destroy the answer before the client reads it. So the write side is shut and input is
 * read and dropped until the client closes, or close_timeout_ms. */
static void linger(arq_conn_t *c) {
  c->http.lingering = true;
  c->state = CONN_CLOSING;
  c->out.close_after_flush = false;
  free(c->in.buf);
  c->in.buf = NULL;
  c->in.len = c->in.cap = 0;
  shutdown(c->io.fd, SHUT_WR);
  arq_io_update(c->w->loop, &c->io, ARQ_IO_READ);
  arq_timer_start(c->w->loop, &c->timer, (uint64_t)c->w->shield->cfg->shield.close_timeout_ms);
}

static void drop_input(arq_conn_t *c) {
  for (int i = 0; i < READS_PER_EVENT; i++) {
    ssize_t n = read(c->io.fd, c->w->read_buf, c->w->read_buf_cap);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      arq_conn_abort(c);
      return;
    }
    if (n < 0 || (size_t)n < c->w->read_buf_cap)
      return;
  }
}

/* Writes as much as the socket takes. Returns -1 when the connection was aborted. */
static int flush(arq_conn_t *c) {
  while (c->out.count) {
    ssize_t wrote = transport_write_queue(c);
    if (wrote == IO_AGAIN)
      break;
    if (wrote == IO_FAILED) {
      arq_conn_abort(c);
      return -1;
    }
    size_t left = (size_t)wrote;
    while (left && c->out.count) {
      arq_frame_t *f = c->out.ring[c->out.head].frame;
      size_t rest = f->len - c->out.offset;
      if (left >= rest) {
        left -= rest;
        out_pop(c);
      } else {
        c->out.offset += left;
        c->out.bytes -= left;
        left = 0;
      }
    }
  }
  if (!c->out.count && c->out.close_after_flush) {
    if (c->state == CONN_HTTP && !c->tls) {
      linger(c);
      return -1;
    }
    arq_conn_abort(c);
    return -1;
  }
  bool was_paused = c->http.paused;
  update_interest(c);
  if (was_paused && !c->http.paused && c->in.len && !c->admin.busy) {
    on_readable(c); /* the requests that waited for the client to read */
    return c->state == CONN_CLOSED ? -1 : 0;
  }
  return 0;
}

/* Writes every connection that queued frames this loop turn (a deferred task of the
 * worker's loop, so it runs after the turn's reads and deliveries). */
static void flush_unflushed(arq_loop_t *loop, arq_task_t *task) {
  arq_worker_t *w = task->data;
  w->flush_queued = false;
  while (w->unflushed) {
    arq_conn_t *c = w->unflushed;
    w->unflushed = c->out.next_unflushed;
    c->out.unflushed = false;
    c->out.next_unflushed = NULL;
    if (c->state != CONN_CLOSED)
      flush(c);
  }
}

static void flush_later(arq_conn_t *c) {
  arq_worker_t *w = c->w;
  if (c->out.unflushed)
    return;
  c->out.unflushed = true;
  c->out.next_unflushed = w->unflushed;
  w->unflushed = c;
  if (!w->flush_queued) {
    w->flush_queued = true;
    w->flush_task.cb = flush_unflushed;
    w->flush_task.data = w;
    arq_loop_defer(w->loop, &w->flush_task);
  }
}

/* A connection about to be freed leaves the list of connections to write. */
static void forget_unflushed(arq_conn_t *c) {
  if (!c->out.unflushed)
    return;
  for (arq_conn_t **pp = &c->w->unflushed; *pp; pp = &(*pp)->out.next_unflushed) {
    if (*pp == c) {
      *pp = c->out.next_unflushed;
      break;
    }
  }
  c->out.unflushed = false;
}

/* The largest frame one delivery can make: a max-size message base64-encoded in JSON with
 * its envelope fields. send_queue_bytes is the backlog allowed on top of it, so a member is
 * never called slow for one big message it has not had a chance to read yet. */
static size_t largest_frame(const arq_config_t *cfg) {
  size_t max = (size_t)cfg->shield.max_message_bytes;
  return (max + 2) / 3 * 4 + 4096;
}

static int flush(arq_conn_t *c);

size_t arq_conn_send_limit(const arq_config_t *cfg) {
  return (size_t)cfg->shield.send_queue_bytes + largest_frame(cfg);
}

static bool over_send_queue(const arq_conn_t *c, size_t more) {
  return c->out.bytes + more > arq_conn_send_limit(c->w->shield->cfg);
}

/* Frames of a loop turn are written at its end: before a member is called slow, the socket
 * gets what it takes now. True when the queue is still over its bound (or the connection
 * was aborted by the write). */
static bool stays_over_send_queue(arq_conn_t *c, size_t more) {
  if (!over_send_queue(c, more))
    return false;
  if (c->out.count && flush(c))
    return true;
  return over_send_queue(c, more);
}

void arq_conn_send(arq_conn_t *c, arq_frame_t *f) {
  if (c->state == CONN_CLOSED)
    return;
  if (c->state != CONN_HTTP && stays_over_send_queue(c, f->len)) {
    if (c->state == CONN_CLOSED)
      return; /* the write failed: aborted */
    arq_counter_inc(c->w->shield->m.slow_consumer_disconnects);
    ARQ_LOG(ARQ_LOG_WARN, "shield", "slow consumer closed", {"conn", c->conn_id},
            {"tenant_id", c->id.tenant});
    if (c->out.offset) { /* mid-frame: no clean way to put a close frame on the wire */
      arq_conn_abort(c);
      return;
    }
    /* The close frame must not wait behind the queue that overflowed. */
    out_clear(c);
    c->close_sent = false;
    arq_conn_close(c, 1008, "slow consumer");
    return;
  }
  if (c->out.count == c->out.cap) {
    size_t cap = c->out.cap ? c->out.cap * 2 : 8;
    arq_out_item_t *ring = malloc(cap * sizeof *ring);
    if (!ring)
      arq_oom("send queue");
    for (size_t i = 0; i < c->out.count; i++)
      ring[i] = c->out.ring[(c->out.head + i) % c->out.cap];
    free(c->out.ring);
    c->out.ring = ring;
    c->out.cap = cap;
    c->out.head = 0;
  }
  c->out.ring[(c->out.head + c->out.count) % c->out.cap].frame = arq_frame_ref(f);
  c->out.count++;
  c->out.bytes += f->len;
  if (c->out.count == 1)
    flush_later(c);
}

void arq_conn_send_bytes(arq_conn_t *c, const void *data, size_t len) {
  arq_frame_t *f = arq_frame_raw(c->w->frames, data, len);
  arq_conn_send(c, f);
  arq_frame_unref(f);
}

/* ---- closing ---- */

void arq_conn_close(arq_conn_t *c, uint16_t code, const char *reason) {
  if (c->state == CONN_CLOSED)
    return;
  if (c->state == CONN_HTTP) {
    c->out.close_after_flush = true;
    if (!c->out.count)
      arq_conn_abort(c);
    return;
  }
  if (!c->close_sent) {
    uint8_t payload[125];
    size_t n = arq_ws_close_payload(payload, code, reason);
    arq_frame_t *f = arq_frame_new(c->w->frames, ARQ_WS_OP_CLOSE, payload, n);
    c->close_sent = true;
    c->state = CONN_CLOSING;
    arq_conn_send(c, f);
    arq_frame_unref(f);
    if (c->state == CONN_CLOSED)
      return;
    ARQ_LOG(ARQ_LOG_DEBUG, "shield", "closing", {"conn", c->conn_id}, {"reason", reason});
  }
  c->state = CONN_CLOSING;
  arq_timer_start(c->w->loop, &c->timer, (uint64_t)c->w->shield->cfg->shield.close_timeout_ms);
}

void arq_conn_abort(arq_conn_t *c) {
  if (c->state == CONN_CLOSED)
    return;
  c->state = CONN_CLOSED;
  arq_worker_t *w = c->w;
  arq_timer_stop(w->loop, &c->timer);
  arq_io_stop(w->loop, &c->io);
  if (c->tls) {
    arq_tls_shutdown(c->tls);
    arq_tls_free(c->tls);
    c->tls = NULL;
  }
  close(c->io.fd);
  c->io.fd = -1;
  arq_timer_stop(w->loop, &c->expiry_timer);
  if (c->prev)
    c->prev->next = c->next;
  else
    w->all = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->open_conns--;
  stop_counting_pending(c);
  arq_loop_defer(w->loop, &c->free_task);
}

static void free_conn(arq_loop_t *loop, arq_task_t *task) {
  arq_conn_t *c = task->data;
  if (c->admin.pending_jobs) { /* an admin job still holds it: freed when the job is answered */
    c->admin.free_when_done = true;
    return;
  }
  /* Session state (rooms, indexes) goes here, not in arq_conn_abort(): a fan-out loop of
   * the current batch may still be walking a member list that holds this connection. */
  if (c->conn_id[0])
    arq_session_closed(c);
  forget_unflushed(c);
  out_clear(c);
  if (c->in.reader_ready)
    arq_ws_reader_free(&c->in.reader);
  arq_identity_free(&c->id);
  free(c->http.policy_headers);
  free(c->in.buf);
  free(c);
}

/* ---- input ----
 * Reads land in the worker's shared buffer and are processed there; a connection owns
 * input memory only while it holds a partial frame or request, so an idle connection
 * costs no buffer at all. */

static void consume_input(arq_conn_t *c, size_t n) {
  memmove(c->in.buf, c->in.buf + n, c->in.len - n);
  c->in.len -= n;
}

static void refuse_preauth(arq_conn_t *c, arq_preauth_t why, int status, const char *details) {
  arq_counter_inc(c->w->shield->m.preauth_refusals[why]);
  arq_http_reply_error(c, status, arq_http_status_reason(status), details);
}

/* Only the admin API and the server API take bodies, and only from a caller its token or
 * key allows: the head is authorized before a byte of the body is kept. Returns 1 to wait
 * for more input, 0 when the body may be handed over (or there is none), -1 when refused. */
static int request_body(arq_conn_t *c, const arq_http_request_t *req, size_t head_len,
                        size_t *body_len) {
  const arq_config_t *cfg = c->w->shield->cfg;
  *body_len = req->content_length > 0 ? (size_t)req->content_length : 0;
  arq_http_api_t which = arq_http_api_of(c, req);
  bool admin = which == ARQ_HTTP_API_ADMIN;
  if (!*body_len || which == ARQ_HTTP_API_NONE) {
    *body_len = 0; /* refused by the router without reading it */
    return 0;
  }
  size_t limit = (size_t)(admin ? cfg->shield.admin_max_body_bytes : cfg->api.max_body_bytes);
  if (*body_len > limit) {
    arq_http_reply_error(c, 413, "Payload Too Large",
                         admin ? "body larger than shield.admin_max_body_bytes" : "body larger than api.max_body_bytes");
    return -1;
  }
  if (!c->http.body_authorized) {
    const char *why = "";
    int status = admin ? arq_admin_authorize_head(c, req, &why)
                       : arq_api_authorize_head(c->w->shield->api, req, &why);
    if (status) {
      arq_http_reply_error(c, status, arq_http_status_reason(status), why);
      return -1;
    }
    c->http.body_authorized = true;
    c->http.allowance += *body_len;
  }
  return c->in.len - head_len < *body_len ? 1 : 0;
}

/* Parses complete request heads; returns -1 once the connection is gone or upgraded
 * bytes must go to the WebSocket reader. */
static int process_http(arq_conn_t *c) {
  const arq_config_t *cfg = c->w->shield->cfg;
  while (c->state == CONN_HTTP && c->in.len && !c->out.close_after_flush && !c->admin.busy) {
    if (http_over_queue(c))
      return 0; /* resumed by flush() once the client reads */
    arq_http_request_t req;
    int r = arq_http_parse_request((const char *)c->in.buf, c->in.len, MAX_HTTP_HEAD, &req);
    if (r == 0)
      return 0;
    if (r < 0) {
      int status = arq_http_error_status(r);
      char details[160];
      snprintf(details, sizeof details, "%s%s%s", arq_http_error_message(r),
               req.problem ? ": " : "", req.problem ? req.problem : "");
      arq_counter_inc(c->w->shield->m.http_requests);
      arq_http_reply_error(c, status, arq_http_status_reason(status), details);
      return -1;
    }
    size_t body_len;
    int wait = request_body(c, &req, (size_t)r, &body_len);
    if (wait)
      return wait > 0 ? 0 : -1;
    c->http.body_authorized = false;
    arq_counter_inc(c->w->shield->m.http_requests);
    if (++c->http.requests >= (uint32_t)cfg->shield.http_max_requests && req.keep_alive) {
      /* The last request this connection may make: its answer closes it. */
      req.keep_alive = false;
      arq_counter_inc(c->w->shield->m.preauth_refusals[ARQ_PREAUTH_REQUESTS]);
    }
    int rc = arq_http_handle(c, &req, c->in.buf + r, body_len);
    if (c->state == CONN_CLOSED)
      return -1;
    consume_input(c, (size_t)r + body_len);
    if (rc || c->admin.busy)
      return -1; /* closed, or an admin request is in progress: later input waits */
  }
  return 0;
}

void arq_conn_resume(arq_conn_t *c) {
  c->admin.busy = false;
  if (c->state == CONN_HTTP && c->in.len && !process_http(c) && c->state == CONN_WS)
    process_ws(c);
  if (c->state == CONN_HTTP)
    update_interest(c); /* reading stopped while the job ran */
}

static void process_ws(arq_conn_t *c) {
  arq_worker_t *w = c->w;
  size_t off = 0;
  while (off < c->in.len && c->state != CONN_CLOSED) {
    arq_ws_event_t ev;
    size_t used = arq_ws_reader_feed(&c->in.reader, c->in.buf + off, c->in.len - off, &ev);
    off += used;
    switch (ev.type) {
    case ARQ_WS_EV_NONE:
      if (!used)
        off = c->in.len; /* the reader refuses more input after close or error */
      break;
    case ARQ_WS_EV_MESSAGE:
      if (ev.wire_len) {
        arq_counter_add(c->w->shield->m.inflate_in_bytes, ev.wire_len);
        arq_counter_add(c->w->shield->m.inflate_out_bytes, ev.len);
      }
      if (c->state == CONN_WS)
        arq_session_message(c, ev.binary, ev.data, ev.len, arq_now_ns());
      break;
    case ARQ_WS_EV_PING: {
      arq_frame_t *f = arq_frame_new(c->w->frames, ARQ_WS_OP_PONG, ev.data, ev.len);
      arq_conn_send(c, f);
      arq_frame_unref(f);
      break;
    }
    case ARQ_WS_EV_PONG:
      c->ping_outstanding = false;
      break;
    case ARQ_WS_EV_CLOSE:
      if (!c->close_sent) {
        /* Echo the peer's code (1000 when it sent none) and close after it is written. */
        uint16_t code = ev.close_code == 1005 ? 1000 : ev.close_code;
        arq_conn_close(c, code, "");
      }
      c->out.close_after_flush = true;
      if (c->state != CONN_CLOSED && !c->out.count)
        arq_conn_abort(c);
      off = c->in.len;
      break;
    case ARQ_WS_EV_ERROR:
      arq_counter_inc(c->w->shield->m.protocol_errors);
      ARQ_LOG(ARQ_LOG_INFO, "shield", "protocol error", {"conn", c->conn_id}, {"error", ev.error});
      arq_conn_close(c, ev.close_code, ev.error);
      off = c->in.len;
      break;
    }
  }
  if (c->state != CONN_CLOSED)
    consume_input(c, off > c->in.len ? c->in.len : off);
  arq_worker_watch_inflater(w); /* a compressed message may have grown the worker's buffer */
}

static void process_input(arq_conn_t *c) {
  if (c->state == CONN_HTTP && process_http(c))
    return;
  if ((c->state == CONN_WS || c->state == CONN_CLOSING) && c->in.len)
    process_ws(c);
}

/* Where the next read goes: the worker's shared buffer when the connection holds no
 * partial input (the usual case), otherwise the end of its own buffer. */
static uint8_t *read_target(arq_conn_t *c, size_t *room) {
  if (!c->in.len) {
    *room = c->w->read_buf_cap;
    return c->w->read_buf;
  }
  if (c->in.cap - c->in.len < READ_CHUNK / 4) {
    size_t cap = c->in.cap * 2 > c->in.len + READ_CHUNK ? c->in.cap * 2 : c->in.len + READ_CHUNK;
    uint8_t *p = realloc(c->in.buf, cap);
    if (!p)
      arq_oom("read buffer");
    c->in.buf = p;
    c->in.cap = cap;
  }
  *room = c->in.cap - c->in.len;
  return c->in.buf + c->in.len;
}

/* After processing bytes read into the worker's buffer: what is left (a partial frame or
 * head) moves into memory of the connection's own, sized to it. */
static void keep_leftover(arq_conn_t *c, const uint8_t *data, size_t len) {
  c->in.buf = NULL;
  c->in.cap = 0;
  c->in.len = 0;
  if (!len || c->state == CONN_CLOSED)
    return;
  c->in.cap = len + READ_CHUNK / 4;
  c->in.buf = malloc(c->in.cap);
  if (!c->in.buf)
    arq_oom("read buffer");
  memcpy(c->in.buf, data, len);
  c->in.len = len;
}

/* Before the upgrade a connection may send handshake_max_bytes, plus the admin bodies its
 * token allowed. Returns false (and refuses it) past that. */
static bool within_http_budget(arq_conn_t *c, size_t n) {
  const arq_config_t *cfg = c->w->shield->cfg;
  c->http.bytes += n;
  if (c->http.bytes <= (size_t)cfg->shield.handshake_max_bytes + c->http.allowance)
    return true;
  refuse_preauth(c, ARQ_PREAUTH_BYTES, 429, "too many bytes before the upgrade (shield.handshake_max_bytes)");
  return false;
}

static void on_readable(arq_conn_t *c) {
  const arq_config_t *cfg = c->w->shield->cfg;
  /* Input kept from before (requests that waited for the client to read our answers, or
   * for an admin job) goes first: it may complete without reading anything. */
  if (c->state == CONN_HTTP && c->in.len) {
    process_input(c);
    if (c->state == CONN_CLOSED)
      return;
  }
  for (int i = 0; i < READS_PER_EVENT && c->state != CONN_CLOSED; i++) {
    if (c->state == CONN_HTTP && (http_over_queue(c) || c->admin.busy || c->out.close_after_flush)) {
      /* Nothing is read while nothing more would be answered. Without read interest we
       * are only called for an error or hang-up: see whether the peer is gone. */
      char probe;
      ssize_t got = recv(c->io.fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        arq_conn_abort(c);
        return;
      }
      update_interest(c);
      return;
    }
    size_t limit = c->state == CONN_HTTP
                       ? MAX_HTTP_HEAD + (c->http.body_authorized ? (size_t)cfg->shield.admin_max_body_bytes : 0) + 1
                       : READ_CHUNK * 4;
    if (c->in.len >= limit) {
      if (c->state == CONN_HTTP) { /* more than a head (and an allowed body): never complete */
        arq_http_reply_error(c, 431, "Request Header Fields Too Large", "request head too large");
        return;
      }
      break;
    }
    size_t room;
    uint8_t *dst = read_target(c, &room);
    bool shared = dst == c->w->read_buf;
    ssize_t n = transport_read(c, dst, room);
    if (n == 0 || n == IO_FAILED) {
      arq_conn_abort(c);
      return;
    }
    if (n == IO_AGAIN) {
      update_interest(c);
      break;
    }
    c->last_seen_ms = arq_loop_now_ms(c->w->loop);
    c->ping_outstanding = false;
    if (c->state == CONN_HTTP && !within_http_budget(c, (size_t)n)) {
      if (shared)
        c->in.len = 0;
      return;
    }
    if (shared) { /* process in place; only a remainder is copied */
      c->in.buf = dst;
      c->in.cap = room;
      c->in.len = (size_t)n;
      process_input(c);
      keep_leftover(c, c->in.buf, c->in.len);
    } else {
      c->in.len += (size_t)n;
      process_input(c);
    }
    if ((size_t)n < room && !(c->tls && arq_tls_pending(c->tls)))
      break; /* the socket is drained */
  }
  /* Bytes OpenSSL decrypted but we did not take yet are invisible to epoll. */
  if (c->state != CONN_CLOSED && c->tls && arq_tls_pending(c->tls) && !c->reread_queued) {
    c->reread_queued = true;
    arq_loop_defer(c->w->loop, &c->reread_task);
  }
  /* An idle WebSocket connection keeps no buffers of its own. */
  if (c->state == CONN_WS && c->in.len == 0 && c->in.buf) {
    free(c->in.buf);
    c->in.buf = NULL;
    c->in.cap = 0;
  }
}

static void on_io(arq_loop_t *loop, arq_io_t *io, uint32_t events) {
  arq_conn_t *c = io->data;
  if (c->state == CONN_CLOSED)
    return;
  if (c->http.lingering) {
    drop_input(c);
    return;
  }
  if (events & ARQ_IO_WRITE && flush(c))
    return;
  if (events & ARQ_IO_READ || (events & ARQ_IO_WRITE && c->tls_read_wants_write))
    on_readable(c);
}

void arq_conn_start_ws(arq_conn_t *c) {
  const arq_config_t *cfg = c->w->shield->cfg;
  stop_counting_pending(c);
  arq_ws_reader_init(&c->in.reader, (size_t)cfg->shield.max_message_bytes, true);
  if (c->deflate)
    arq_ws_reader_set_inflater(&c->in.reader, c->w->inflater);
  c->in.reader_ready = true;
  c->state = CONN_WS;
  arq_timer_start(c->w->loop, &c->timer, (uint64_t)cfg->shield.ping_interval_s * 1000u);
}

static void on_timer(arq_loop_t *loop, arq_timer_t *t) {
  arq_conn_t *c = t->data;
  const arq_config_t *cfg = c->w->shield->cfg;
  uint64_t now = arq_loop_now_ms(loop);
  switch (c->state) {
  case CONN_HTTP: /* handshake or keep-alive timeout */
    arq_counter_inc(c->w->shield->m.preauth_refusals[ARQ_PREAUTH_TIMEOUT]);
    arq_conn_abort(c);
    return;
  case CONN_CLOSING: /* the peer never answered our close */
    arq_conn_abort(c);
    return;
  case CONN_CLOSED:
    return;
  case CONN_WS:
    break;
  }
  uint64_t idle = now - c->last_seen_ms;
  if (idle >= (uint64_t)cfg->shield.idle_timeout_s * 1000u) {
    arq_conn_close(c, 1001, "idle timeout");
    return;
  }
  /* Quiet for a ping interval: give the message buffer back until the next message. */
  if (idle >= (uint64_t)cfg->shield.ping_interval_s * 1000u)
    arq_ws_reader_trim(&c->in.reader);
  if (!c->ping_outstanding) {
    arq_frame_t *f = arq_frame_new(c->w->frames, ARQ_WS_OP_PING, NULL, 0);
    c->ping_outstanding = true;
    arq_conn_send(c, f);
    arq_frame_unref(f);
    if (c->state != CONN_WS)
      return;
  }
  arq_timer_start(loop, &c->timer, (uint64_t)cfg->shield.ping_interval_s * 1000u);
}

void arq_conn_job_done(arq_conn_t *c) {
  if (--c->admin.pending_jobs == 0 && c->admin.free_when_done) {
    c->admin.free_when_done = false;
    free_conn(c->w->loop, &c->free_task);
  }
}
