/*
 * ws_client.h — one client WebSocket connection (RFC 6455) driven by an arq_loop:
 * non-blocking connect, the opening handshake (Sec-WebSocket-Accept checked), masked frames
 * out, and the project's own frame reader in client mode. It knows nothing of what the
 * messages mean; the load generator and `arq pub`/`arq sub` use it.
 *
 * DESIGN
 *   Connections live in an array owned by the caller and are never freed while the loop
 *   runs, so a callback may close the connection it is called for: every path re-checks
 *   the state after calling out. Writes go straight to the socket; only what the kernel
 *   does not take is queued, and the queue's size is visible so the caller can hold back.
 */
#ifndef ARQ_NET_WS_CLIENT_H
#define ARQ_NET_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "net/loop.h"
#include "net/ws.h"

typedef struct arq_ws_client arq_ws_client_t;

typedef struct {
  void (*on_open)(arq_ws_client_t *c);
  void (*on_message)(arq_ws_client_t *c, bool binary, const uint8_t *data, size_t len);
  /** The connection failed or ended; it is closed when this returns. */
  void (*on_close)(arq_ws_client_t *c, const char *why);
} arq_ws_client_handlers_t;

typedef enum { ARQ_WS_CLIENT_IDLE, ARQ_WS_CLIENT_CONNECTING, ARQ_WS_CLIENT_HANDSHAKE,
               ARQ_WS_CLIENT_OPEN, ARQ_WS_CLIENT_CLOSED } arq_ws_client_state_t;

struct arq_ws_client {
  arq_io_t io;
  arq_loop_t *loop;
  const arq_ws_client_handlers_t *h;
  void *data;
  arq_ws_client_state_t state;
  arq_buf_t out; /* bytes the kernel has not taken yet, from out_off */
  size_t out_off;
  arq_buf_t hs;  /* the handshake response while it arrives */
  char accept[29];
  arq_ws_reader_t rd;
};

/** Starts connecting to addr (from src when not NULL: a local address, port 0) and sends
 *  "GET <target>" with Host: host once connected.
 *  0, or -1 with a message in err (on_close is not called then). */
int arq_ws_client_connect(arq_ws_client_t *c, arq_loop_t *loop, const struct sockaddr *addr,
                          socklen_t alen, const struct sockaddr *src, socklen_t slen,
                          const char *host, const char *target, const arq_ws_client_handlers_t *h,
                          void *data, char *err, size_t errcap);
/** Sends one whole message (opcode TEXT or BINARY, or a control frame). */
void arq_ws_client_send(arq_ws_client_t *c, uint8_t opcode, const void *data, size_t len);
/** Bytes waiting for the socket. */
static inline size_t arq_ws_client_pending(const arq_ws_client_t *c) {
  return c->out.len - c->out_off;
}
/** Sends a close frame with code and reason (best effort, when open) and closes the socket,
 *  without calling on_close. */
void arq_ws_client_close(arq_ws_client_t *c, uint16_t code, const char *reason);
/** Frees the buffers of a closed or never-opened connection. */
void arq_ws_client_free(arq_ws_client_t *c);

#endif
