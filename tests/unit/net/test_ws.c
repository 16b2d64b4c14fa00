/* The WebSocket codec: handshake, and the frame reader on cases modelled on the Autobahn
 * test suite (1 framing, 2 pings, 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8,
 * 7 close), each fed whole, byte by byte and in odd-sized chunks with the same events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/ws.h"

/* ---------------------------------------------------------------- handshake */

static void accept_key(void **state) {
  char out[29];
  const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
  assert_int_equal(arq_ws_accept_key(key, strlen(key), out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const char *bad[] = {"", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                       "dGhlIHNhbXBsZSBub25jZ===", "dGhlIHNhbXBsZSBub25jZR==",
                       "dGhlIHNhbXBsZSBub2 jZQ==", "dGhlIHNhbXBsZSBub25jZQAA",
                       "dGhlIHNhbXBsZSBub25j*Q==", "AAAAAAAAAAAAAAAAAAAAAAAA",
                       "-_-_-_-_-_-_-_-_-_-_-w==" /* URL-safe digits: not the standard alphabet */};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (arq_ws_accept_key(bad[i], strlen(bad[i]), out) != -1)
      fail_msg("key %zu accepted", i);
  assert_int_equal(arq_ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", 24, out), 0);
  /* '+' and '/' are base64 digits too (checked against an independent SHA-1 + base64) */
  assert_int_equal(arq_ws_accept_key("+/+/+/+/+/+/+/+/+/+/+w==", 24, out), 0);
  assert_string_equal(out, "M0DUs3om0SqzerhOhYSMM7WQuBQ=");
}

static arq_http_request_t req;

static int upgrade(const char *head, const char **problem) {
  int n = arq_http_parse_request(head, strlen(head), 8192, &req);
  if (n != (int)strlen(head))
    fail_msg("head did not parse: %d", n);
  return arq_ws_check_upgrade(&req, problem);
}

#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"

static void check_upgrade(void **state) {
  const char *problem = "unset";
  assert_int_equal(upgrade("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\n" KEY VER "\r\n",
                           &problem),
                   0);
  assert_null(problem);
  /* what browsers send: token lists in any case */
  assert_int_equal(upgrade("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                           "Upgrade: WebSocket\r\n" VER KEY "\r\n",
                           &problem),
                   0);
  struct {
    const char *head;
    int status;
  } cases[] = {
      {"POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY VER
       "\r\n", 405},
      {"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY VER "\r\n", 400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n" KEY VER "\r\n", 400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" KEY VER "\r\n",
       400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" KEY VER "\r\n", 400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" KEY VER
       "\r\n", 400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY "\r\n",
       426},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
       "Sec-WebSocket-Version: 8\r\n\r\n", 426},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
       "Sec-WebSocket-Version: 13, 8\r\n\r\n", 426},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY VER VER
       "\r\n", 426},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" VER "\r\n",
       400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" VER
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n\r\n", 400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" VER
       "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n", 400},
      {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" VER KEY KEY
       "\r\n", 400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    problem = NULL;
    int st = upgrade(cases[i].head, &problem);
    if (st != cases[i].status)
      fail_msg("case %zu: status %d, want %d", i, st, cases[i].status);
    assert_non_null(problem);
  }
  assert_int_equal(arq_ws_check_upgrade(&req, NULL), 400); /* problem is optional */
}

static void upgrade_response(void **state) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_ws_write_upgrade(&b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", NULL);
  assert_string_equal(b.data, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  arq_buf_reset(&b);
  arq_ws_write_upgrade(&b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Protocol: arqon\r\n");
  assert_non_null(strstr(b.data, "xOo=\r\nSec-WebSocket-Protocol: arqon\r\n\r\n"));
  arq_buf_free(&b);
}

/* ---------------------------------------------------------------- frame building */

typedef struct {
  uint8_t *p;
  size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
}

static const uint8_t key4[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client frame with an explicit first byte (to set RSV bits and odd opcodes). */
static void raw_frame(bytes_t *b, uint8_t b0, const void *payload, size_t n, bool masked) {
  uint8_t h[14];
  size_t hl = arq_ws_frame_header(h, 0, false, n, masked ? key4 : NULL);
  h[0] = b0;
  put(b, h, hl);
  size_t at = b->len;
  put(b, payload, n);
  if (masked)
    arq_ws_mask(b->p + at, n, key4, 0);
}

static void frame(bytes_t *b, uint8_t op, bool fin, const void *payload, size_t n) {
  raw_frame(b, (uint8_t)((fin ? 0x80 : 0) | op), payload, n, true);
}

static void text(bytes_t *b, uint8_t op, bool fin, const char *s) { frame(b, op, fin, s, strlen(s)); }

static void close_frame(bytes_t *b, uint16_t code, const char *reason) {
  uint8_t p[125];
  size_t n = arq_ws_close_payload(p, code, reason);
  frame(b, ARQ_WS_OP_CLOSE, true, p, n);
}

/* ---------------------------------------------------------------- running the reader */

typedef struct {
  arq_ws_event_type_t type;
  bool binary;
  uint16_t code;
  const char *error;
  uint8_t *data;
  size_t len;
} rec_t;

typedef struct {
  rec_t ev[64];
  size_t n;
} trace_t;

static void trace_free(trace_t *t) {
  for (size_t i = 0; i < t->n; i++)
    free(t->ev[i].data);
  t->n = 0;
}

/* Feeds input in chunks of `chunk` bytes (0: all at once), each chunk in its own exact-size
 * heap block so that ASan catches a read past it; records the events. */
static void run(const bytes_t *in, size_t chunk, size_t max, bool server, trace_t *t) {
  arq_ws_reader_t r;
  arq_ws_reader_init(&r, max, server);
  t->n = 0;
  size_t off = 0;
  while (off < in->len) {
    size_t n = chunk && chunk < in->len - off ? chunk : in->len - off;
    uint8_t *c = malloc(n);
    memcpy(c, in->p + off, n);
    size_t used = 0;
    while (used < n) {
      arq_ws_event_t ev;
      size_t k = arq_ws_reader_feed(&r, c + used, n - used, &ev);
      assert_true(k <= n - used);
      used += k;
      if (ev.type == ARQ_WS_EV_NONE) {
        assert_int_equal(used, n);
        continue;
      }
      assert_true(t->n < 64);
      rec_t *e = &t->ev[t->n++];
      e->type = ev.type;
      e->binary = ev.binary;
      e->code = ev.close_code;
      e->error = ev.error;
      e->len = ev.len;
      e->data = malloc(ev.len + 1);
      if (ev.len)
        memcpy(e->data, ev.data, ev.len);
    }
    free(c);
    off += n;
  }
  arq_ws_reader_free(&r);
}

static void same_trace(const trace_t *a, const trace_t *b, size_t chunk) {
  if (a->n != b->n)
    fail_msg("chunk %zu: %zu events vs %zu", chunk, a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    const rec_t *x = &a->ev[i], *y = &b->ev[i];
    if (x->type != y->type || x->binary != y->binary || x->code != y->code ||
        x->error != y->error || x->len != y->len || memcmp(x->data, y->data, x->len) != 0)
      fail_msg("chunk %zu: event %zu differs", chunk, i);
  }
}

/* Runs whole, byte by byte and in chunks of 2, 3, 7 and 100; all traces must agree. */
static void events_of(const bytes_t *in, size_t max, bool server, trace_t *out) {
  run(in, 0, max, server, out);
  static const size_t chunks[] = {1, 2, 3, 7, 100};
  for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
    trace_t t;
    run(in, chunks[i], max, server, &t);
    same_trace(out, &t, chunks[i]);
    trace_free(&t);
  }
}

#define MAX (1u << 20)

static void expect_error(const bytes_t *in, size_t max, uint16_t code, const char *err) {
  trace_t t;
  events_of(in, max, true, &t);
  assert_true(t.n >= 1);
  rec_t *last = &t.ev[t.n - 1];
  if (last->type != ARQ_WS_EV_ERROR || last->code != code || last->error != err)
    fail_msg("want error %u \"%s\", got type %d code %u \"%s\"", code, err, last->type,
             last->code, last->error ? last->error : "");
  trace_free(&t);
}

/* ---------------------------------------------------------------- 1: framing */

static void framing(void **state) {
  static const size_t sizes[] = {0, 1, 125, 126, 127, 128, 65535, 65536, 100000};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    size_t n = sizes[s];
    uint8_t *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
      p[i] = (uint8_t)('a' + i % 26);
    bytes_t in = {0};
    frame(&in, ARQ_WS_OP_TEXT, true, p, n);
    for (size_t i = 0; i < n; i++)
      p[i] = (uint8_t)(i * 7);
    frame(&in, ARQ_WS_OP_BINARY, true, p, n);
    trace_t t;
    events_of(&in, MAX, true, &t);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.ev[0].type, ARQ_WS_EV_MESSAGE);
    assert_false(t.ev[0].binary);
    assert_int_equal(t.ev[0].len, n);
    assert_int_equal(t.ev[1].type, ARQ_WS_EV_MESSAGE);
    assert_true(t.ev[1].binary);
    assert_int_equal(t.ev[1].len, n);
    assert_memory_equal(t.ev[1].data, p, n);
    trace_free(&t);
    free(in.p);
    free(p);
  }
}

/* Non-minimal 16- and 64-bit lengths are accepted; a 64-bit length with the top bit set is not. */
static void lengths(void **state) {
  bytes_t in = {0};
  uint8_t h[] = {0x81, 0x80 | 126, 0, 3, 0, 0, 0, 0, 'a', 'b', 'c'};
  put(&in, h, sizeof h);
  uint8_t h64[] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 2};
  put(&in, h64, sizeof h64);
  trace_t t;
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.n, 2);
  assert_int_equal(t.ev[0].len, 3);
  assert_memory_equal(t.ev[0].data, "abc", 3);
  assert_int_equal(t.ev[1].len, 2);
  trace_free(&t);
  free(in.p);

  bytes_t msb = {0};
  uint8_t m[] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'x'};
  put(&msb, m, sizeof m);
  expect_error(&msb, MAX, 1002, arq_ws_err_length_msb);
  free(msb.p);
}

/* A too-large message is refused from its header alone, before any payload arrives. */
static void max_size(void **state) {
  bytes_t in = {0};
  uint8_t h[] = {0x82, 0x80 | 127, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4}; /* 2^40 bytes */
  put(&in, h, sizeof h);
  expect_error(&in, MAX, 1009, arq_ws_err_too_big);
  in.len = 0;

  uint8_t p[64] = {0};
  frame(&in, ARQ_WS_OP_BINARY, true, p, 64);
  trace_t t;
  events_of(&in, 64, true, &t); /* exactly the limit */
  assert_int_equal(t.n, 1);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_MESSAGE);
  trace_free(&t);
  expect_error(&in, 63, 1009, arq_ws_err_too_big);

  /* fragments add up: 40 + 40 > 64, refused at the second header */
  in.len = 0;
  frame(&in, ARQ_WS_OP_BINARY, false, p, 40);
  frame(&in, ARQ_WS_OP_CONT, true, p, 40);
  expect_error(&in, 64, 1009, arq_ws_err_too_big);
  /* control frames in between do not count */
  in.len = 0;
  frame(&in, ARQ_WS_OP_TEXT, false, "0123456789012345678901234567890", 31);
  frame(&in, ARQ_WS_OP_PING, true, p, 60);
  frame(&in, ARQ_WS_OP_CONT, true, "012345678901234567890123456789012", 33);
  events_of(&in, 64, true, &t);
  assert_int_equal(t.n, 2);
  assert_int_equal(t.ev[1].type, ARQ_WS_EV_MESSAGE);
  assert_int_equal(t.ev[1].len, 64);
  trace_free(&t);
  /* max_message 0: only empty messages */
  in.len = 0;
  frame(&in, ARQ_WS_OP_TEXT, true, "", 0);
  frame(&in, ARQ_WS_OP_TEXT, true, "x", 1);
  events_of(&in, 0, true, &t);
  assert_int_equal(t.n, 2);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_MESSAGE);
  assert_int_equal(t.ev[1].code, 1009);
  trace_free(&t);
  free(in.p);
}

static void masking_rules(void **state) {
  bytes_t in = {0};
  raw_frame(&in, 0x81, "hi", 2, false);
  expect_error(&in, MAX, 1002, arq_ws_err_unmasked);
  /* a client reader: unmasked frames are right, masked ones wrong */
  trace_t t;
  events_of(&in, MAX, false, &t);
  assert_int_equal(t.n, 1);
  assert_memory_equal(t.ev[0].data, "hi", 2);
  trace_free(&t);
  in.len = 0;
  text(&in, ARQ_WS_OP_TEXT, true, "hi");
  events_of(&in, MAX, false, &t);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_ERROR);
  assert_ptr_equal(t.ev[0].error, arq_ws_err_masked);
  trace_free(&t);
  free(in.p);
}

/* ---------------------------------------------------------------- 2: pings */

static void pings(void **state) {
  uint8_t p[126];
  memset(p, 0xAB, sizeof p);
  bytes_t in = {0};
  frame(&in, ARQ_WS_OP_PING, true, NULL, 0);
  frame(&in, ARQ_WS_OP_PING, true, p, 125);
  frame(&in, ARQ_WS_OP_PONG, true, "unsolicited", 11);
  trace_t t;
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.n, 3);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_PING);
  assert_int_equal(t.ev[0].len, 0);
  assert_int_equal(t.ev[1].type, ARQ_WS_EV_PING);
  assert_int_equal(t.ev[1].len, 125);
  assert_memory_equal(t.ev[1].data, p, 125);
  assert_int_equal(t.ev[2].type, ARQ_WS_EV_PONG);
  assert_memory_equal(t.ev[2].data, "unsolicited", 11);
  trace_free(&t);

  in.len = 0;
  frame(&in, ARQ_WS_OP_PING, true, p, 126);
  expect_error(&in, MAX, 1002, arq_ws_err_control_too_long);
  in.len = 0;
  frame(&in, ARQ_WS_OP_PING, false, "a", 1);
  frame(&in, ARQ_WS_OP_CONT, true, "b", 1);
  expect_error(&in, MAX, 1002, arq_ws_err_control_fragmented);
  free(in.p);
}

/* ---------------------------------------------------------------- 3, 4: reserved bits, opcodes */

static void reserved_bits_and_opcodes(void **state) {
  bytes_t in = {0};
  for (uint8_t rsv = 1; rsv < 8; rsv++) {
    in.len = 0;
    text(&in, ARQ_WS_OP_TEXT, true, "ok");
    raw_frame(&in, (uint8_t)(0x81 | rsv << 4), "x", 1, true);
    text(&in, ARQ_WS_OP_TEXT, true, "never");
    trace_t t;
    events_of(&in, MAX, true, &t);
    assert_int_equal(t.n, 2); /* nothing after the error */
    assert_int_equal(t.ev[0].type, ARQ_WS_EV_MESSAGE);
    assert_ptr_equal(t.ev[1].error, arq_ws_err_rsv);
    assert_int_equal(t.ev[1].code, 1002);
    trace_free(&t);
  }
  static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  for (size_t i = 0; i < sizeof ops; i++) {
    in.len = 0;
    raw_frame(&in, (uint8_t)(0x80 | ops[i]), "x", 1, true);
    expect_error(&in, MAX, 1002, arq_ws_err_opcode);
  }
  free(in.p);
}

/* ---------------------------------------------------------------- 5: fragmentation */

static void fragmentation(void **state) {
  bytes_t in = {0};
  text(&in, ARQ_WS_OP_TEXT, false, "frag");
  frame(&in, ARQ_WS_OP_PING, true, "p1", 2);
  text(&in, ARQ_WS_OP_CONT, false, "");
  text(&in, ARQ_WS_OP_CONT, false, "ment");
  frame(&in, ARQ_WS_OP_PONG, true, NULL, 0);
  text(&in, ARQ_WS_OP_CONT, true, "ed");
  frame(&in, ARQ_WS_OP_BINARY, false, "\x00\x01", 2);
  frame(&in, ARQ_WS_OP_CONT, true, "\x02", 1);
  trace_t t;
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.n, 4);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_PING);
  assert_int_equal(t.ev[1].type, ARQ_WS_EV_PONG);
  assert_int_equal(t.ev[2].type, ARQ_WS_EV_MESSAGE);
  assert_false(t.ev[2].binary);
  assert_int_equal(t.ev[2].len, 10);
  assert_memory_equal(t.ev[2].data, "fragmented", 10);
  assert_true(t.ev[3].binary);
  assert_memory_equal(t.ev[3].data, "\x00\x01\x02", 3);
  trace_free(&t);

  in.len = 0;
  text(&in, ARQ_WS_OP_CONT, true, "orphan");
  expect_error(&in, MAX, 1002, arq_ws_err_no_message);
  in.len = 0;
  text(&in, ARQ_WS_OP_TEXT, false, "a");
  text(&in, ARQ_WS_OP_TEXT, true, "b");
  expect_error(&in, MAX, 1002, arq_ws_err_message_in_progress);
  in.len = 0;
  text(&in, ARQ_WS_OP_TEXT, false, "a");
  frame(&in, ARQ_WS_OP_BINARY, true, "b", 1);
  expect_error(&in, MAX, 1002, arq_ws_err_message_in_progress);
  in.len = 0; /* a finished message leaves no state behind */
  text(&in, ARQ_WS_OP_TEXT, true, "a");
  text(&in, ARQ_WS_OP_CONT, true, "b");
  expect_error(&in, MAX, 1002, arq_ws_err_no_message);
  free(in.p);
}

/* ---------------------------------------------------------------- 6: UTF-8 */

static const char greek[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80!";

/* The valid text split into two fragments at every byte, including inside sequences. */
static void utf8_split_across_fragments(void **state) {
  size_t n = sizeof greek - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    bytes_t in = {0};
    frame(&in, ARQ_WS_OP_TEXT, false, greek, cut);
    frame(&in, ARQ_WS_OP_CONT, true, greek + cut, n - cut);
    trace_t t;
    events_of(&in, MAX, true, &t);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.ev[0].type, ARQ_WS_EV_MESSAGE);
    assert_memory_equal(t.ev[0].data, greek, n);
    trace_free(&t);
    free(in.p);
  }
  /* one byte per fragment */
  bytes_t in = {0};
  for (size_t i = 0; i < n; i++)
    frame(&in, i ? ARQ_WS_OP_CONT : ARQ_WS_OP_TEXT, i + 1 == n, greek + i, 1);
  trace_t t;
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.n, 1);
  assert_int_equal(t.ev[0].len, n);
  trace_free(&t);
  free(in.p);
}

/* An invalid sequence fails as soon as it is seen: the rest of the message is not needed. */
static void utf8_fail_fast(void **state) {
  bytes_t in = {0};
  text(&in, ARQ_WS_OP_TEXT, false, "ok \xce\xba then \xed\xa0\x80 surrogate");
  /* deliberately no final fragment */
  expect_error(&in, MAX, 1007, arq_ws_err_text_utf8);
  in.len = 0;
  frame(&in, ARQ_WS_OP_TEXT, false, "\xf4", 1);
  frame(&in, ARQ_WS_OP_CONT, false, "\x90", 1); /* > U+10FFFF, known at the second byte */
  expect_error(&in, MAX, 1007, arq_ws_err_text_utf8);
  in.len = 0;
  frame(&in, ARQ_WS_OP_TEXT, false, "\xce", 1);
  frame(&in, ARQ_WS_OP_CONT, true, NULL, 0); /* ends inside a sequence */
  expect_error(&in, MAX, 1007, arq_ws_err_text_utf8);
  in.len = 0;
  text(&in, ARQ_WS_OP_TEXT, true, "\xc0\xaf");
  expect_error(&in, MAX, 1007, arq_ws_err_text_utf8);
  in.len = 0; /* binary messages are not text */
  frame(&in, ARQ_WS_OP_BINARY, true, "\xff\xfe", 2);
  trace_t t;
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_MESSAGE);
  trace_free(&t);
  free(in.p);
}

/* ---------------------------------------------------------------- 7: close */

static void close_frames(void **state) {
  bytes_t in = {0};
  frame(&in, ARQ_WS_OP_CLOSE, true, NULL, 0);
  text(&in, ARQ_WS_OP_TEXT, true, "after close");
  trace_t t;
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.n, 1);
  assert_int_equal(t.ev[0].type, ARQ_WS_EV_CLOSE);
  assert_int_equal(t.ev[0].code, 1005);
  assert_int_equal(t.ev[0].len, 0);
  trace_free(&t);

  in.len = 0;
  close_frame(&in, 1000, "bye \xce\xba");
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.ev[0].code, 1000);
  assert_int_equal(t.ev[0].len, 6);
  assert_memory_equal(t.ev[0].data, "bye \xce\xba", 6);
  trace_free(&t);

  in.len = 0;
  frame(&in, ARQ_WS_OP_CLOSE, true, "\x03", 1);
  expect_error(&in, MAX, 1002, arq_ws_err_close_length);

  static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 1014, 3000, 3999, 4000, 4999};
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
    in.len = 0;
    close_frame(&in, valid[i], NULL);
    events_of(&in, MAX, true, &t);
    assert_int_equal(t.ev[0].type, ARQ_WS_EV_CLOSE);
    assert_int_equal(t.ev[0].code, valid[i]);
    trace_free(&t);
  }
  static const uint16_t invalid[] = {0,    999,  1004, 1005, 1006, 1015, 1016,
                                     1100, 2000, 2999, 5000, 65535};
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    in.len = 0;
    close_frame(&in, invalid[i], NULL);
    expect_error(&in, MAX, 1002, arq_ws_err_close_code);
    assert_false(arq_ws_close_code_valid(invalid[i]));
  }
  in.len = 0;
  close_frame(&in, 1000, "bad \xff reason");
  expect_error(&in, MAX, 1007, arq_ws_err_close_utf8);
  in.len = 0;
  close_frame(&in, 1000, "cut \xce"); /* a reason ending inside a character */
  expect_error(&in, MAX, 1007, arq_ws_err_close_utf8);
  /* a close between fragments ends the reader, as any close does */
  in.len = 0;
  text(&in, ARQ_WS_OP_TEXT, false, "a");
  close_frame(&in, 1001, NULL);
  text(&in, ARQ_WS_OP_CONT, true, "b");
  events_of(&in, MAX, true, &t);
  assert_int_equal(t.n, 1);
  assert_int_equal(t.ev[0].code, 1001);
  trace_free(&t);
  free(in.p);
}

/* After ERROR or CLOSE the reader swallows input and reports nothing. */
static void refuses_after_end(void **state) {
  bytes_t in = {0};
  frame(&in, ARQ_WS_OP_CLOSE, true, NULL, 0);
  arq_ws_reader_t r;
  arq_ws_reader_init(&r, MAX, true);
  arq_ws_event_t ev;
  assert_int_equal(arq_ws_reader_feed(&r, in.p, in.len, &ev), in.len);
  assert_int_equal(ev.type, ARQ_WS_EV_CLOSE);
  assert_int_equal(arq_ws_reader_feed(&r, in.p, in.len, &ev), in.len);
  assert_int_equal(ev.type, ARQ_WS_EV_NONE);
  arq_ws_reader_free(&r);
  free(in.p);
}

/* The message buffer is allocated once and reused: no allocation per message. */
static void buffer_reuse(void **state) {
  bytes_t in = {0};
  uint8_t p[1000] = {0};
  frame(&in, ARQ_WS_OP_BINARY, true, p, sizeof p);
  arq_ws_reader_t r;
  arq_ws_reader_init(&r, MAX, true);
  assert_null(r._msg);
  arq_ws_event_t ev;
  arq_ws_reader_feed(&r, in.p, in.len, &ev);
  const uint8_t *first = r._msg;
  size_t cap = r._msg_cap;
  assert_true(cap >= 1000 && cap <= 2048);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(arq_ws_reader_feed(&r, in.p, in.len, &ev), in.len);
    assert_int_equal(ev.type, ARQ_WS_EV_MESSAGE);
    assert_ptr_equal(ev.data, first);
  }
  assert_int_equal(r._msg_cap, cap);
  arq_ws_reader_trim(&r);
  assert_null(r._msg);
  assert_int_equal(arq_ws_reader_feed(&r, in.p, in.len, &ev), in.len);
  assert_int_equal(ev.len, 1000);
  /* the buffer never grows past max_message even when doubling would */
  arq_ws_reader_free(&r);
  arq_ws_reader_init(&r, 1000, true);
  arq_ws_reader_feed(&r, in.p, in.len, &ev);
  assert_int_equal(ev.type, ARQ_WS_EV_MESSAGE);
  assert_int_equal(r._msg_cap, 1000);
  arq_ws_reader_free(&r);
  free(in.p);
}

/* ---------------------------------------------------------------- writer */

static void writer(void **state) {
  uint8_t h[14];
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_TEXT, true, 0, NULL), 2);
  assert_memory_equal(h, "\x81\x00", 2);
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_BINARY, true, 125, NULL), 2);
  assert_memory_equal(h, "\x82\x7d", 2);
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_TEXT, false, 126, NULL), 4);
  assert_memory_equal(h, "\x01\x7e\x00\x7e", 4);
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_CONT, true, 65535, NULL), 4);
  assert_memory_equal(h, "\x80\x7e\xff\xff", 4);
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_BINARY, true, 65536, NULL), 10);
  assert_memory_equal(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_PING, true, 5, key4), 6);
  assert_memory_equal(h, "\x89\x85\x37\xfa\x21\x3d", 6);
  assert_int_equal(arq_ws_frame_header(h, ARQ_WS_OP_BINARY, true, 0x0102030405060708u, key4), 14);
  assert_memory_equal(h, "\x82\xff\x01\x02\x03\x04\x05\x06\x07\x08\x37\xfa\x21\x3d", 14);

  uint8_t c[125];
  assert_int_equal(arq_ws_close_payload(c, 1000, NULL), 2);
  assert_memory_equal(c, "\x03\xe8", 2);
  assert_int_equal(arq_ws_close_payload(c, 4001, "slow"), 6);
  assert_memory_equal(c, "\x0f\xa1slow", 6);
  /* 122 ASCII bytes then a 2-byte character: it does not fit whole and is dropped */
  char reason[200];
  memset(reason, 'r', 122);
  strcpy(reason + 122, "\xce\xba and more");
  assert_int_equal(arq_ws_close_payload(c, 1008, reason), 124);
  assert_true(arq_utf8_valid(c + 2, 122));
  memset(reason, 'r', 121); /* now it fits exactly */
  strcpy(reason + 121, "\xce\xba and more");
  assert_int_equal(arq_ws_close_payload(c, 1008, reason), 125);
  assert_true(arq_utf8_valid(c + 2, 123));

  /* word-at-a-time masking equals the byte-wise definition at every offset and length */
  uint8_t a[100], b[100];
  for (size_t off = 0; off < 8; off++)
    for (size_t len = 0; len <= 40; len++) {
      for (size_t i = 0; i < len; i++)
        a[i] = b[i] = (uint8_t)(i * 31 + 7);
      arq_ws_mask(a, len, key4, off);
      for (size_t i = 0; i < len; i++)
        b[i] ^= key4[(off + i) % 4];
      assert_memory_equal(a, b, len ? len : 1);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accept_key),
      cmocka_unit_test(check_upgrade),
      cmocka_unit_test(upgrade_response),
      cmocka_unit_test(framing),
      cmocka_unit_test(lengths),
      cmocka_unit_test(max_size),
      cmocka_unit_test(masking_rules),
      cmocka_unit_test(pings),
      cmocka_unit_test(reserved_bits_and_opcodes),
      cmocka_unit_test(fragmentation),
      cmocka_unit_test(utf8_split_across_fragments),
      cmocka_unit_test(utf8_fail_fast),
      cmocka_unit_test(close_frames),
      cmocka_unit_test(refuses_after_end),
      cmocka_unit_test(buffer_reuse),
      cmocka_unit_test(writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
