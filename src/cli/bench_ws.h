/*
 * bench_ws.h — one client WebSocket connection of the load generator, driven by an
 * arq_loop: non-blocking connect, the opening handshake (Sec-WebSocket-Accept checked),
 * masked frames out, and the project's own frame reader in client mode.
 *
 * DESIGN
 *   Connections live in an array owned by the caller and are never freed while the loop
 *   runs, so a callback may close the connection it is called for: every path re-checks
 *   the state after calling out. Writes go straight to the socket; only what the kernel
 *   does not take is queued, and the queue's size is visible so the caller can hold back.
 */
#ifndef ARQ_CLI_BENCH_WS_H
#define ARQ_CLI_BENCH_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "net/loop.h"
#include "net/ws.h"

typedef struct arq_bws arq_bws_t;

typedef struct {
  void (*on_open)(arq_bws_t *c);
  void (*on_message)(arq_bws_t *c, bool binary, const uint8_t *data, size_t len);
  /** The connection failed or ended; it is closed when this returns. */
  void (*on_close)(arq_bws_t *c, const char *why);
} arq_bws_handlers_t;

typedef enum { ARQ_BWS_IDLE, ARQ_BWS_CONNECTING, ARQ_BWS_HANDSHAKE, ARQ_BWS_OPEN,
               ARQ_BWS_CLOSED } arq_bws_state_t;

struct arq_bws {
  arq_io_t io;
  arq_loop_t *loop;
  const arq_bws_handlers_t *h;
  void *data;
  arq_bws_state_t state;
  arq_buf_t out; /* bytes the kernel has not taken yet, from out_off */
  size_t out_off;
  arq_buf_t hs;  /* the handshake response while it arrives */
  char accept[29];
  arq_ws_reader_t rd;
};

/** Starts connecting to addr (from src when not NULL: a local address, port 0) and sends
 *  "GET <target>" with Host: host once connected.
 *  0, or -1 with a message in err (on_close is not called then). */
int arq_bws_connect(arq_bws_t *c, arq_loop_t *loop, const struct sockaddr *addr, socklen_t alen,
                    const struct sockaddr *src, socklen_t slen, const char *host,
                    const char *target, const arq_bws_handlers_t *h, void *data, char *err,
                    size_t errcap);
/** Sends one whole message (opcode TEXT or BINARY, or a control frame). */
void arq_bws_send(arq_bws_t *c, uint8_t opcode, const void *data, size_t len);
/** Bytes waiting for the socket. */
static inline size_t arq_bws_pending(const arq_bws_t *c) { return c->out.len - c->out_off; }
/** Sends a close frame (best effort) and closes the socket, without calling on_close. */
void arq_bws_close(arq_bws_t *c);
/** Frees the buffers of a closed or never-opened connection. */
void arq_bws_free(arq_bws_t *c);

#endif
