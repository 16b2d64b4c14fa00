/*
 * worker.h — the Shield's threads and clocks (worker.c).
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_WORKER_H
#define ARQ_SHIELD_WORKER_H

#include "shield/shield.h"

int arq_shield_run(arq_shield_t *s);
/** A worker's inflater keeps a buffer of at most this many bytes while idle. */
#define ARQ_INFLATE_KEEP_BYTES (64 * 1024)
/** After WebSocket input was read (a compressed message, inflated or refused, may have
 *  grown the worker's inflater): when its buffer is past ARQ_INFLATE_KEEP_BYTES, arms a
 *  timer that gives it back a second or two after the last message that needed it
 *  (arq_ws_inflater_trim). Costs a comparison otherwise. On w's thread. */
void arq_worker_watch_inflater(arq_worker_t *w);
uint64_t arq_now_ns(void);
int64_t arq_wall_ms(void);

#endif
