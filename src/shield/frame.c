#include "shield/frame.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "net/ws.h"

#define MIN_CLASS_SHIFT 8  /* 256 bytes */
#define NUM_CLASSES 9      /* 256 .. 64 KiB */
#define MAX_IDLE_PER_CLASS 512
#define UNPOOLED 0xff

struct arq_frame_pool {
  arq_frame_t *idle[NUM_CLASSES]; /* owner thread only */
  size_t nidle[NUM_CLASSES];
  _Atomic(arq_frame_t *) returned; /* pushed by any thread */
};

arq_frame_pool_t *arq_frame_pool_new(void) {
  arq_frame_pool_t *p = calloc(1, sizeof *p);
  if (!p)
    arq_oom("frame pool");
  return p;
}

static void free_list(arq_frame_t *f) {
  while (f) {
    arq_frame_t *next = f->next;
    free(f);
    f = next;
  }
}

void arq_frame_pool_free(arq_frame_pool_t *p) {
  if (!p)
    return;
  for (int i = 0; i < NUM_CLASSES; i++)
    free_list(p->idle[i]);
  free_list(atomic_exchange(&p->returned, NULL));
  free(p);
}

/* The class whose block (struct + data) holds `bytes`, or UNPOOLED. */
static uint8_t class_of(size_t bytes) {
  size_t total = sizeof(arq_frame_t) + bytes;
  for (uint8_t c = 0; c < NUM_CLASSES; c++)
    if (total <= (size_t)1 << (MIN_CLASS_SHIFT + c))
      return c;
  return UNPOOLED;
}

/* Moves returned frames to the idle lists, freeing those beyond the bound. */
static void reclaim(arq_frame_pool_t *p) {
  arq_frame_t *f = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);
  while (f) {
    arq_frame_t *next = f->next;
    uint8_t c = f->size_class;
    if (p->nidle[c] < MAX_IDLE_PER_CLASS) {
      f->next = p->idle[c];
      p->idle[c] = f;
      p->nidle[c]++;
    } else {
      free(f);
    }
    f = next;
  }
}

static arq_frame_t *take(arq_frame_pool_t *p, size_t bytes) {
  uint8_t c = class_of(bytes);
  arq_frame_t *f = NULL;
  if (p && c != UNPOOLED) {
    if (!p->idle[c])
      reclaim(p);
    f = p->idle[c];
    if (f) {
      p->idle[c] = f->next;
      p->nidle[c]--;
    }
  }
  if (!f) {
    size_t block = c == UNPOOLED ? sizeof *f + bytes : (size_t)1 << (MIN_CLASS_SHIFT + c);
    f = malloc(block);
    if (!f)
      arq_oom("frame");
  }
  atomic_init(&f->refs, 1);
  f->pool = c == UNPOOLED ? NULL : p;
  f->size_class = c;
  f->next = NULL;
  f->len = bytes;
  return f;
}

arq_frame_t *arq_frame_alloc_extra(arq_frame_pool_t *pool, uint8_t opcode, size_t payload_len,
                                   size_t extra, void **extra_out) {
  uint8_t header[14];
  size_t hlen = arq_ws_frame_header(header, opcode, true, payload_len, NULL);
  size_t align = sizeof(max_align_t);
  size_t frame_bytes = (hlen + payload_len + align - 1) / align * align;
  /* data[] starts max_align_t-aligned after the header of the struct only if the struct's
   * size is a multiple of it; the offset below keeps `extra` aligned either way. */
  size_t pad = (align - (offsetof(arq_frame_t, data) + frame_bytes) % align) % align;
  arq_frame_t *f = take(pool, frame_bytes + pad + extra);
  memcpy(f->data, header, hlen);
  f->len = hlen + payload_len;
  if (extra_out)
    *extra_out = f->data + frame_bytes + pad;
  return f;
}

arq_frame_t *arq_frame_alloc(arq_frame_pool_t *pool, uint8_t opcode, size_t payload_len) {
  return arq_frame_alloc_extra(pool, opcode, payload_len, 0, NULL);
}

uint8_t *arq_frame_payload(arq_frame_t *f) {
  /* The header length follows from the second byte's 7-bit length. */
  uint8_t l7 = f->data[1] & 0x7f;
  return f->data + (l7 < 126 ? 2 : l7 == 126 ? 4 : 10);
}

arq_frame_t *arq_frame_new(arq_frame_pool_t *pool, uint8_t opcode, const void *payload, size_t len) {
  arq_frame_t *f = arq_frame_alloc(pool, opcode, len);
  if (len)
    memcpy(arq_frame_payload(f), payload, len);
  return f;
}

arq_frame_t *arq_frame_raw(arq_frame_pool_t *pool, const void *data, size_t len) {
  arq_frame_t *f = take(pool, len);
  memcpy(f->data, data, len);
  return f;
}

void arq_frame_unref(arq_frame_t *f) {
  int before = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
  if (before > 1)
    return;
  if (before <= 0) {
    fprintf(stderr, "fatal: frame reference count below zero\n");
    abort();
  }
  arq_frame_pool_t *p = f->pool;
  if (!p) {
    free(f);
    return;
  }
  arq_frame_t *head = atomic_load_explicit(&p->returned, memory_order_relaxed);
  do {
    f->next = head;
  } while (!atomic_compare_exchange_weak_explicit(&p->returned, &head, f, memory_order_release,
                                                  memory_order_relaxed));
}
