#include "shield/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "net/ws.h"

arq_frame_t *arq_frame_alloc(uint8_t opcode, size_t payload_len) {
  uint8_t header[14];
  size_t hlen = arq_ws_frame_header(header, opcode, true, payload_len, NULL);
  arq_frame_t *f = malloc(sizeof *f + hlen + payload_len);
  if (!f)
    arq_oom("frame");
  atomic_init(&f->refs, 1);
  f->len = hlen + payload_len;
  memcpy(f->data, header, hlen);
  return f;
}

uint8_t *arq_frame_payload(arq_frame_t *f) {
  /* The header length follows from the second byte's 7-bit length. */
  uint8_t l7 = f->data[1] & 0x7f;
  return f->data + (l7 < 126 ? 2 : l7 == 126 ? 4 : 10);
}

arq_frame_t *arq_frame_new(uint8_t opcode, const void *payload, size_t len) {
  arq_frame_t *f = arq_frame_alloc(opcode, len);
  if (len)
    memcpy(arq_frame_payload(f), payload, len);
  return f;
}

void arq_frame_unref(arq_frame_t *f) {
  int before = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
  if (before == 1) {
    free(f);
  } else if (before <= 0) {
    fprintf(stderr, "fatal: frame reference count below zero\n");
    abort();
  }
}
