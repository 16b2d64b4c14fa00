/* libFuzzer target for the WebSocket frame reader. The first bytes choose the settings and
 * where to cut the input; the rest is the byte stream. The stream is read three ways —
 * whole, cut in two at the chosen point, and in small chunks — and the three event
 * sequences must be identical (abort() otherwise): the reader must not depend on how the
 * network splits its input. On the server side the stream is read again the same three
 * ways with permessage-deflate negotiated, so RSV1 frames reach the inflater (corrupt
 * streams, bombs against the bound, compressed fragments). The same bytes, taken as a
 * message payload, are also framed with the writer (masked, in two fragments) and must read
 * back unchanged, plain and compressed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One inflater and deflater for the process, as a worker has one for its connections. */
static arq_ws_inflater_t *inflater;
static arq_ws_deflater_t *deflater;

#define MAX_EVENTS 256

typedef struct {
  arq_ws_event_type_t type;
  bool binary;
  uint16_t code;
  const char *error;
  size_t len;
  uint64_t hash;
} rec_t;

typedef struct {
  rec_t ev[MAX_EVENTS];
  size_t n;
  bool overflow;
} trace_t;

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211u;
  return h;
}

/* Feeds p[0..n) as one read, from an exact-size copy so ASan sees reads past it. */
static void feed(arq_ws_reader_t *r, const uint8_t *p, size_t n, trace_t *t) {
  uint8_t *c = malloc(n ? n : 1);
  memcpy(c, p, n);
  size_t used = 0;
  while (used < n) {
    arq_ws_event_t ev;
    size_t k = arq_ws_reader_feed(r, c + used, n - used, &ev);
    if (k > n - used)
      abort();
    used += k;
    if (ev.type == ARQ_WS_EV_NONE) {
      if (used != n)
        abort();
      break;
    }
    if (ev.type == ARQ_WS_EV_ERROR && (!ev.error || (ev.close_code != 1002 &&
                                                     ev.close_code != 1007 && ev.close_code != 1009)))
      abort();
    if (ev.len > 0 && !ev.data)
      abort();
    if (ev.type == ARQ_WS_EV_MESSAGE && ev.len > r->_max_message)
      abort(); /* inflated or not, no message is larger than the bound */
    if (t->n == MAX_EVENTS) {
      t->overflow = true;
      continue;
    }
    rec_t *e = &t->ev[t->n++];
    *e = (rec_t){ev.type, ev.binary, ev.close_code, ev.error, ev.len, fnv(ev.data, ev.len)};
  }
  free(c);
}

static void run(const uint8_t *p, size_t n, const size_t *cuts, size_t ncuts, size_t max,
                bool server, arq_ws_inflater_t *inf, trace_t *t) {
  arq_ws_reader_t r;
  arq_ws_reader_init(&r, max, server);
  arq_ws_reader_set_inflater(&r, inf);
  t->n = 0;
  t->overflow = false;
  size_t at = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : n;
    feed(&r, p + at, end - at, t);
    at = end;
  }
  arq_ws_reader_free(&r);
}

static void same(const trace_t *a, const trace_t *b) {
  if (a->n != b->n || a->overflow != b->overflow)
    abort();
  for (size_t i = 0; i < a->n; i++) {
    const rec_t *x = &a->ev[i], *y = &b->ev[i];
    if (x->type != y->type || x->binary != y->binary || x->code != y->code ||
        x->error != y->error || x->len != y->len || x->hash != y->hash)
      abort();
  }
}

/* Writer and reader agree: p[0..n) sent as a binary message in two masked fragments, with a
 * ping between them, comes back as one message with the same bytes. */
static void roundtrip(const uint8_t *p, size_t n, size_t cut) {
  static const uint8_t key[4] = {0xa5, 0x01, 0xff, 0x7e};
  uint8_t *f = malloc(n + 3 * 14 + 4);
  size_t len = arq_ws_frame_header(f, ARQ_WS_OP_BINARY, false, cut, key);
  memcpy(f + len, p, cut);
  arq_ws_mask(f + len, cut, key, 0);
  len += cut;
  len += arq_ws_frame_header(f + len, ARQ_WS_OP_PING, true, 4, key);
  memcpy(f + len, "ping", 4);
  arq_ws_mask(f + len, 4, key, 0);
  len += 4;
  len += arq_ws_frame_header(f + len, ARQ_WS_OP_CONT, true, n - cut, key);
  memcpy(f + len, p + cut, n - cut);
  arq_ws_mask(f + len, n - cut, key, 0);
  len += n - cut;

  arq_ws_reader_t r;
  arq_ws_reader_init(&r, n, true);
  arq_ws_event_t ev;
  size_t off = arq_ws_reader_feed(&r, f, len, &ev);
  if (ev.type != ARQ_WS_EV_PING || ev.len != 4 || memcmp(ev.data, "ping", 4) != 0)
    abort();
  off += arq_ws_reader_feed(&r, f + off, len - off, &ev);
  if (off != len || ev.type != ARQ_WS_EV_MESSAGE || !ev.binary || ev.len != n ||
      (n && memcmp(ev.data, p, n) != 0))
    abort();
  arq_ws_reader_free(&r);
  free(f);
}

/* The payload compressed (no context takeover) and sent as a text-or-binary message in two
 * masked fragments, RSV1 on the first: it reads back as the payload. */
static void roundtrip_compressed(const uint8_t *p, size_t n, size_t cut) {
  static const uint8_t key[4] = {0x3c, 0x99, 0x00, 0x42};
  arq_buf_t z;
  arq_buf_init(&z);
  arq_ws_deflate(deflater, p, n, &z);
  size_t zcut = cut <= z.len ? cut : z.len;
  uint8_t *f = malloc(z.len + 2 * 14);
  size_t len = arq_ws_frame_header(f, ARQ_WS_OP_BINARY, false, zcut, key);
  f[0] |= ARQ_WS_RSV1;
  memcpy(f + len, z.data, zcut);
  arq_ws_mask(f + len, zcut, key, 0);
  len += zcut;
  len += arq_ws_frame_header(f + len, ARQ_WS_OP_CONT, true, z.len - zcut, key);
  memcpy(f + len, z.data + zcut, z.len - zcut);
  arq_ws_mask(f + len, z.len - zcut, key, 0);
  len += z.len - zcut;

  arq_ws_reader_t r;
  arq_ws_reader_init(&r, n > z.len ? n : z.len, true);
  arq_ws_reader_set_inflater(&r, inflater);
  arq_ws_event_t ev;
  size_t off = arq_ws_reader_feed(&r, f, len, &ev);
  if (off != len || ev.type != ARQ_WS_EV_MESSAGE || !ev.binary || ev.len != n ||
      ev.wire_len != z.len || (n && memcmp(ev.data, p, n) != 0))
    abort();
  arq_ws_reader_free(&r);
  arq_buf_free(&z);
  free(f);
}

static trace_t whole, split, chunked;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3)
    return 0;
  bool server = !(data[0] & 1);
  static const size_t maxes[] = {0, 1, 125, 126, 1000, 65536, 1 << 20};
  size_t max = maxes[(data[0] >> 1) % (sizeof maxes / sizeof *maxes)];
  size_t chunk = 1 + (data[0] >> 5);
  const uint8_t *p = data + 3;
  size_t n = size - 3;
  size_t cut = n ? ((size_t)data[1] << 8 | data[2]) % (n + 1) : 0;

  if (!inflater) {
    inflater = arq_ws_inflater_new();
    deflater = arq_ws_deflater_new();
  }
  roundtrip(p, n, cut);
  roundtrip_compressed(p, n, cut);
  size_t ncuts = n / chunk;
  if (ncuts > 4096)
    ncuts = 0; /* byte-sized reads of long inputs cost more than they find */
  size_t *cuts = malloc((ncuts ? ncuts : 1) * sizeof *cuts);
  for (size_t i = 0; i < ncuts; i++)
    cuts[i] = (i + 1) * chunk;
  /* without the extension, then (server side) with it */
  for (int deflate = 0; deflate < (server ? 2 : 1); deflate++) {
    arq_ws_inflater_t *inf = deflate ? inflater : NULL;
    run(p, n, NULL, 0, max, server, inf, &whole);
    run(p, n, &cut, 1, max, server, inf, &split);
    same(&whole, &split);
    if (ncuts) {
      run(p, n, cuts, ncuts, max, server, inf, &chunked);
      same(&whole, &chunked);
    }
  }
  free(cuts);
  /* between messages, as a worker's timer does: a buffer a large input grew is given back
   * and the next large one grows it again */
  arq_ws_inflater_trim(inflater, 64 * 1024);
  return 0;
}
