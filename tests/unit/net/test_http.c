/* The request-head parser (valid heads, pipelining, every split point, each error class),
 * the header, token and query helpers, and the response writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"

static arq_http_request_t req;

static int parse(const char *s) { return arq_http_parse_request(s, strlen(s), 8192, &req); }

static bool view_eq(const char *p, size_t n, const char *want) {
  return n == strlen(want) && memcmp(p, want, n) == 0;
}

#define assert_view(p, n, want) assert_true(view_eq(p, n, want))

static void simple_get(void **state) {
  const char *s = "GET /ws?token=abc&x=1 HTTP/1.1\r\n"
                  "Host: example.com:4000\r\n"
                  "Upgrade:websocket\r\n"
                  "X-Spaces: \t a b \t\r\n"
                  "Empty:\r\n"
                  "\r\n";
  assert_int_equal(parse(s), (int)strlen(s));
  assert_view(req.method, req.method_len, "GET");
  assert_view(req.target, req.target_len, "/ws?token=abc&x=1");
  assert_view(req.path, req.path_len, "/ws");
  assert_view(req.query, req.query_len, "token=abc&x=1");
  assert_int_equal(req.minor_version, 1);
  assert_int_equal(req.nheaders, 4);
  assert_view(req.headers[0].name, req.headers[0].name_len, "Host");
  assert_view(req.headers[0].value, req.headers[0].value_len, "example.com:4000");
  assert_view(req.headers[1].value, req.headers[1].value_len, "websocket");
  assert_view(req.headers[2].value, req.headers[2].value_len, "a b");
  assert_view(req.headers[3].value, req.headers[3].value_len, "");
  assert_int_equal(req.content_length, -1);
  assert_true(req.keep_alive);
  assert_null(req.problem);
}

static void forms_and_versions(void **state) {
  assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  assert_view(req.path, req.path_len, "/");
  assert_int_equal(req.query_len, 0);
  assert_true(parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  assert_view(req.path, req.path_len, "/a");
  assert_view(req.query, req.query_len, "");
  assert_true(parse("GET /a/%7Eb?q=%41 HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  assert_view(req.path, req.path_len, "/a/%7Eb");
  assert_true(parse("GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n") > 0);
  assert_view(req.path, req.path_len, "/x");
  assert_view(req.query, req.query_len, "y");
  assert_true(parse("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n") > 0);
  assert_int_equal(req.path_len, 0);
  assert_true(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  assert_view(req.path, req.path_len, "*");
  /* HTTP/1.0: no Host needed, close by default, keep-alive on request */
  assert_true(parse("GET / HTTP/1.0\r\n\r\n") > 0);
  assert_int_equal(req.minor_version, 0);
  assert_false(req.keep_alive);
  assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
  assert_true(req.keep_alive);
  assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, close\r\n\r\n") > 0);
  assert_false(req.keep_alive);
  assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n") > 0);
  assert_false(req.keep_alive);
  assert_true(parse("M-SEARCH / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n") > 0); /* obs-text */
}

static void content_length_and_pipelining(void **state) {
  const char *head = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
  char buf[256];
  snprintf(buf, sizeof buf, "%shelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n", head);
  int n = parse(buf);
  assert_int_equal(n, (int)strlen(head));
  assert_int_equal(req.content_length, 5);
  assert_int_equal(arq_http_parse_request(buf + n + 5, strlen(buf) - (size_t)n - 5, 8192, &req),
                   (int)strlen(buf) - n - 5);
  assert_view(req.path, req.path_len, "/next");
  assert_int_equal(req.content_length, -1);
  assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 000\r\n\r\n") > 0);
  assert_int_equal(req.content_length, 0);
  assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999999\r\n\r\n") > 0);
  assert_int_equal(req.content_length, 999999999999999999);
}

/* Every proper prefix of a valid head needs more bytes; the parser never reads past len
 * (each prefix is copied into an exact-size heap block, so ASan catches an overread). */
static void every_split_point(void **state) {
  const char *heads[] = {
      "GET /ws?token=a%20b HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "POST /x HTTP/1.0\r\nContent-Length: 12\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\nA:\r\nB: \t\r\n\r\n",
  };
  for (size_t h = 0; h < sizeof heads / sizeof *heads; h++) {
    size_t len = strlen(heads[h]);
    for (size_t cut = 0; cut < len; cut++) {
      char *p = malloc(cut ? cut : 1);
      memcpy(p, heads[h], cut);
      if (arq_http_parse_request(p, cut, 8192, &req) != 0)
        fail_msg("head %zu prefix %zu", h, cut);
      free(p);
    }
    assert_int_equal(parse(heads[h]), (int)len);
  }
}

typedef struct {
  const char *in;
  size_t len;
  int err;
} bad_t;

#define B(lit, e) {lit, sizeof lit - 1, e}

static const bad_t bad[] = {
    /* request line */
    B("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /a#f HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET a HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET * HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTX/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.10\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / http/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\rHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET\x00/ HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    /* header syntax */
    B("GET / HTTP/1.1\r\nHost : h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\n Host: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: h\r\n\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: h\r\n\r\r", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\n: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHo\"st: h\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: a\x00" "b\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: a\x1b" "b\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    /* semantics */
    B("GET / HTTP/1.1\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999999999999999\r\n\r\n",
     ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
     ARQ_HTTP_E_BAD_REQUEST),
    B("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
     ARQ_HTTP_E_NOT_IMPLEMENTED),
    B("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: identity\r\n\r\n",
     ARQ_HTTP_E_NOT_IMPLEMENTED),
    /* versions */
    B("GET / HTTP/2.0\r\nHost: h\r\n\r\n", ARQ_HTTP_E_VERSION),
    B("GET / HTTP/1.2\r\nHost: h\r\n\r\n", ARQ_HTTP_E_VERSION),
    B("GET / HTTP/0.9\r\nHost: h\r\n\r\n", ARQ_HTTP_E_VERSION),
    B("GET / HTTP/9.9\r\n", ARQ_HTTP_E_VERSION),
};

/* Each bad head fails with its class, and the failure is final: any longer input that
 * starts the same way fails the same way, and shorter prefixes either need more bytes or
 * already fail identically. */
static void errors(void **state) {
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t len = bad[i].len;
    int rc = arq_http_parse_request(bad[i].in, len, 8192, &req);
    if (rc != bad[i].err)
      fail_msg("case %zu: got %d, want %d", i, rc, bad[i].err);
    assert_non_null(req.problem);
    for (size_t cut = 0; cut < len; cut++) {
      rc = arq_http_parse_request(bad[i].in, cut, 8192, &req);
      if (rc != 0 && rc != bad[i].err)
        fail_msg("case %zu prefix %zu: got %d", i, cut, rc);
    }
  }
}

static void limits(void **state) {
  char buf[12000];
  /* a target of exactly 4096 bytes passes, 4097 gets 414 before the line ends */
  int n = snprintf(buf, sizeof buf, "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 4095, 0);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n, 8192, &req), n);
  assert_int_equal(req.target_len, 4096);
  n = snprintf(buf, sizeof buf, "GET /%0*d", 4096, 0);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n, 8192, &req), ARQ_HTTP_E_URI_TOO_LONG);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n - 1, 8192, &req), 0);

  /* the head may be exactly max_head long; one byte less is too large */
  n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\nX: %0*d\r\n\r\n", 1000, 0);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n, (size_t)n, &req), n);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n, (size_t)n - 1, &req),
                   ARQ_HTTP_E_TOO_LARGE);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n - 1, (size_t)n, &req), 0);
  /* a slow endless header hits the limit */
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
  assert_int_equal(arq_http_parse_request(buf, 8191, 8192, &req), 0);
  assert_int_equal(arq_http_parse_request(buf, 8192, 8192, &req), ARQ_HTTP_E_TOO_LARGE);
  assert_int_equal(arq_http_parse_request(buf, sizeof buf, 8192, &req), ARQ_HTTP_E_TOO_LARGE);

  /* 64 headers pass, the 65th is refused */
  size_t len = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
  for (int i = 1; i < 64; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "X-%d: v\r\n", i);
  memcpy(buf + len, "\r\n", 3);
  assert_int_equal(arq_http_parse_request(buf, len + 2, 8192, &req), (int)len + 2);
  assert_int_equal(req.nheaders, 64);
  len += (size_t)snprintf(buf + len, sizeof buf - len, "X-64: v\r\n\r\n");
  assert_int_equal(arq_http_parse_request(buf, len, 8192, &req), ARQ_HTTP_E_TOO_LARGE);

  /* a limit beyond what an int return can express is clamped, not misread */
  n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert_int_equal(arq_http_parse_request(buf, (size_t)n, SIZE_MAX, &req), n);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n - 1, SIZE_MAX, &req), 0);

  /* an over-long method */
  n = snprintf(buf, sizeof buf, "%0*d / HTTP/1.1\r\nHost: h\r\n\r\n", 33, 0);
  assert_int_equal(arq_http_parse_request(buf, (size_t)n, 8192, &req), ARQ_HTTP_E_BAD_REQUEST);
}

static void error_table(void **state) {
  assert_int_equal(arq_http_error_status(ARQ_HTTP_E_BAD_REQUEST), 400);
  assert_int_equal(arq_http_error_status(ARQ_HTTP_E_URI_TOO_LONG), 414);
  assert_int_equal(arq_http_error_status(ARQ_HTTP_E_TOO_LARGE), 431);
  assert_int_equal(arq_http_error_status(ARQ_HTTP_E_NOT_IMPLEMENTED), 501);
  assert_int_equal(arq_http_error_status(ARQ_HTTP_E_VERSION), 505);
  assert_int_equal(arq_http_error_status(-99), 500);
  assert_string_equal(arq_http_error_message(ARQ_HTTP_E_URI_TOO_LONG), "request-target too long");
  assert_string_equal(arq_http_error_message(7), "unknown error");
  assert_string_equal(arq_http_status_reason(431), "Request Header Fields Too Large");
  assert_string_equal(arq_http_status_reason(101), "Switching Protocols");
  assert_string_equal(arq_http_status_reason(299), "Unknown");
}

static void header_helpers(void **state) {
  assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n") > 0);
  const arq_http_header_t *h = arq_http_header(&req, "X-A");
  assert_non_null(h);
  assert_view(h->value, h->value_len, "1");
  assert_non_null(arq_http_header(&req, "HOST"));
  assert_null(arq_http_header(&req, "X-B"));
  assert_null(arq_http_header(&req, "X-"));

  const char *v = "keep-alive, Upgrade";
  assert_true(arq_http_header_has_token(v, strlen(v), "upgrade"));
  assert_true(arq_http_header_has_token(v, strlen(v), "Keep-Alive"));
  assert_false(arq_http_header_has_token(v, strlen(v), "keep"));
  assert_false(arq_http_header_has_token(v, strlen(v), "close"));
  v = " ,\tclose\t, ,";
  assert_true(arq_http_header_has_token(v, strlen(v), "close"));
  assert_false(arq_http_header_has_token("", 0, "close"));
  assert_true(arq_http_header_has_token("x,", 2, "")); /* empty elements are empty tokens */
  assert_false(arq_http_header_has_token("upgrade", 6, "upgrade")); /* length is respected */
}

static int qp(const char *q, const char *name, char *out, size_t cap) {
  return arq_http_query_param(q, strlen(q), name, out, cap);
}

static void query_params(void **state) {
  char out[16];
  assert_int_equal(qp("token=abc&x=1", "token", out, sizeof out), 3);
  assert_string_equal(out, "abc");
  assert_int_equal(qp("token=abc&x=1", "x", out, sizeof out), 1);
  assert_string_equal(out, "1");
  assert_int_equal(qp("token=abc&x=1", "y", out, sizeof out), -1);
  assert_int_equal(qp("", "y", out, sizeof out), -1);
  assert_int_equal(qp("a=%41%2b+b&", "a", out, sizeof out), 4);
  assert_string_equal(out, "A+ b");
  assert_int_equal(qp("flag&a=1", "flag", out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(qp("x=1&x=2", "x", out, sizeof out), 1);
  assert_string_equal(out, "1");
  assert_int_equal(qp("my%20key=v", "my key", out, sizeof out), 1);
  assert_int_equal(qp("tok=a=b", "tok", out, sizeof out), 3);
  assert_string_equal(out, "a=b");
  assert_int_equal(qp("tokenx=1&token=2", "token", out, sizeof out), 1);
  assert_string_equal(out, "2");
  /* too long: 15 bytes fit with the NUL, 16 do not */
  assert_int_equal(qp("t=123456789012345", "t", out, sizeof out), 15);
  assert_int_equal(qp("t=1234567890123456", "t", out, sizeof out), -2);
  assert_int_equal(qp("t=1", "t", out, 0), -2);
  assert_int_equal(qp("t=1", "t", out, SIZE_MAX), 1); /* a huge cap is clamped, not trusted */
  /* malformed escapes and NUL */
  assert_int_equal(qp("t=%4", "t", out, sizeof out), -2);
  assert_int_equal(qp("t=%zz", "t", out, sizeof out), -2);
  assert_int_equal(qp("t=%00", "t", out, sizeof out), -2);
  assert_int_equal(qp("t=%", "t", out, sizeof out), -2);
  /* a malformed name does not match, a later good pair still does */
  assert_int_equal(qp("%zz=1&t=2", "t", out, sizeof out), 1);
  /* the length bounds the query, not the NUL */
  assert_int_equal(arq_http_query_param("t=12&u=3", 4, "t", out, sizeof out), 2);
  assert_int_equal(arq_http_query_param("t=12&u=3", 4, "u", out, sizeof out), -1);
}

static void response_writer(void **state) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_http_write_response(&b, 200, "text/plain", "ok\n", 3, true, NULL);
  assert_string_equal(b.data, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                              "Connection: keep-alive\r\n\r\nok\n");
  arq_buf_reset(&b);
  arq_http_write_response(&b, 401, "application/json", "{}", 2, false,
                          "WWW-Authenticate: Bearer\r\n");
  assert_string_equal(b.data, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                              "Content-Length: 2\r\nConnection: close\r\n"
                              "WWW-Authenticate: Bearer\r\n\r\n{}");
  arq_buf_reset(&b);
  arq_http_write_response(&b, 404, NULL, NULL, 0, true, NULL);
  assert_string_equal(b.data, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                              "Connection: keep-alive\r\n\r\n");
  arq_buf_reset(&b);
  arq_http_write_response(&b, 500, NULL, "x", 1, false, NULL);
  assert_string_equal(b.data, "HTTP/1.1 500 Internal Server Error\r\n"
                              "Content-Type: application/octet-stream\r\nContent-Length: 1\r\n"
                              "Connection: close\r\n\r\nx");
  arq_buf_reset(&b);
  arq_http_write_response(&b, 204, "text/plain", "ignored", 7, true, NULL);
  assert_string_equal(b.data, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  arq_buf_reset(&b);
  arq_http_write_response(&b, 101, NULL, NULL, 0, true, "Upgrade: websocket\r\n");
  assert_string_equal(b.data, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
  arq_buf_reset(&b);
  arq_http_write_response(&b, 426, "text/plain", "x", 1, false, "Sec-WebSocket-Version: 13\r\n");
  assert_non_null(strstr(b.data, "\r\nSec-WebSocket-Version: 13\r\n\r\nx"));
  const char *line = "HTTP/1.1 426 Upgrade Required\r\n";
  assert_int_equal(strncmp(b.data, line, strlen(line)), 0);
  arq_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(simple_get),
      cmocka_unit_test(forms_and_versions),
      cmocka_unit_test(content_length_and_pipelining),
      cmocka_unit_test(every_split_point),
      cmocka_unit_test(errors),
      cmocka_unit_test(limits),
      cmocka_unit_test(error_table),
      cmocka_unit_test(header_helpers),
      cmocka_unit_test(query_params),
      cmocka_unit_test(response_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
