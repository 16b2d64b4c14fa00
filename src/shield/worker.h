/*
 * worker.h — the Shield's threads and clocks (worker.c).
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_WORKER_H
#define ARQ_SHIELD_WORKER_H

#include "shield/shield.h"

int arq_shield_run(arq_shield_t *s);
uint64_t arq_now_ns(void);
int64_t arq_wall_ms(void);

#endif
