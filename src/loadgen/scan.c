#include "loadgen/scan.h"

#include <string.h>

/* Envelope: id = 7 (string), seq = 8 (varint), event = 21 (message); Event: type = 1,
 * data = 2. */
#define F_ID 7
#define F_SEQ 8
#define F_CMD 20
#define F_EVENT 21
#define F_SIGNAL 22
#define F_TYPE 1
#define F_DATA 2

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p == end)
      return -1;
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

typedef struct {
  uint32_t field;
  const uint8_t *data; /* length-delimited fields only */
  size_t len;
  uint64_t value; /* varint fields only */
  bool varint;
} field_t;

/* The next field; skips the value of every wire type but keeps length-delimited ones. */
static int next_field(const uint8_t **p, const uint8_t *end, field_t *f) {
  uint64_t key, v;
  if (varint(p, end, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
    return -1;
  f->field = (uint32_t)(key >> 3);
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  f->varint = false;
  switch (key & 7) {
  case 0:
    f->varint = true;
    return varint(p, end, &f->value);
  case 1:
    if (end - *p < 8)
      return -1;
    *p += 8;
    return 0;
  case 5:
    if (end - *p < 4)
      return -1;
    *p += 4;
    return 0;
  case 2:
    if (varint(p, end, &v) || v > (uint64_t)(end - *p))
      return -1;
    f->data = *p;
    f->len = (size_t)v;
    *p += v;
    return 0;
  default: /* groups are not used by the schema */
    return -1;
  }
}

int arq_bench_scan_envelope(const uint8_t *p, size_t n, arq_bench_env_t *out) {
  memset(out, 0, sizeof *out);
  const uint8_t *end = p + n;
  while (p < end) {
    field_t f;
    if (next_field(&p, end, &f))
      return -1;
    if (f.field == F_ID && f.data) {
      out->id = f.data;
      out->id_len = f.len;
    } else if (f.field == F_EVENT && f.data) {
      out->has_event = true;
      const uint8_t *q = f.data, *qend = f.data + f.len;
      while (q < qend) {
        field_t g;
        if (next_field(&q, qend, &g))
          return -1;
        if (g.field == F_TYPE && g.data) {
          out->event_type = g.data;
          out->event_type_len = g.len;
        } else if (g.field == F_DATA && g.data) {
          out->event_data = g.data;
          out->event_data_len = g.len;
        }
      }
    } else if ((f.field == F_CMD || f.field == F_SIGNAL) && f.data) {
      out->has_event = false; /* the last member of the oneof wins */
      out->event_type = out->event_data = NULL;
      out->event_type_len = out->event_data_len = 0;
    } else if (f.field == F_SEQ && f.varint) {
      out->seq = f.value;
    } else if (f.field == F_SEQ || ((f.field == F_ID || f.field == F_EVENT) && !f.data)) {
      return -1; /* a known field with the wrong wire type */
    }
  }
  return 0;
}
