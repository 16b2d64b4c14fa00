/*
 * bench_ws.h — the former name of the WebSocket client, now net/ws_client.h. Kept only for
 * cmd_pubsub.c, which is being changed apart: remove this header once it includes
 * net/ws_client.h and uses the arq_ws_client_* names.
 */
#ifndef ARQ_CLI_BENCH_WS_H
#define ARQ_CLI_BENCH_WS_H

#include "net/ws_client.h"

typedef arq_ws_client_t arq_bws_t;
typedef arq_ws_client_handlers_t arq_bws_handlers_t;
#define ARQ_BWS_OPEN ARQ_WS_CLIENT_OPEN
#define arq_bws_connect arq_ws_client_connect
#define arq_bws_send arq_ws_client_send
#define arq_bws_free arq_ws_client_free
/* what the client sent before the close code and reason became arguments */
#define arq_bws_close(c) arq_ws_client_close((c), 1000, "bench done")

#endif
