/*
 * test_keys.c — the keys of the policy bucket: a candidate's key is never a tenant's, and
 * what is neither is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/keys.h"

static void keys_are_read(void **state) {
  (void)state;
  char base[ARQ_ID_MAX_LEN + 1];
  bool canary = true;
  assert_true(arq_policy_key_parse("acme", base, &canary));
  assert_string_equal(base, "acme");
  assert_false(canary);
  assert_true(arq_policy_key_parse("acme.canary", base, &canary));
  assert_string_equal(base, "acme");
  assert_true(canary);
  assert_true(arq_policy_key_parse("_global.canary", base, &canary));
  assert_string_equal(base, "_global");
  assert_true(canary);
  assert_true(arq_policy_key_parse("_global", base, &canary));
  assert_false(canary);
  /* a tenant may be called "canary": its key is "canary", its candidate "canary.canary" */
  assert_true(arq_policy_key_parse("canary", base, &canary));
  assert_false(canary);
  assert_true(arq_policy_key_parse("canary.canary", base, &canary));
  assert_string_equal(base, "canary");
  assert_true(canary);
}

static void other_keys_are_refused(void **state) {
  (void)state;
  char base[ARQ_ID_MAX_LEN + 1];
  bool canary;
  const char *bad[] = {"", ".canary", "a.b", "a.b.canary", "acme.canary.canary", "acme.Canary",
                       "acme.", "a b", "acme.canary.", NULL};
  for (size_t i = 0; bad[i]; i++)
    assert_false(arq_policy_key_parse(bad[i], base, &canary));
  assert_false(arq_policy_key_parse(NULL, base, &canary));
  /* the longest tenant id, and its candidate; one more character is too long */
  char key[ARQ_POLICY_KEY_CAP + 1];
  memset(key, 'a', ARQ_ID_MAX_LEN);
  key[ARQ_ID_MAX_LEN] = '\0';
  assert_true(arq_policy_key_parse(key, base, &canary));
  char cand[ARQ_POLICY_KEY_CAP];
  arq_policy_canary_key(cand, key);
  assert_int_equal(strlen(cand), ARQ_ID_MAX_LEN + 7);
  assert_true(arq_policy_key_parse(cand, base, &canary));
  assert_true(canary);
  assert_string_equal(base, key);
  strcpy(key + ARQ_ID_MAX_LEN, "a.canary");
  assert_false(arq_policy_key_parse(key, base, &canary));
  assert_true(arq_policy_base_valid("_global"));
  assert_false(arq_policy_base_valid("acme.canary"));
  assert_false(arq_policy_base_valid(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keys_are_read),
      cmocka_unit_test(other_keys_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
