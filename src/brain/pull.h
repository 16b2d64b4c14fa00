/*
 * pull.h — a JetStream pull consumer that never holds more than it was given room for.
 *
 * DESIGN
 *   The Brain reads ARQON_INGRESS through ephemeral pull consumers (no acknowledgements:
 *   its checkpoints in Redis say what is done). Messages land in a ring of fixed capacity
 *   (messages and bytes), and a pull request only ever asks the server for what the ring
 *   has room for, with one request outstanding at a time: a consumer that falls behind
 *   simply asks for less, and the backlog waits in the stream, on disk, where it costs
 *   nothing. Nothing is dropped at the bound, so there is nothing to replay (the earlier
 *   design pushed into a bounded queue and replayed on overflow, which livelocked).
 *
 *   Order. The consumer delivers in stream order; the consumer sequence in each message's
 *   reply subject must grow by one. A gap, a deleted consumer, a refused request or a
 *   request that hears nothing, not even the idle heartbeat it asked for (lost with a
 *   server that died), marks the consumer broken: its owner restarts it from its own
 *   checkpoint (arq_pull_start).
 *
 *   Threads. nats.c delivers on its own thread into the ring (under the mutex); the owner
 *   takes messages with arq_pull_next, which also sends the next request when there is room.
 */
#ifndef ARQ_BRAIN_PULL_H
#define ARQ_BRAIN_PULL_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arq_pull arq_pull_t;

typedef struct {
  uint64_t stream_seq; /* the message's sequence in the stream */
  uint64_t pending;    /* messages after it that match the filter, per the server */
  int64_t stored_ns;   /* when the stream stored it (UNIX ns) */
} arq_pull_meta_t;

/** A reader of the whole of `stream` (no filter: a filtered consumer reads stored messages
 *  very slowly on nats-server 2.9), holding at most `capacity` messages and `max_bytes`
 *  bytes. `inbox_prefix` names its reply subjects (`<prefix>.<generation>`).
 *  `wake`, when set, is called (on nats.c's thread) after a message or status arrives.
 *  Creating and deleting the consumer wait at most `api_wait_ms` for JetStream. */
arq_pull_t *arq_pull_new(natsConnection *nc, jsCtx *js, const char *stream,
                         const char *inbox_prefix, size_t capacity, size_t max_bytes,
                         int api_wait_ms, void (*wake)(void *), void *wake_arg);
/** (Re)creates the consumer to deliver from stream sequence `start_seq` (1 = the first).
 *  Anything buffered from the previous consumer is dropped. 0, or -1 (logged). */
int arq_pull_start(arq_pull_t *p, uint64_t start_seq);
/** Deletes the consumer and drops what it buffered. */
void arq_pull_stop(arq_pull_t *p);
/** The next message in stream order (caller owns it), waiting up to `timeout_ms`; NULL
 *  when none came or the consumer is stopped or broken. */
natsMsg *arq_pull_next(arq_pull_t *p, int timeout_ms, arq_pull_meta_t *meta);
/** Whether the consumer must be restarted (gap, consumer gone, request refused). */
bool arq_pull_broken(arq_pull_t *p);
/** Whether a consumer is running (started and not stopped). */
bool arq_pull_running(const arq_pull_t *p);
void arq_pull_free(arq_pull_t *p);

#endif
