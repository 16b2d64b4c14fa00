#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "brain/rules.h"

/* The partition function is part of the wire contract between Brains: pinned values. */
static void partition_is_fnv1a_of_tenant_slash_room(void **state) {
  assert_int_equal(arq_brain_partition("", "", 0), 0);
  /* The same hash computed here, and one value computed independently (Python). */
  uint32_t h = 2166136261u;
  const char *s = "T1/Big";
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  assert_int_equal(arq_brain_partition("T1", "Big", 1u << 31), h % (1u << 31));
  assert_int_equal(arq_brain_partition("T1", "Big", 4), h % 4);
  assert_int_equal(arq_brain_partition("a", "b", 0xffffffffu), 0x3a8e75c1u);
  /* Tenant and room are not interchangeable. */
  assert_int_not_equal(arq_brain_partition("ab", "c", 1000003), arq_brain_partition("a", "bc", 1000003));
  for (uint32_t p = 1; p < 50; p++)
    assert_true(arq_brain_partition("T", "room", p) < p);
}

static void stamp_checks(void **state) {
  assert_null(arq_brain_check_stamp("T1", "T1", "bob", "T1", "bob"));
  assert_string_equal(arq_brain_check_stamp("T1", "T2", "bob", "T1", "bob"),
                      "x-arqon-tenant differs from the subject's tenant");
  assert_string_equal(arq_brain_check_stamp("T1", "T1", "bob", "T2", "bob"),
                      "envelope tenant_id differs from the subject's tenant");
  assert_string_equal(arq_brain_check_stamp("T1", "T1", "bob", "T1", "eve"),
                      "envelope sender differs from x-arqon-sender");
  assert_non_null(arq_brain_check_stamp("T1", NULL, "bob", "T1", "bob"));
  assert_non_null(arq_brain_check_stamp("T1", "T1", "bob", NULL, "bob"));
  assert_non_null(arq_brain_check_stamp("T1", "T1", "", "T1", ""));
}

static void history_args(void **state) {
  arq_brain_history_args_t a;
  char err[160];
  assert_int_equal(arq_brain_history_args(NULL, 0, &a, err, sizeof err), 0);
  assert_true(a.since_seq == 0 && a.limit == ARQ_BRAIN_HISTORY_CAP);
  const char *ok = "{\"since_seq\":17,\"limit\":5}";
  assert_int_equal(arq_brain_history_args((const uint8_t *)ok, strlen(ok), &a, err, sizeof err), 0);
  assert_true(a.since_seq == 17 && a.limit == 5);
  const char *big = "{\"limit\":1e6}";
  assert_int_equal(arq_brain_history_args((const uint8_t *)big, strlen(big), &a, err, sizeof err), 0);
  assert_int_equal(a.limit, ARQ_BRAIN_HISTORY_CAP);
  const char *bad[] = {"{\"limit\":0}", "{\"limit\":-1}", "{\"since_seq\":1.5}", "[1]", "nope",
                       "{\"since_seq\":\"3\"}", "{\"limit\":1,\"limit\":2}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_int_equal(arq_brain_history_args((const uint8_t *)bad[i], strlen(bad[i]), &a, err, sizeof err), -1);
    assert_true(err[0] != '\0');
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(partition_is_fnv1a_of_tenant_slash_room),
      cmocka_unit_test(stamp_checks),
      cmocka_unit_test(history_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
