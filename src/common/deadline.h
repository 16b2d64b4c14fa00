/*
 * deadline.h — bounded waits on condition variables, on the monotonic clock (a wall-clock
 * step must not stretch or cut a timeout).
 */
#ifndef ARQ_COMMON_DEADLINE_H
#define ARQ_COMMON_DEADLINE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/** A condition variable whose timed waits use CLOCK_MONOTONIC. */
void arq_cond_init_monotonic(pthread_cond_t *cond);
/** The absolute time timeout_ms from now, for pthread_cond_timedwait on such a variable. */
struct timespec arq_deadline_ms(int timeout_ms);
/** Milliseconds on the monotonic clock (for ages and intervals, not dates). */
int64_t arq_monotonic_ms(void);

#endif
