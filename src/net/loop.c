#include "net/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"

#define EVENTS_PER_WAIT 256

struct arq_loop {
  int epfd;
  int wakefd;
  arq_io_t wake_io;
  uint64_t now_ms;
  atomic_bool stopping;
  /* timers */
  arq_timer_t **heap;
  size_t heap_len, heap_cap;
  /* tasks posted from other threads: a LIFO stack, reversed when drained */
  _Atomic(arq_task_t *) posted;
  /* tasks deferred to the end of the batch (loop thread only) */
  arq_task_t *deferred_head, *deferred_tail;
};

static uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t arq_loop_now_ms(const arq_loop_t *loop) { return loop->now_ms; }

void arq_loop_update_time(arq_loop_t *loop) { loop->now_ms = monotonic_ms(); }

/* ---- timers: a binary min-heap on due_ms ---- */

static void heap_swap(arq_loop_t *l, size_t a, size_t b) {
  arq_timer_t *t = l->heap[a];
  l->heap[a] = l->heap[b];
  l->heap[b] = t;
  l->heap[a]->heap_index = a;
  l->heap[b]->heap_index = b;
}

static void heap_up(arq_loop_t *l, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (l->heap[parent]->due_ms <= l->heap[i]->due_ms)
      break;
    heap_swap(l, i, parent);
    i = parent;
  }
}

static void heap_down(arq_loop_t *l, size_t i) {
  for (;;) {
    size_t left = 2 * i + 1, right = left + 1, min = i;
    if (left < l->heap_len && l->heap[left]->due_ms < l->heap[min]->due_ms)
      min = left;
    if (right < l->heap_len && l->heap[right]->due_ms < l->heap[min]->due_ms)
      min = right;
    if (min == i)
      return;
    heap_swap(l, i, min);
    i = min;
  }
}

void arq_timer_init(arq_timer_t *t, arq_timer_cb cb, void *data) {
  t->due_ms = 0;
  t->heap_index = SIZE_MAX;
  t->cb = cb;
  t->data = data;
}

void arq_timer_stop(arq_loop_t *l, arq_timer_t *t) {
  size_t i = t->heap_index;
  if (i == SIZE_MAX)
    return;
  t->heap_index = SIZE_MAX;
  l->heap_len--;
  if (i == l->heap_len)
    return;
  l->heap[i] = l->heap[l->heap_len];
  l->heap[i]->heap_index = i;
  heap_down(l, i);
  heap_up(l, i);
}

void arq_timer_start(arq_loop_t *l, arq_timer_t *t, uint64_t delay_ms) {
  arq_timer_stop(l, t);
  if (l->heap_len == l->heap_cap) {
    size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
    arq_timer_t **h = realloc(l->heap, cap * sizeof *h);
    if (!h)
      arq_oom("timer heap");
    l->heap = h;
    l->heap_cap = cap;
  }
  t->due_ms = l->now_ms + delay_ms;
  t->heap_index = l->heap_len;
  l->heap[l->heap_len++] = t;
  heap_up(l, t->heap_index);
}

static void run_due_timers(arq_loop_t *l) {
  while (l->heap_len && l->heap[0]->due_ms <= l->now_ms) {
    arq_timer_t *t = l->heap[0];
    arq_timer_stop(l, t);
    t->cb(l, t);
  }
}

static int next_timeout_ms(const arq_loop_t *l) {
  if (atomic_load_explicit(&l->posted, memory_order_acquire) || l->deferred_head)
    return 0;
  if (!l->heap_len)
    return -1;
  uint64_t due = l->heap[0]->due_ms;
  if (due <= l->now_ms)
    return 0;
  uint64_t wait = due - l->now_ms;
  return wait > 60000 ? 60000 : (int)wait;
}

/* ---- tasks ---- */

void arq_loop_post(arq_loop_t *l, arq_task_t *task) {
  arq_task_t *head = atomic_load_explicit(&l->posted, memory_order_relaxed);
  do {
    task->_next = head;
  } while (!atomic_compare_exchange_weak_explicit(&l->posted, &head, task, memory_order_release,
                                                  memory_order_relaxed));
  if (!head) {
    uint64_t one = 1;
    /* A full counter still wakes the loop; nothing to do on EAGAIN. */
    ssize_t n = write(l->wakefd, &one, sizeof one);
    (void)n;
  }
}

void arq_loop_defer(arq_loop_t *l, arq_task_t *task) {
  task->_next = NULL;
  if (l->deferred_tail)
    l->deferred_tail->_next = task;
  else
    l->deferred_head = task;
  l->deferred_tail = task;
}

static void run_posted(arq_loop_t *l) {
  arq_task_t *stack = atomic_exchange_explicit(&l->posted, NULL, memory_order_acquire);
  arq_task_t *fifo = NULL;
  while (stack) { /* reverse into posting order */
    arq_task_t *next = stack->_next;
    stack->_next = fifo;
    fifo = stack;
    stack = next;
  }
  while (fifo) {
    arq_task_t *next = fifo->_next;
    fifo->cb(l, fifo);
    fifo = next;
  }
}

static void run_deferred(arq_loop_t *l) {
  while (l->deferred_head) {
    arq_task_t *t = l->deferred_head;
    l->deferred_head = t->_next;
    if (!l->deferred_head)
      l->deferred_tail = NULL;
    t->cb(l, t);
  }
}

static void on_wake(arq_loop_t *l, arq_io_t *io, uint32_t events) {
  uint64_t n;
  ssize_t r = read(l->wakefd, &n, sizeof n);
  (void)r;
}

/* ---- io ---- */

int arq_io_start(arq_loop_t *l, arq_io_t *io, int fd, uint32_t events, arq_io_cb cb, void *data) {
  io->fd = fd;
  io->events = events;
  io->cb = cb;
  io->data = data;
  struct epoll_event ev = {.events = events, .data.ptr = io};
  return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int arq_io_update(arq_loop_t *l, arq_io_t *io, uint32_t events) {
  if (io->events == events)
    return 0;
  io->events = events;
  struct epoll_event ev = {.events = events, .data.ptr = io};
  return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void arq_io_stop(arq_loop_t *l, arq_io_t *io) {
  if (io->fd >= 0)
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
  io->events = 0;
}

/* ---- the loop ---- */

arq_loop_t *arq_loop_new(void) {
  arq_loop_t *l = calloc(1, sizeof *l);
  if (!l)
    return NULL;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->epfd < 0 || l->wakefd < 0 ||
      arq_io_start(l, &l->wake_io, l->wakefd, ARQ_IO_READ, on_wake, NULL)) {
    int e = errno;
    arq_loop_free(l);
    errno = e;
    return NULL;
  }
  l->now_ms = monotonic_ms();
  return l;
}

void arq_loop_free(arq_loop_t *l) {
  if (!l)
    return;
  if (l->epfd >= 0)
    close(l->epfd);
  if (l->wakefd >= 0)
    close(l->wakefd);
  free(l->heap);
  free(l);
}

void arq_loop_stop(arq_loop_t *l) {
  atomic_store(&l->stopping, true);
  uint64_t one = 1;
  ssize_t n = write(l->wakefd, &one, sizeof one);
  (void)n;
}

void arq_loop_run_pending(arq_loop_t *l) {
  run_deferred(l);
  while (atomic_load(&l->posted)) {
    run_posted(l);
    run_deferred(l);
  }
}

int arq_loop_run(arq_loop_t *l) {
  struct epoll_event events[EVENTS_PER_WAIT];
  atomic_store(&l->stopping, false);
  while (!atomic_load_explicit(&l->stopping, memory_order_relaxed)) {
    int n = epoll_wait(l->epfd, events, EVENTS_PER_WAIT, next_timeout_ms(l));
    if (n < 0 && errno != EINTR)
      return -1;
    l->now_ms = monotonic_ms();
    for (int i = 0; i < n; i++) {
      arq_io_t *io = events[i].data.ptr;
      uint32_t e = events[i].events;
      if (e & (EPOLLERR | EPOLLHUP))
        e |= ARQ_IO_READ; /* the read path sees the error or EOF */
      io->cb(l, io, e & (ARQ_IO_READ | ARQ_IO_WRITE));
    }
    run_deferred(l);
    run_posted(l);
    run_due_timers(l);
    run_deferred(l);
  }
  return 0;
}
