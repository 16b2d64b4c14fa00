/*
 * loop.h — one event loop per worker thread: epoll readiness, timers, and tasks posted
 * from other threads.
 *
 * DESIGN
 *   Handles (arq_io_t, arq_timer_t, arq_task_t) are owned and embedded by the caller, as
 *   in libuv: the loop never allocates per connection or per event. Timers live in a
 *   binary min-heap that grows only when more timers are armed than ever before.
 *
 *   Other threads hand work to a loop with arq_loop_post(): a lock-free multi-producer
 *   stack, drained in posting order by the loop, woken through an eventfd only when the
 *   stack goes from empty to non-empty. This is how NATS callbacks (which run on nats.c's
 *   threads) reach the worker owning a connection.
 *
 *   Nothing may be freed while epoll events of the current batch may still point at it:
 *   arq_loop_defer() runs a task after the batch, which is where connections are freed.
 */
#ifndef ARQ_NET_LOOP_H
#define ARQ_NET_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arq_loop arq_loop_t;

#define ARQ_IO_READ 0x001u  /* EPOLLIN */
#define ARQ_IO_WRITE 0x004u /* EPOLLOUT */

typedef struct arq_io arq_io_t;
/** `events` holds ARQ_IO_READ / ARQ_IO_WRITE, plus error/hang-up reported as READ. */
typedef void (*arq_io_cb)(arq_loop_t *loop, arq_io_t *io, uint32_t events);

struct arq_io {
  int fd;
  uint32_t events;
  arq_io_cb cb;
  void *data;
};

typedef struct arq_timer arq_timer_t;
typedef void (*arq_timer_cb)(arq_loop_t *loop, arq_timer_t *t);

struct arq_timer {
  uint64_t due_ms;
  size_t heap_index; /* SIZE_MAX when not armed */
  arq_timer_cb cb;
  void *data;
};

typedef struct arq_task arq_task_t;
typedef void (*arq_task_cb)(arq_loop_t *loop, arq_task_t *task);

struct arq_task {
  arq_task_t *_next;
  arq_task_cb cb;
  void *data;
};

/** Creates a loop. Returns NULL with errno set on failure. */
arq_loop_t *arq_loop_new(void);
/** Frees the loop; its handles must have been stopped. */
void arq_loop_free(arq_loop_t *loop);

/** Runs until arq_loop_stop(). Returns 0, or -1 if epoll fails. */
int arq_loop_run(arq_loop_t *loop);
/** Runs the posted and deferred tasks that are waiting, without waiting for events: for
 *  shutdown, after the loop stopped, so that nothing handed to it leaks. */
void arq_loop_run_pending(arq_loop_t *loop);
/** Makes arq_loop_run() return after the current iteration. Safe from any thread. */
void arq_loop_stop(arq_loop_t *loop);

/** Milliseconds on the monotonic clock, cached at the start of each iteration. */
uint64_t arq_loop_now_ms(const arq_loop_t *loop);
/** Refreshes the cached time (after long work inside a callback). */
void arq_loop_update_time(arq_loop_t *loop);

/** Watches fd for `events`. Returns 0, or -1 with errno. */
int arq_io_start(arq_loop_t *loop, arq_io_t *io, int fd, uint32_t events, arq_io_cb cb, void *data);
/** Changes the watched events (no-op when unchanged). */
int arq_io_update(arq_loop_t *loop, arq_io_t *io, uint32_t events);
/** Stops watching (the fd stays open). */
void arq_io_stop(arq_loop_t *loop, arq_io_t *io);

void arq_timer_init(arq_timer_t *t, arq_timer_cb cb, void *data);
/** Arms (or re-arms) the timer to fire once after `delay_ms`. */
void arq_timer_start(arq_loop_t *loop, arq_timer_t *t, uint64_t delay_ms);
void arq_timer_stop(arq_loop_t *loop, arq_timer_t *t);
static inline bool arq_timer_active(const arq_timer_t *t) { return t->heap_index != SIZE_MAX; }

/** Runs `task` on the loop's thread, soon. Safe from any thread; the task must stay
 *  valid until its callback runs. */
void arq_loop_post(arq_loop_t *loop, arq_task_t *task);
/** Runs `task` after the current batch of events (on the loop's thread only). */
void arq_loop_defer(arq_loop_t *loop, arq_task_t *task);

#endif
