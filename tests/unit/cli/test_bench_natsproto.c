#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loadgen/natsproto.h"

typedef struct {
  int ops[16];
  char text[16][64];
  int n;
} seen_t;

static void collect(void *ud, const arq_nats_msg_t *m) {
  seen_t *s = ud;
  assert_true(s->n < 16);
  s->ops[s->n] = (int)m->op;
  if (m->op == ARQ_NATS_OP_MSG)
    snprintf(s->text[s->n], 64, "%.*s|%.*s", (int)m->subject_len, m->subject, (int)m->payload_len,
             (const char *)m->payload);
  else
    snprintf(s->text[s->n], 64, "%.*s", (int)m->arg_len, m->arg ? m->arg : "");
  s->n++;
}

static const char stream[] = "INFO {\"server_id\":\"x\"}\r\nPING\r\n+OK\r\n"
                             "MSG a.b 1 5\r\nhe\r\nl\r\nMSG c 1 reply.to 0\r\n\r\nPONG\r\n"
                             "-ERR 'Permissions Violation'\r\n";

/* The same operations come out however the stream is cut into WebSocket messages. */
static void any_split(void **state) {
  (void)state;
  size_t len = strlen(stream);
  for (size_t cut = 0; cut <= len; cut++) {
    for (size_t step = 1; step <= 3; step++) {
      arq_nats_parser_t p;
      seen_t s = {0};
      arq_nats_parser_init(&p);
      assert_int_equal(arq_nats_parser_feed(&p, stream, cut, collect, &s), 0);
      for (size_t i = cut; i < len; i += step)
        assert_int_equal(arq_nats_parser_feed(&p, stream + i, len - i < step ? len - i : step,
                                              collect, &s), 0);
      assert_int_equal(s.n, 7);
      assert_int_equal(s.ops[0], ARQ_NATS_OP_INFO);
      assert_string_equal(s.text[0], "{\"server_id\":\"x\"}");
      assert_int_equal(s.ops[1], ARQ_NATS_OP_PING);
      assert_int_equal(s.ops[2], ARQ_NATS_OP_OK);
      assert_int_equal(s.ops[3], ARQ_NATS_OP_MSG);
      assert_string_equal(s.text[3], "a.b|he\r\nl"); /* the payload may hold CRLF */
      assert_int_equal(s.ops[4], ARQ_NATS_OP_MSG);
      assert_string_equal(s.text[4], "c|");
      assert_int_equal(s.ops[5], ARQ_NATS_OP_PONG);
      assert_int_equal(s.ops[6], ARQ_NATS_OP_ERR);
      assert_string_equal(s.text[6], "'Permissions Violation'");
      arq_nats_parser_free(&p);
    }
  }
}

static void violations(void **state) {
  (void)state;
  const char *bad[] = {"HELLO\r\n", "MSG a\r\n", "MSG a 1 x\r\n", "MSG a 1 b c 4\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    arq_nats_parser_t p;
    seen_t s = {0};
    arq_nats_parser_init(&p);
    assert_int_equal(arq_nats_parser_feed(&p, bad[i], strlen(bad[i]), collect, &s), -1);
    arq_nats_parser_free(&p);
  }
  /* A line that never ends is refused once it passes 64 KiB. */
  arq_nats_parser_t p;
  seen_t s = {0};
  arq_nats_parser_init(&p);
  char *junk = malloc(70000);
  memset(junk, 'I', 70000);
  assert_int_equal(arq_nats_parser_feed(&p, junk, 70000, collect, &s), -1);
  free(junk);
  arq_nats_parser_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(any_split), cmocka_unit_test(violations)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
