/* permessage-deflate (RFC 7692): which offers are accepted, deflate and inflate, the bound
 * on inflated size, and the frame reader on compressed messages (RSV1 rules, fragments,
 * corrupt data, bombs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "net/ws.h"

/* ---------------------------------------------------------------- negotiation */

static arq_ws_pmd_t offer(const char *extensions) {
  char head[1024];
  snprintf(head, sizeof head,
           "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           extensions);
  arq_http_request_t req;
  int n = arq_http_parse_request(head, strlen(head), 8192, &req);
  if (n != (int)strlen(head))
    fail_msg("head did not parse: %d", n);
  arq_ws_pmd_t pmd;
  arq_ws_pmd_negotiate(&req, &pmd);
  return pmd;
}

#define BASE "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; " \
             "client_no_context_takeover"

static void negotiate(void **state) {
  arq_ws_pmd_t p = offer("");
  assert_false(p.accepted);
  /* what Python websockets and browsers send */
  p = offer("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  assert_true(p.accepted);
  assert_string_equal(p.response, BASE "\r\n");
  assert_int_equal(p.server_window_bits, 15);
  p = offer("Sec-WebSocket-Extensions: permessage-deflate\r\n");
  assert_string_equal(p.response, BASE "\r\n");
  p = offer("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
            "server_no_context_takeover; client_max_window_bits=10\r\n");
  assert_true(p.accepted);
  /* a smaller server window is accepted by echoing it */
  p = offer("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"10\"\r\n");
  assert_true(p.accepted);
  assert_int_equal(p.server_window_bits, 10);
  assert_string_equal(p.response, BASE "; server_max_window_bits=10\r\n");
  /* other extensions are skipped; the first acceptable offer wins */
  p = offer("Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate; bogus=1\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9, "
            "permessage-deflate\r\n");
  assert_true(p.accepted);
  assert_int_equal(p.server_window_bits, 9);
  p = offer("Sec-WebSocket-Extensions: permessage-deflate; bogus, permessage-deflate\r\n");
  assert_true(p.accepted);
  assert_int_equal(p.server_window_bits, 15);
  /* declined: parameters we cannot honour, never a failed handshake */
  const char *bad[] = {
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; client_max_window_bits=20",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover=1",
      "permessage-deflate; x=y",
      "permessage-deflate; server_max_window_bits=\"10",
      "permessage-deflate;;",
      "deflate-frame",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char h[256];
    snprintf(h, sizeof h, "Sec-WebSocket-Extensions: %s\r\n", bad[i]);
    if (offer(h).accepted)
      fail_msg("offer %zu accepted: %s", i, bad[i]);
  }
  assert_true(arq_ws_pmd_fits(10, 1024));
  assert_false(arq_ws_pmd_fits(10, 1025));
  assert_false(arq_ws_pmd_fits(14, 16385));
  /* the full window (no server_max_window_bits offered): any length */
  assert_true(arq_ws_pmd_fits(15, 32769));
  assert_true(arq_ws_pmd_fits(15, (size_t)64 << 20));
}

/* ---------------------------------------------------------------- deflate, inflate */

static void rfc_vector(void **state) {
  /* RFC 7692 7.2.3.1: "Hello" compressed */
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  arq_ws_inflater_t *z = arq_ws_inflater_new();
  const uint8_t *out;
  size_t len;
  assert_null(arq_ws_inflate(z, hello, sizeof hello, 1000, &out, &len));
  assert_int_equal(len, 5);
  assert_memory_equal(out, "Hello", 5);
  /* 7.2.3.3: the same in a stored (uncompressed) block */
  static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00};
  assert_null(arq_ws_inflate(z, stored, sizeof stored, 1000, &out, &len));
  assert_int_equal(len, 5);
  /* a final block (BFINAL set) ends the message: the tail after it is not data */
  static const uint8_t final[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  assert_null(arq_ws_inflate(z, final, sizeof final, 1000, &out, &len));
  assert_int_equal(len, 5);
  /* the empty message */
  static const uint8_t empty[] = {0x00};
  assert_null(arq_ws_inflate(z, empty, sizeof empty, 1000, &out, &len));
  assert_int_equal(len, 0);
  arq_ws_inflater_free(z);
}

static uint8_t *json_like(size_t n) {
  uint8_t *p = malloc(n);
  static const char pat[] = "{\"type\":\"chat\",\"room\":\"lobby\",\"data\":{\"n\":12345}},";
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)pat[i % (sizeof pat - 1)];
  return p;
}

static void roundtrip(void **state) {
  arq_ws_deflater_t *d = arq_ws_deflater_new();
  arq_ws_inflater_t *z = arq_ws_inflater_new();
  arq_buf_t out;
  arq_buf_init(&out);
  size_t sizes[] = {0, 1, 300, 4096, 70000, 1 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    uint8_t *msg = json_like(sizes[i]);
    arq_ws_deflate(d, msg, sizes[i], &out);
    if (sizes[i] >= 4096)
      assert_true(out.len * 4 < sizes[i]);
    /* zlib itself (an independent reader) agrees: raw inflate of the bytes plus the tail */
    uint8_t *check = malloc(sizes[i] + 1);
    z_stream zs = {0};
    assert_int_equal(inflateInit2(&zs, -15), Z_OK);
    arq_buf_append(&out, "\x00\x00\xff\xff", 4);
    zs.next_in = (Bytef *)out.data;
    zs.avail_in = (uInt)out.len;
    zs.next_out = check;
    zs.avail_out = (uInt)sizes[i] + 1;
    inflate(&zs, Z_SYNC_FLUSH);
    assert_int_equal(zs.total_out, sizes[i]);
    assert_memory_equal(check, msg, sizes[i]);
    inflateEnd(&zs);
    out.len -= 4;
    /* and so does ours, with the bound exactly at the size */
    const uint8_t *back;
    size_t blen;
    assert_null(arq_ws_inflate(z, (const uint8_t *)out.data, out.len, sizes[i], &back, &blen));
    assert_int_equal(blen, sizes[i]);
    assert_memory_equal(back, msg, sizes[i]);
    /* one byte less is too big */
    if (sizes[i])
      assert_ptr_equal(arq_ws_inflate(z, (const uint8_t *)out.data, out.len, sizes[i] - 1, &back, &blen),
                       arq_ws_err_inflate_too_big);
    free(check);
    free(msg);
  }
  arq_buf_free(&out);
  arq_ws_deflater_free(d);
  arq_ws_inflater_free(z);
}

static void bomb_and_corrupt(void **state) {
  /* 64 MiB of zeros deflate to ~64 KiB; a 1 MiB bound stops it at the bound */
  arq_ws_deflater_t *d = arq_ws_deflater_new();
  arq_ws_inflater_t *z = arq_ws_inflater_new();
  size_t n = 64u << 20;
  uint8_t *zeros = calloc(1, n);
  arq_buf_t out;
  arq_buf_init(&out);
  arq_ws_deflate(d, zeros, n, &out);
  free(zeros);
  assert_true(out.len < 100 * 1024);
  const uint8_t *back;
  size_t blen;
  assert_ptr_equal(arq_ws_inflate(z, (const uint8_t *)out.data, out.len, 1 << 20, &back, &blen),
                   arq_ws_err_inflate_too_big);
  /* corrupt: reserved block type 3, and a distance before the start of the stream */
  static const uint8_t btype3[] = {0x07, 0x00};
  assert_ptr_equal(arq_ws_inflate(z, btype3, sizeof btype3, 1000, &back, &blen), arq_ws_err_inflate_corrupt);
  static const uint8_t far[] = {0x63, 0x00, 0x02, 0x00};
  const char *err = arq_ws_inflate(z, far, sizeof far, 1000, &back, &blen);
  (void)err; /* whether this prefix is complete is zlib's call; it must not crash */
  /* after an error the inflater works again */
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  assert_null(arq_ws_inflate(z, hello, sizeof hello, 5, &back, &blen));
  assert_int_equal(blen, 5);
  arq_buf_free(&out);
  arq_ws_deflater_free(d);
  arq_ws_inflater_free(z);
}

/* Inflates `msg` (compressed in `zmsg`) and checks what comes out. */
static void inflate_ok(arq_ws_inflater_t *z, const arq_buf_t *zmsg, const uint8_t *msg, size_t n) {
  const uint8_t *back;
  size_t blen;
  assert_null(arq_ws_inflate(z, (const uint8_t *)zmsg->data, zmsg->len, 1 << 20, &back, &blen));
  assert_int_equal(blen, n);
  assert_memory_equal(back, msg, n);
}

/* The buffer a large message grew goes back by the second trim after the last large
 * message; small messages never give theirs back; a bomb's buffer goes back too. */
static void trim(void **state) {
  const size_t keep = 64 * 1024;
  arq_ws_deflater_t *d = arq_ws_deflater_new();
  arq_ws_inflater_t *z = arq_ws_inflater_new();
  arq_buf_t big, small, bomb;
  arq_buf_init(&big);
  arq_buf_init(&small);
  arq_buf_init(&bomb);
  uint8_t *bmsg = json_like(700 * 1024), *smsg = json_like(1000);
  arq_ws_deflate(d, bmsg, 700 * 1024, &big);
  arq_ws_deflate(d, smsg, 1000, &small);
  uint8_t *zeros = calloc(1, 4u << 20);
  arq_ws_deflate(d, zeros, 4u << 20, &bomb);
  free(zeros);

  assert_int_equal(arq_ws_inflater_capacity(z), 0);
  inflate_ok(z, &small, smsg, 1000);
  size_t small_cap = arq_ws_inflater_capacity(z);
  assert_true(small_cap > 0 && small_cap <= keep);
  assert_true(arq_ws_inflater_trim(z, keep)); /* nothing to give back */
  assert_int_equal(arq_ws_inflater_capacity(z), small_cap);

  inflate_ok(z, &big, bmsg, 700 * 1024);
  assert_true(arq_ws_inflater_capacity(z) >= 700 * 1024);
  assert_false(arq_ws_inflater_trim(z, keep)); /* just used: kept */
  assert_true(arq_ws_inflater_capacity(z) >= 700 * 1024);
  inflate_ok(z, &small, smsg, 1000); /* a small one does not count as a use of the size */
  assert_true(arq_ws_inflater_trim(z, keep));
  assert_int_equal(arq_ws_inflater_capacity(z), 0);

  /* a steady stream of large messages keeps one buffer: no reallocation between them */
  inflate_ok(z, &big, bmsg, 700 * 1024);
  size_t cap = arq_ws_inflater_capacity(z);
  for (int i = 0; i < 3; i++) {
    assert_false(arq_ws_inflater_trim(z, keep));
    inflate_ok(z, &big, bmsg, 700 * 1024);
    assert_int_equal(arq_ws_inflater_capacity(z), cap);
  }
  assert_false(arq_ws_inflater_trim(z, keep));
  assert_true(arq_ws_inflater_trim(z, keep));
  assert_int_equal(arq_ws_inflater_capacity(z), 0);

  /* a refused message (past its bound) grew the buffer to the bound: given back as well */
  const uint8_t *back;
  size_t blen;
  assert_ptr_equal(arq_ws_inflate(z, (const uint8_t *)bomb.data, bomb.len, 1 << 20, &back, &blen),
                   arq_ws_err_inflate_too_big);
  assert_int_equal(arq_ws_inflater_capacity(z), 1 << 20);
  assert_false(arq_ws_inflater_trim(z, keep));
  assert_true(arq_ws_inflater_trim(z, keep));
  assert_int_equal(arq_ws_inflater_capacity(z), 0);
  inflate_ok(z, &small, smsg, 1000); /* and works afterwards */

  free(bmsg);
  free(smsg);
  arq_buf_free(&big);
  arq_buf_free(&small);
  arq_buf_free(&bomb);
  arq_ws_deflater_free(d);
  arq_ws_inflater_free(z);
}

/* ---------------------------------------------------------------- the reader */

static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};

/* Appends a masked client frame with the given first byte (FIN, RSV, opcode). */
static void frame(arq_buf_t *b, uint8_t b0, const void *payload, size_t len) {
  uint8_t h[14];
  size_t hl = arq_ws_frame_header(h, (uint8_t)(b0 & 0x0F), (b0 & 0x80) != 0, len, key);
  h[0] = b0;
  arq_buf_append(b, h, hl);
  size_t at = b->len;
  arq_buf_append(b, payload, len);
  arq_ws_mask((uint8_t *)b->data + at, len, key, 0);
}

/* Feeds everything whole and byte by byte; returns the last event of the whole feed and
 * checks the byte-by-byte feed ends the same. */
static arq_ws_event_t read_all(const arq_buf_t *b, arq_ws_inflater_t *z, size_t max, size_t *nmsgs,
                               uint8_t *copy, size_t *copy_len) {
  arq_ws_event_t last = {0};
  for (int pass = 0; pass < 2; pass++) {
    arq_ws_reader_t r;
    arq_ws_reader_init(&r, max, true);
    arq_ws_reader_set_inflater(&r, z);
    size_t off = 0, msgs = 0;
    arq_ws_event_t ev = {0}, end = {0};
    while (off < b->len) {
      size_t step = pass == 0 ? b->len - off : 1;
      size_t used = arq_ws_reader_feed(&r, (const uint8_t *)b->data + off, step, &ev);
      off += used;
      if (ev.type == ARQ_WS_EV_MESSAGE) {
        msgs++;
        if (pass == 0 && copy) {
          memcpy(copy, ev.data, ev.len);
          *copy_len = ev.len;
        }
      }
      if (ev.type != ARQ_WS_EV_NONE)
        end = ev;
      if (ev.type == ARQ_WS_EV_ERROR)
        break;
    }
    if (pass == 0) {
      last = end;
      *nmsgs = msgs;
    } else {
      assert_int_equal(end.type, last.type);
      assert_ptr_equal(end.error, last.error);
      assert_int_equal(msgs, *nmsgs);
    }
    arq_ws_reader_free(&r);
  }
  return last;
}

static void reader(void **state) {
  arq_ws_inflater_t *z = arq_ws_inflater_new();
  arq_ws_deflater_t *d = arq_ws_deflater_new();
  arq_buf_t b, c;
  arq_buf_init(&b);
  arq_buf_init(&c);
  size_t msgs;
  uint8_t got[8192];
  size_t got_len = 0;

  /* RSV1 without the extension: 1002 */
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_TEXT, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
  arq_ws_event_t ev = read_all(&b, NULL, 1000, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_rsv);
  assert_int_equal(ev.close_code, 1002);
  /* with it: "Hello" */
  ev = read_all(&b, z, 1000, &msgs, got, &got_len);
  assert_int_equal(ev.type, ARQ_WS_EV_MESSAGE);
  assert_int_equal(got_len, 5);
  assert_memory_equal(got, "Hello", 5);
  assert_int_equal(ev.wire_len, 7);

  /* RSV1 on a control frame, or on a continuation: 1002 */
  arq_buf_reset(&b);
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_PING, "", 0);
  ev = read_all(&b, z, 1000, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_rsv_compressed);
  assert_int_equal(ev.close_code, 1002);
  arq_buf_reset(&b);
  frame(&b, ARQ_WS_RSV1 | ARQ_WS_OP_TEXT, "\xf2\x48", 2);
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_CONT, "\xcd\xc9\xc9\x07\x00", 5);
  ev = read_all(&b, z, 1000, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_rsv_compressed);
  /* RSV2 is never ours */
  arq_buf_reset(&b);
  frame(&b, 0x80 | 0x20 | ARQ_WS_OP_TEXT, "x", 1);
  ev = read_all(&b, z, 1000, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_rsv);

  /* a compressed message in fragments with a ping between, then a plain one */
  arq_buf_reset(&b);
  uint8_t *msg = json_like(4000);
  arq_ws_deflate(d, msg, 4000, &c);
  size_t half = c.len / 2;
  frame(&b, ARQ_WS_RSV1 | ARQ_WS_OP_TEXT, c.data, half);
  frame(&b, 0x80 | ARQ_WS_OP_PING, "p", 1);
  frame(&b, 0x80 | ARQ_WS_OP_CONT, c.data + half, c.len - half);
  ev = read_all(&b, z, 4000, &msgs, got, &got_len);
  assert_int_equal(msgs, 1);
  assert_int_equal(got_len, 4000);
  assert_memory_equal(got, msg, 4000);
  frame(&b, 0x80 | ARQ_WS_OP_BINARY, "plain", 5);
  ev = read_all(&b, z, 4000, &msgs, got, &got_len);
  assert_int_equal(msgs, 2);
  assert_int_equal(got_len, 5);
  assert_int_equal(ev.wire_len, 0);
  /* the same inflating one byte past the bound: 1009 */
  arq_buf_reset(&b);
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_TEXT, c.data, c.len);
  ev = read_all(&b, z, 3999, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_inflate_too_big);
  assert_int_equal(ev.close_code, 1009);
  free(msg);

  /* invalid UTF-8 inside a compressed text message: 1007; the same as binary is fine */
  arq_ws_deflate(d, (const uint8_t *)"\xff\xfe", 2, &c);
  arq_buf_reset(&b);
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_TEXT, c.data, c.len);
  ev = read_all(&b, z, 1000, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_text_utf8);
  assert_int_equal(ev.close_code, 1007);
  arq_buf_reset(&b);
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_BINARY, c.data, c.len);
  ev = read_all(&b, z, 1000, &msgs, NULL, NULL);
  assert_int_equal(ev.type, ARQ_WS_EV_MESSAGE);

  /* corrupt deflate data: 1007 */
  arq_buf_reset(&b);
  frame(&b, 0x80 | ARQ_WS_RSV1 | ARQ_WS_OP_BINARY, "\x07\x00\x11", 3);
  ev = read_all(&b, z, 1000, &msgs, NULL, NULL);
  assert_ptr_equal(ev.error, arq_ws_err_inflate_corrupt);
  assert_int_equal(ev.close_code, 1007);

  arq_buf_free(&b);
  arq_buf_free(&c);
  arq_ws_deflater_free(d);
  arq_ws_inflater_free(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(negotiate),
      cmocka_unit_test(rfc_vector),
      cmocka_unit_test(roundtrip),
      cmocka_unit_test(bomb_and_corrupt),
      cmocka_unit_test(trim),
      cmocka_unit_test(reader),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
