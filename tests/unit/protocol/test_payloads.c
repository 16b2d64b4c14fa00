/* Unit tests for the server's own payloads (src/protocol/payloads.h): always valid JSON,
 * whatever a reason quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "protocol/payloads.h"

/* Parses b as JSON and returns the string member `key` (NULL when absent). */
static const char *member(arq_json_doc_t *doc, const arq_buf_t *b, const char *key) {
  const arq_json_value_t *root = arq_json_parse(doc, b->data, b->len, NULL);
  assert_non_null(root);
  const arq_json_value_t *v = arq_json_object_get(root, key, strlen(key));
  size_t len;
  return v && arq_json_type(v) == ARQ_JSON_STRING ? arq_json_string(v, &len) : NULL;
}

static void error_reasons_are_escaped_and_bounded(void **state) {
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  arq_buf_t b;
  arq_buf_init(&b);
  arq_payload_error(&b, 403, "not \"yours\"\\\n");
  assert_string_equal(member(&doc, &b, "reason"), "not \"yours\"\\\n");
  assert_memory_equal(b.data, "{\"code\":403,", 12);

  arq_buf_reset(&b); /* a lone surrogate's bytes and stray continuation bytes */
  arq_payload_error(&b, 400, "room \xed\xa0\x80 \x80\xff");
  assert_string_equal(member(&doc, &b, "reason"), "room \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");

  char longer[2000];
  memset(longer, 'x', sizeof longer - 3);
  memcpy(longer + 511, "\xc3\xa9", 2); /* a 2-byte character across the 512-byte cut */
  longer[sizeof longer - 1] = '\0';
  arq_buf_reset(&b);
  arq_payload_error(&b, 400, longer);
  const char *reason = member(&doc, &b, "reason");
  assert_int_equal(strlen(reason), 511); /* cut before the character, not inside it */
  arq_buf_free(&b);
  arq_json_doc_free(&doc);
}

static void http_errors_are_escaped(void **state) {
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  arq_buf_t b;
  arq_buf_init(&b);
  arq_payload_http_error(&b, "Bad Request", "key \"a\tb\" \x01");
  assert_string_equal(member(&doc, &b, "details"), "key \"a\tb\" \x01");
  assert_string_equal(member(&doc, &b, "error"), "Bad Request");
  assert_string_equal(b.data, "{\"error\":\"Bad Request\",\"details\":\"key \\\"a\\tb\\\" \\u0001\"}");
  arq_buf_free(&b);
  arq_json_doc_free(&doc);
}

static void welcome_and_heartbeat(void **state) {
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  arq_buf_t b;
  arq_buf_init(&b);
  arq_welcome_t w = {"0a1b2c3d-0-1", "edge-1", "T1", "alice", "1.2.3", "{\"max_message_bytes\":1}"};
  arq_payload_welcome(&b, &w);
  assert_string_equal(member(&doc, &b, "tenant_id"), "T1");
  assert_string_equal(member(&doc, &b, "conn_id"), "0a1b2c3d-0-1");
  const arq_json_value_t *root = arq_json_parse(&doc, b.data, b.len, NULL);
  const arq_json_value_t *limits = arq_json_object_get(root, "limits", 6);
  assert_non_null(limits);
  assert_int_equal(arq_json_type(limits), ARQ_JSON_OBJECT);

  arq_buf_reset(&b);
  arq_payload_heartbeat(&b, "edge-1", "0a1b2c3d", 42, 1795392000123);
  assert_string_equal(member(&doc, &b, "instance"), "0a1b2c3d");
  root = arq_json_parse(&doc, b.data, b.len, NULL);
  int64_t n = 0;
  assert_int_equal(arq_json_int64(arq_json_object_get(root, "connections", 11), &n), 0);
  assert_int_equal(n, 42);
  arq_buf_free(&b);
  arq_json_doc_free(&doc);
}

static void audit_records(void **state) {
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  arq_buf_t b;
  arq_buf_init(&b);
  const char *const fields[][2] = {{"action", "drop"}, {"conn", NULL}, {"reason", "quote \" \xff"}};
  arq_payload_audit(&b, 5, "brain", -1, fields, 3);
  assert_string_equal(member(&doc, &b, "reason"), "quote \" \xef\xbf\xbd");
  assert_null(member(&doc, &b, "conn")); /* absent, not "" or null */
  arq_buf_putc(&b, '\0');
  assert_null(strstr(b.data, "\"conn\""));
  assert_null(strstr(b.data, "\"code\""));
  arq_buf_reset(&b);
  arq_payload_audit(&b, 5, "shield", 403, fields, 1);
  const arq_json_value_t *root = arq_json_parse(&doc, b.data, b.len, NULL);
  int64_t code = 0;
  assert_int_equal(arq_json_int64(arq_json_object_get(root, "code", 4), &code), 0);
  assert_int_equal(code, 403);
  /* with the headers a policy read, as an object after the other members */
  arq_buf_reset(&b);
  const char *const headers[][2] = {{"x-arqon-tenant", "T1"}, {"x-mode", "a\"b"}};
  arq_payload_audit_headers(&b, 5, "shield", -1, fields, 1, headers, 2);
  root = arq_json_parse(&doc, b.data, b.len, NULL);
  assert_non_null(root);
  const arq_json_value_t *h = arq_json_object_get(root, "headers", 7);
  assert_non_null(h);
  assert_int_equal(arq_json_len(h), 2);
  assert_string_equal(arq_json_string(arq_json_object_get(h, "x-mode", 6), NULL), "a\"b");
  arq_buf_reset(&b);
  arq_payload_audit_headers(&b, 5, "shield", -1, fields, 1, headers, 0);
  arq_buf_putc(&b, '\0');
  assert_non_null(strstr(b.data, "\"headers\":{}"));
  arq_buf_free(&b);
  arq_json_doc_free(&doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(error_reasons_are_escaped_and_bounded),
      cmocka_unit_test(http_errors_are_escaped),
      cmocka_unit_test(welcome_and_heartbeat),
      cmocka_unit_test(audit_records),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
