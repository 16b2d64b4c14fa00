/*
 * frame.h — an encoded WebSocket frame (or raw HTTP bytes) shared by every connection it
 * is sent to, and the per-worker pool frames come from.
 *
 * DESIGN
 *   Fan-out encodes a message once per encoding (binary, JSON) and queues the same frame
 *   on every recipient; each queue entry holds a reference. The count is atomic because a
 *   frame built on a NATS thread is sent by several workers. Dropping the last reference
 *   returns a pooled frame to its pool, or frees an unpooled one; dropping below zero is a
 *   bug and aborts (as redis' decrRefCount does).
 *
 *   A pool belongs to one worker: only that thread takes frames from it. Frames may be
 *   released on any thread, so they go back through a lock-free stack the owner drains
 *   when its own lists run dry (a single consumer takes the whole stack at once, so there
 *   is no ABA problem). Sizes are classes of powers of two from 256 bytes to 64 KiB; larger
 *   frames are allocated and freed each time. Each class keeps at most a bounded number of
 *   idle frames, so a burst does not pin memory forever. In steady state a reply costs no
 *   allocation.
 */
#ifndef ARQ_SHIELD_FRAME_H
#define ARQ_SHIELD_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arq_frame_pool arq_frame_pool_t;
typedef struct arq_frame arq_frame_t;

struct arq_frame {
  atomic_int refs;
  arq_frame_pool_t *pool; /* NULL: freed with free() */
  arq_frame_t *next;      /* in a pool's lists */
  uint8_t size_class;
  size_t len;
  uint8_t data[]; /* WebSocket header + payload, or raw bytes */
};

arq_frame_pool_t *arq_frame_pool_new(void);
/** Frees the pool and its idle frames; frames still referenced must not come back later. */
void arq_frame_pool_free(arq_frame_pool_t *pool);

/** A server frame (FIN set, unmasked) with `payload_len` bytes to fill through
 *  arq_frame_payload(); the caller holds one reference. `pool` may be NULL (any thread);
 *  otherwise only its owner thread may call this. */
arq_frame_t *arq_frame_alloc(arq_frame_pool_t *pool, uint8_t opcode, size_t payload_len);
/** Same, plus `extra` bytes of the caller's (aligned, after the frame bytes, never sent)
 *  that live exactly as long as the frame: e.g. the tasks that carry it to workers. */
arq_frame_t *arq_frame_alloc_extra(arq_frame_pool_t *pool, uint8_t opcode, size_t payload_len,
                                   size_t extra, void **extra_out);
/** Same, with the payload copied in. */
arq_frame_t *arq_frame_new(arq_frame_pool_t *pool, uint8_t opcode, const void *payload, size_t len);
/** Raw bytes (an HTTP response): no WebSocket header. */
arq_frame_t *arq_frame_raw(arq_frame_pool_t *pool, const void *data, size_t len);
uint8_t *arq_frame_payload(arq_frame_t *f);

static inline arq_frame_t *arq_frame_ref(arq_frame_t *f) {
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}
void arq_frame_unref(arq_frame_t *f);

#endif
