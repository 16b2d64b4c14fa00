/* The server API's keys file (src/shield/api_keys.h): what it accepts, what it refuses
 * with file:line, and lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shield/api_keys.h"

#define KEY_A "aaaaaaaaaaaaaaaa-1"
#define KEY_B "bbbbbbbbbbbbbbbb-2"

static arq_api_keys_t *parse(const char *text, char *err, size_t cap) {
  err[0] = '\0';
  return arq_api_keys_parse("keys", text, strlen(text), err, cap);
}

static void lines_comments_and_lookups(void **state) {
  char err[256], tenant[ARQ_ID_MAX_LEN + 1];
  arq_api_keys_t *k = parse("# backends\n\n" KEY_A " *\n  " KEY_B "\tT1   # billing\r\n# end", err, sizeof err);
  assert_non_null(k);
  assert_int_equal(arq_api_keys_count(k), 2);
  assert_true(arq_api_keys_find(k, KEY_A, strlen(KEY_A), tenant));
  assert_string_equal(tenant, "*");
  assert_true(arq_api_keys_find(k, KEY_B, strlen(KEY_B), tenant));
  assert_string_equal(tenant, "T1");
  /* Prefixes, extensions, other case, empty: not keys. */
  assert_false(arq_api_keys_find(k, KEY_B, strlen(KEY_B) - 1, tenant));
  assert_false(arq_api_keys_find(k, KEY_B "x", strlen(KEY_B) + 1, tenant));
  assert_false(arq_api_keys_find(k, "BBBBBBBBBBBBBBBB-2", 18, tenant));
  assert_false(arq_api_keys_find(k, "", 0, tenant));
  arq_api_keys_free(k);
  /* An empty file is a file with no keys: every request is refused. */
  k = parse("", err, sizeof err);
  assert_non_null(k);
  assert_false(arq_api_keys_find(k, KEY_A, strlen(KEY_A), tenant));
  arq_api_keys_free(k);
  assert_false(arq_api_keys_find(NULL, KEY_A, strlen(KEY_A), tenant));
}

static void bad_lines_are_refused_with_their_line(void **state) {
  static const struct {
    const char *text, *err;
  } bad[] = {
      {KEY_A "\n", "keys:1: expected `<key> <tenant>` or `<key> *`"},
      {"# ok\nshort T1\n", "keys:2: key shorter than 16 characters"},
      {KEY_A " T1 extra\n", "keys:1: more than two fields (`<key> <tenant>`)"},
      {KEY_A " bad.tenant\n", "keys:1: tenant is neither a valid id nor *"},
      {KEY_A " **\n", "keys:1: tenant is neither a valid id nor *"},
      {KEY_A " T1\n" KEY_A " T2\n", "keys:2: key listed twice"},
  };
  char err[256];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_null(parse(bad[i].text, err, sizeof err));
    assert_string_equal(err, bad[i].err);
  }
  char longkey[400];
  memset(longkey, 'k', 300);
  strcpy(longkey + 300, " T1\n");
  assert_null(parse(longkey, err, sizeof err));
  assert_string_equal(err, "keys:1: key longer than 256 characters");
  const char nul[] = "aaaaaaaaaaaaaaaa\0aaa T1\n";
  assert_null(arq_api_keys_parse("keys", nul, sizeof nul - 1, err, sizeof err));
  assert_string_equal(err, "keys:1: a NUL byte in a key");
}

static void a_missing_file_is_an_error(void **state) {
  char err[256];
  assert_null(arq_api_keys_load("/nonexistent/arqon-keys", err, sizeof err));
  assert_string_equal(err, "/nonexistent/arqon-keys: cannot read");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lines_comments_and_lookups),
      cmocka_unit_test(bad_lines_are_refused_with_their_line),
      cmocka_unit_test(a_missing_file_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
