/*
 * frame.h — an encoded WebSocket frame shared by every connection it is sent to.
 *
 * DESIGN
 *   Fan-out encodes a message once per encoding (binary, JSON) and queues the same frame
 *   on every recipient; each queue entry holds a reference. The count is atomic because
 *   a frame built on a NATS thread is sent by several workers. Dropping the last reference
 *   frees it; dropping below zero is a bug and aborts (as redis' decrRefCount does).
 */
#ifndef ARQ_SHIELD_FRAME_H
#define ARQ_SHIELD_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  atomic_int refs;
  size_t len;
  uint8_t data[]; /* WebSocket header + payload */
} arq_frame_t;

/** A server frame (FIN set, unmasked) with one reference held by the caller. */
arq_frame_t *arq_frame_new(uint8_t opcode, const void *payload, size_t len);
/** Same, payload written by the caller into arq_frame_payload() afterwards. */
arq_frame_t *arq_frame_alloc(uint8_t opcode, size_t payload_len);
uint8_t *arq_frame_payload(arq_frame_t *f);

static inline arq_frame_t *arq_frame_ref(arq_frame_t *f) {
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}
void arq_frame_unref(arq_frame_t *f);

#endif
