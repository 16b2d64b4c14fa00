/*
 * natsproto.h — the client side of the NATS text protocol, as far as `arq bench`
 * speaks it over nats-server's WebSocket listener: INFO, PING, PONG, +OK, -ERR and MSG in,
 * CONNECT, SUB, PUB, PING, PONG out.
 *
 * DESIGN
 *   A WebSocket message from nats-server holds any slice of the protocol stream (several
 *   operations, or part of one), so the parser buffers bytes and emits whole operations; a
 *   MSG waits until its announced payload and CRLF have arrived.
 */
#ifndef ARQ_LOADGEN_NATSPROTO_H
#define ARQ_LOADGEN_NATSPROTO_H

#include <stddef.h>

#include "common/buf.h"

typedef enum { ARQ_NATS_OP_INFO, ARQ_NATS_OP_PING, ARQ_NATS_OP_PONG, ARQ_NATS_OP_OK,
               ARQ_NATS_OP_ERR, ARQ_NATS_OP_MSG } arq_nats_op_t;

typedef struct {
  arq_nats_op_t op;
  const char *subject; /* MSG */
  size_t subject_len;
  const char *arg;     /* INFO: the JSON, -ERR: the message (not NUL-terminated) */
  size_t arg_len;
  const unsigned char *payload; /* MSG */
  size_t payload_len;
} arq_nats_msg_t;

typedef void (*arq_nats_cb)(void *ud, const arq_nats_msg_t *m);

typedef struct {
  arq_buf_t buf;
  size_t off; /* bytes of buf already parsed */
} arq_nats_parser_t;

void arq_nats_parser_init(arq_nats_parser_t *p);
void arq_nats_parser_free(arq_nats_parser_t *p);
/** Feeds bytes; calls cb for every complete operation. 0, or -1 on a protocol violation
 *  (an unknown operation, a malformed MSG, an operation line longer than 64 KiB). */
int arq_nats_parser_feed(arq_nats_parser_t *p, const void *data, size_t len, arq_nats_cb cb,
                         void *ud);

#endif
