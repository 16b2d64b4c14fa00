/*
 * flusher.h — writes what a NATS connection has buffered as soon as it is asked to.
 *
 * DESIGN
 *   nats.c either writes every publish at once (SendAsap: a system call per message) or
 *   lets its flusher thread write the buffer about a millisecond after the first publish
 *   (natsCondition_TimedWait(..., 1) in conn.c), a millisecond on every message's way.
 *   The sequencer publishes in batches: it buffers a batch and kicks this thread, which
 *   writes the buffer at once with natsConnection_FlushTimeout (whose PING is written in
 *   place, with everything before it) and waits for the PONG. Kicks that come meanwhile
 *   are served by one more flush: under load, one write per round trip to the server.
 */
#ifndef ARQ_BRAIN_FLUSHER_H
#define ARQ_BRAIN_FLUSHER_H

#include <nats/nats.h>

typedef struct arq_flusher arq_flusher_t;

arq_flusher_t *arq_flusher_start(natsConnection *nc);
/** Asks for a flush of what is buffered now (cheap; never waits for the write). */
void arq_flusher_kick(arq_flusher_t *f);
/** Stops the thread (waits for a flush in progress, at most FLUSH_WAIT_MS) and frees it. */
void arq_flusher_stop(arq_flusher_t *f);

#endif
