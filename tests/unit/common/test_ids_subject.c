#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/ids.h"
#include "common/subject.h"

static void ids(void **state) {
  assert_true(arq_id_valid_str("T1"));
  assert_true(arq_id_valid_str("a_b-C9"));
  char max[65];
  memset(max, 'x', 64);
  max[64] = '\0';
  assert_true(arq_id_valid_str(max));
  assert_false(arq_id_valid("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 65));
  const char *bad[] = {"", "a.b", "*", ">", "a b", "é", "a\nb", "a/b", NULL};
  for (int i = 0; bad[i]; i++)
    assert_false(arq_id_valid_str(bad[i]));
  assert_false(arq_id_valid("a\0b", 3)); /* embedded NUL */
  assert_false(arq_id_valid_str(NULL));
  assert_null(arq_id_problem("ok"));
  assert_string_equal(arq_id_problem(""), "must not be empty");
  assert_string_equal(arq_id_problem("a.b"), "may contain only A-Z, a-z, 0-9, '_' and '-'");
}

static void subjects(void **state) {
  assert_true(arq_subject_valid("in.t.T1.r.R1"));
  assert_false(arq_subject_valid("in.t.*"));
  assert_false(arq_subject_valid("in..t"));
  assert_false(arq_subject_valid(".in"));
  assert_false(arq_subject_valid("in."));
  assert_false(arq_subject_valid("in t"));
  assert_false(arq_subject_valid(""));
  assert_true(arq_subject_pattern_valid("in.t.*.r.>"));
  assert_true(arq_subject_pattern_valid(">"));
  assert_false(arq_subject_pattern_valid("in.>.r"));
  assert_false(arq_subject_pattern_valid("in.t*"));
  assert_false(arq_subject_pattern_valid("in.>x"));
}

static bool match(const char *p, const char *s) { return arq_subject_match(p, s, strlen(s)); }

static void matching(void **state) {
  assert_true(match("in.t.*.r.orders", "in.t.T1.r.orders"));
  assert_false(match("in.t.*.r.orders", "in.t.T1.r.orders2"));
  assert_false(match("in.t.*.r.orders", "in.t.T1.r.orders.x"));
  assert_false(match("in.t.*.r.orders", "in.t.T1.r"));
  assert_true(match("in.t.default.*", "in.t.default.x"));
  assert_false(match("in.t.default.*", "in.t.default.r.x"));
  assert_true(match("in.>", "in.t.a.r.b"));
  assert_false(match("in.>", "in"));
  assert_true(match(">", "a"));
  assert_true(match("a.b", "a.b"));
  assert_false(match("a.b", "a.bc"));
  assert_false(match("a.bc", "a.b"));
  assert_false(match("a", "a.b"));
  /* Only the given length counts. */
  assert_true(arq_subject_match("a.b", "a.b.c", 3));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids),
      cmocka_unit_test(subjects),
      cmocka_unit_test(matching),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
