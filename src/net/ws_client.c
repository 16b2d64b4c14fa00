#include "net/ws_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_RESPONSE_HEAD 8192
#define MAX_MESSAGE (16u << 20)
#define READS_PER_WAKEUP 8 /* so that one busy connection cannot starve the others */

static void io_cb(arq_loop_t *loop, arq_io_t *io, uint32_t events);

/* Masks only need to be unpredictable to intermediaries, not secret: a per-process
 * xorshift seeded from getrandom is plenty and costs no system call per frame. */
static uint64_t mask_state;

static void next_mask(uint8_t out[4]) {
  if (!mask_state && (getrandom(&mask_state, sizeof mask_state, 0) != sizeof mask_state || !mask_state))
    mask_state = 0x9e3779b97f4a7c15ull;
  mask_state ^= mask_state << 13;
  mask_state ^= mask_state >> 7;
  mask_state ^= mask_state << 17;
  memcpy(out, &mask_state, 4);
}

static void base64(const uint8_t *in, size_t n, char *out) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? tab[v & 63] : '=';
  }
  out[o] = '\0';
}

static void fail(arq_ws_client_t *c, const char *why) {
  if (c->state == ARQ_WS_CLIENT_CLOSED)
    return;
  c->state = ARQ_WS_CLIENT_CLOSED;
  arq_io_stop(c->loop, &c->io);
  close(c->io.fd);
  c->io.fd = -1;
  if (c->h->on_close)
    c->h->on_close(c, why);
}

static void flush(arq_ws_client_t *c) {
  while (arq_ws_client_pending(c)) {
    ssize_t n = write(c->io.fd, c->out.data + c->out_off, arq_ws_client_pending(c));
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      break;
    fail(c, n < 0 ? strerror(errno) : "write returned 0");
    return;
  }
  if (!arq_ws_client_pending(c)) {
    arq_buf_reset(&c->out);
    c->out_off = 0;
  }
  uint32_t want = ARQ_IO_READ | (arq_ws_client_pending(c) ? ARQ_IO_WRITE : 0);
  if (c->state != ARQ_WS_CLIENT_CLOSED && c->state != ARQ_WS_CLIENT_CONNECTING)
    arq_io_update(c->loop, &c->io, want);
}

int arq_ws_client_connect(arq_ws_client_t *c, arq_loop_t *loop, const struct sockaddr *addr,
                          socklen_t alen, const struct sockaddr *src, socklen_t slen,
                          const char *host, const char *target, const arq_ws_client_handlers_t *h,
                          void *data, char *err, size_t errcap) {
  memset(c, 0, sizeof *c);
  c->loop = loop;
  c->h = h;
  c->data = data;
  c->io.fd = -1;
  arq_buf_init(&c->out);
  arq_buf_init(&c->hs);
  arq_ws_reader_init(&c->rd, MAX_MESSAGE, false);
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errcap, "socket: %s", strerror(errno));
    return -1;
  }
  /* Browsers disable Nagle too; with it, a small frame behind an unacknowledged one waits
   * for the peer's delayed ACK (40 ms on Linux), which would be measured as latency. */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* A source address of its own gives a client its own range of ephemeral ports (about
   * 28 000 per address pair on Linux); the port is chosen at connect, per destination. */
  if (src && (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) ||
              bind(fd, src, slen))) {
    snprintf(err, errcap, "bind to the source address: %s", strerror(errno));
    close(fd);
    return -1;
  }
  if (connect(fd, addr, alen) && errno != EINPROGRESS) {
    snprintf(err, errcap, "connect: %s", strerror(errno));
    close(fd);
    return -1;
  }
  if (arq_io_start(loop, &c->io, fd, ARQ_IO_WRITE, io_cb, c)) {
    snprintf(err, errcap, "epoll: %s", strerror(errno));
    close(fd);
    return -1;
  }
  uint8_t key[16];
  for (int i = 0; i < 4; i++)
    next_mask(key + 4 * i);
  char key64[25];
  base64(key, sizeof key, key64);
  arq_ws_accept_key(key64, strlen(key64), c->accept);
  arq_buf_printf(&c->out,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 target, host, key64);
  c->state = ARQ_WS_CLIENT_CONNECTING;
  return 0;
}

void arq_ws_client_send(arq_ws_client_t *c, uint8_t opcode, const void *data, size_t len) {
  if (c->state != ARQ_WS_CLIENT_OPEN)
    return;
  uint8_t mask[4], hdr[14];
  next_mask(mask);
  size_t hl = arq_ws_frame_header(hdr, opcode, true, len, mask);
  bool was_empty = !arq_ws_client_pending(c);
  arq_buf_append(&c->out, hdr, hl);
  size_t at = c->out.len;
  arq_buf_append(&c->out, data, len);
  arq_ws_mask((uint8_t *)c->out.data + at, len, mask, 0);
  if (was_empty) /* otherwise EPOLLOUT is armed and will flush in order */
    flush(c);
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *vlen) {
  size_t n = strlen(name);
  if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
    return false;
  const char *v = line + n + 1;
  const char *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *value = v;
  *vlen = (size_t)(end - v);
  return true;
}

/* The 101 response: returns how many bytes of hs it used, 0 if incomplete, -1 on refusal. */
static long check_response(arq_ws_client_t *c) {
  const char *head = c->hs.data;
  const char *end = strstr(head, "\r\n\r\n");
  if (!end)
    return c->hs.len > MAX_RESPONSE_HEAD ? -1 : 0;
  if (strncmp(head, "HTTP/1.1 101", 12)) {
    char why[200];
    const char *eol = strstr(head, "\r\n");
    snprintf(why, sizeof why, "handshake refused: %.*s", (int)(eol - head), head);
    fail(c, why);
    return -1;
  }
  bool accepted = false;
  for (const char *line = strstr(head, "\r\n") + 2; line < end;) {
    const char *eol = strstr(line, "\r\n");
    const char *v;
    size_t vl;
    if (header_is(line, (size_t)(eol - line), "Sec-WebSocket-Accept", &v, &vl))
      accepted = vl == 28 && !memcmp(v, c->accept, 28);
    line = eol + 2;
  }
  if (!accepted) {
    fail(c, "handshake: missing or wrong Sec-WebSocket-Accept");
    return -1;
  }
  return end + 4 - head;
}

static void feed_frames(arq_ws_client_t *c, const uint8_t *p, size_t n) {
  while (n && c->state == ARQ_WS_CLIENT_OPEN) {
    arq_ws_event_t ev;
    size_t used = arq_ws_reader_feed(&c->rd, p, n, &ev);
    p += used;
    n -= used;
    switch (ev.type) {
    case ARQ_WS_EV_MESSAGE:
      c->h->on_message(c, ev.binary, ev.data, ev.len);
      break;
    case ARQ_WS_EV_PING:
      arq_ws_client_send(c, ARQ_WS_OP_PONG, ev.data, ev.len);
      break;
    case ARQ_WS_EV_CLOSE: {
      char why[200];
      snprintf(why, sizeof why, "closed by the server: %u %.*s", ev.close_code, (int)ev.len,
               (const char *)ev.data);
      fail(c, why);
      break;
    }
    case ARQ_WS_EV_ERROR:
      fail(c, ev.error);
      break;
    default:
      break;
    }
  }
}

static void on_readable(arq_ws_client_t *c) {
  static uint8_t buf[65536]; /* one loop thread: a shared read buffer is safe */
  for (int i = 0; i < READS_PER_WAKEUP && c->state != ARQ_WS_CLIENT_CLOSED; i++) {
    ssize_t n = read(c->io.fd, buf, sizeof buf);
    if (n == 0) {
      fail(c, "connection closed by the server");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        return;
      fail(c, strerror(errno));
      return;
    }
    const uint8_t *p = buf;
    size_t len = (size_t)n;
    if (c->state == ARQ_WS_CLIENT_HANDSHAKE) {
      size_t before = c->hs.len;
      arq_buf_append(&c->hs, p, len);
      long used = check_response(c);
      if (used <= 0) {
        if (used < 0)
          fail(c, "handshake: response head too long");
        continue;
      }
      p += (size_t)used - before;
      len -= (size_t)used - before;
      arq_buf_free(&c->hs);
      c->state = ARQ_WS_CLIENT_OPEN;
      if (c->h->on_open)
        c->h->on_open(c);
    }
    feed_frames(c, p, len);
    if ((size_t)n < sizeof buf)
      return;
  }
}

static void io_cb(arq_loop_t *loop, arq_io_t *io, uint32_t events) {
  (void)loop;
  arq_ws_client_t *c = io->data;
  if (c->state == ARQ_WS_CLIENT_CONNECTING) {
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
      fail(c, soerr ? strerror(soerr) : "connect failed");
      return;
    }
    c->state = ARQ_WS_CLIENT_HANDSHAKE;
    flush(c);
    return;
  }
  if ((events & ARQ_IO_WRITE) && c->state != ARQ_WS_CLIENT_CLOSED)
    flush(c);
  if ((events & ARQ_IO_READ) && c->state != ARQ_WS_CLIENT_CLOSED)
    on_readable(c);
}

void arq_ws_client_close(arq_ws_client_t *c, uint16_t code, const char *reason) {
  if (c->state == ARQ_WS_CLIENT_CLOSED || c->state == ARQ_WS_CLIENT_IDLE)
    return;
  if (c->state == ARQ_WS_CLIENT_OPEN) {
    uint8_t payload[125];
    size_t n = arq_ws_close_payload(payload, code, reason);
    arq_ws_client_send(c, ARQ_WS_OP_CLOSE, payload, n);
  }
  c->state = ARQ_WS_CLIENT_CLOSED;
  arq_io_stop(c->loop, &c->io);
  close(c->io.fd);
  c->io.fd = -1;
}

void arq_ws_client_free(arq_ws_client_t *c) {
  arq_buf_free(&c->out);
  arq_buf_free(&c->hs);
  arq_ws_reader_free(&c->rd);
}
