/*
 * test_canary_report.c — a Shield's answer reads back as written; answers add up only for
 * the candidate revision in the bucket; the summary is the JSON that docs/policies.md shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/canary_report.h"

static arq_canary_counts_t sample(uint64_t k) {
  arq_canary_counts_t c = {0};
  c.verdicts[ARQ_CANARY_MESSAGE][ARQ_CANARY_ALLOW][ARQ_CANARY_ALLOW] = 10 * k;
  c.verdicts[ARQ_CANARY_MESSAGE][ARQ_CANARY_ALLOW][ARQ_CANARY_DENY] = 2 * k;
  c.verdicts[ARQ_CANARY_CONNECT][ARQ_CANARY_DENY][ARQ_CANARY_ERROR] = k;
  c.errors[ARQ_CANARY_TIME] = k;
  c.evaluations = 13 * k;
  c.ns_total = 1000 * k;
  c.ns_max = 100 * k;
  c.audit_published = k;
  c.audit_dropped = k + 1;
  return c;
}

static const arq_json_value_t *parse(arq_json_doc_t *doc, const arq_buf_t *b) {
  const arq_json_value_t *v = arq_json_parse(doc, b->data, b->len, NULL);
  assert_non_null(v);
  return v;
}

static void answers_read_back(void **state) {
  (void)state;
  arq_canary_counts_t c = sample(3), back;
  arq_buf_t b;
  arq_buf_init(&b);
  arq_canary_answer_write(&b, "n1", "acme", 7, 1234, &c);
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  char node[ARQ_ID_MAX_LEN + 1];
  uint64_t rev;
  int64_t since;
  assert_int_equal(arq_canary_answer_read(parse(&doc, &b), node, &rev, &since, &back), 0);
  assert_string_equal(node, "n1");
  assert_int_equal(rev, 7);
  assert_int_equal(since, 1234);
  assert_memory_equal(&c, &back, sizeof c);
  assert_int_equal(arq_canary_disagreements(&back), 9); /* 2k allow/deny and k deny/error */
  /* no candidate there: the revision only */
  arq_buf_reset(&b);
  arq_canary_answer_write(&b, "n2", "acme", 0, 0, &c);
  assert_non_null(strstr(b.data, "\"revision\":0"));
  assert_null(strstr(b.data, "verdicts"));
  assert_int_equal(arq_canary_answer_read(parse(&doc, &b), node, &rev, &since, &back), 0);
  assert_int_equal(rev, 0);
  /* what is not an answer */
  const char *bad[] = {"{}", "[]", "{\"node\":\"n 1\",\"revision\":1}", "{\"node\":\"n1\"}",
                       "{\"node\":\"n1\",\"revision\":-1}", "{\"node\":\"n1\",\"revision\":1,\"evaluations\":\"x\"}",
                       NULL};
  for (size_t i = 0; bad[i]; i++) {
    const arq_json_value_t *v = arq_json_parse(&doc, bad[i], strlen(bad[i]), NULL);
    assert_non_null(v);
    assert_int_equal(arq_canary_answer_read(v, node, &rev, &since, &back), -1);
  }
  arq_json_doc_free(&doc);
  arq_buf_free(&b);
}

static void only_the_bucket_revision_adds_up(void **state) {
  (void)state;
  arq_canary_report_t r = {.key = "acme", .candidate_revision = 7, .active_revision = 3};
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  arq_buf_t b;
  arq_buf_init(&b);
  const struct {
    const char *node;
    uint64_t rev, k;
  } answers[] = {{"n1", 7, 1}, {"n2", 7, 2}, {"n3", 6, 100}, {"n4", 0, 0}};
  for (size_t i = 0; i < 4; i++) {
    arq_canary_counts_t c = sample(answers[i].k);
    arq_buf_reset(&b);
    arq_canary_answer_write(&b, answers[i].node, "acme", answers[i].rev, 5, &c);
    arq_canary_report_add_answer(&r, parse(&doc, &b));
  }
  const char junk[] = "{\"hello\":1}";
  arq_canary_report_add_answer(&r, arq_json_parse(&doc, junk, sizeof junk - 1, NULL));
  assert_int_equal(r.answered, 4);
  assert_int_equal(r.counted, 2);
  arq_canary_counts_t three = sample(3);
  three.ns_max = 200; /* the largest, not the sum */
  three.audit_dropped = 5;
  assert_memory_equal(&r.sum, &three, sizeof three);
  assert_string_equal(r.shields[2].node, "n3");
  assert_int_equal(r.shields[2].revision, 6);

  arq_buf_reset(&b);
  arq_canary_report_write(&b, &r);
  const arq_json_value_t *v = parse(&doc, &b);
  uint64_t n = 0;
  assert_int_equal(arq_json_uint64(arq_json_object_get(v, "disagreements", 13), &n), 0);
  assert_int_equal(n, 9);
  assert_int_equal(arq_json_uint64(arq_json_object_get(v, "evaluations", 11), &n), 0);
  assert_int_equal(n, 39);
  assert_int_equal(arq_json_uint64(arq_json_object_get(v, "shields_counted", 15), &n), 0);
  assert_int_equal(n, 2);
  const arq_json_value_t *m = arq_json_object_get(arq_json_object_get(v, "verdicts", 8), "message", 7);
  assert_int_equal(arq_json_uint64(arq_json_object_get(arq_json_object_get(m, "allow", 5), "deny", 4), &n), 0);
  assert_int_equal(n, 6);
  assert_int_equal(arq_json_len(arq_json_object_get(v, "shields", 7)), 4);
  assert_true(arq_json_number(arq_json_object_get(arq_json_object_get(v, "latency_us", 10), "max", 3)) == 0.2);
  assert_non_null(strstr(b.data, "\"active_revision\":3"));
  r.active_revision = 0;
  arq_buf_reset(&b);
  arq_canary_report_write(&b, &r);
  assert_non_null(strstr(b.data, "\"active_revision\":null"));
  arq_json_doc_free(&doc);
  arq_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(answers_read_back),
      cmocka_unit_test(only_the_bucket_revision_adds_up),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
