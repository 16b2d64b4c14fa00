/* [valkey] url (src/common/redis_url.h): credentials, percent-encoding, what is refused,
 * and that a password never survives redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/redis_url.h"

static void parses_every_part(void **state) {
  arq_redis_url_t u;
  const char *why = NULL;
  assert_int_equal(arq_redis_url_parse("redis://127.0.0.1", &u, &why), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_true(u.port == 6379 && u.db == 0 && !u.user[0] && !u.password[0]);
  assert_int_equal(arq_redis_url_parse("redis://arq:p%40ss%2F1@redis.internal:6380/3", &u, &why), 0);
  assert_string_equal(u.user, "arq");
  assert_string_equal(u.password, "p@ss/1");
  assert_string_equal(u.host, "redis.internal");
  assert_true(u.port == 6380 && u.db == 3);
  assert_int_equal(arq_redis_url_parse("redis://:only-password@h/", &u, &why), 0);
  assert_true(!u.user[0] && !strcmp(u.password, "only-password") && u.db == 0 && !u.tls);
  assert_int_equal(arq_redis_url_parse("rediss://arq:pw@redis.internal:6380/2", &u, &why), 0);
  assert_true(u.tls && u.port == 6380 && u.db == 2 && !strcmp(u.host, "redis.internal") && !strcmp(u.password, "pw"));
}

static void refuses_with_a_reason(void **state) {
  static const char *const bad[] = {
      "rediss://",              "http://h",          "redis://",           "redis://h:0",
      "redis://h:70000",        "redis://h:12x",     "redis://h/db",       "redis://user@h",
      "redis://u:@h",           "redis://u:p%4@h",   "redis://u:p%00@h",   "redis://u:a@b@h",
      "redis://h:6379?x=1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    arq_redis_url_t u;
    const char *why = NULL;
    if (arq_redis_url_parse(bad[i], &u, &why) != -1 || !why || !*why)
      fail_msg("accepted: %s", bad[i]);
  }
  arq_redis_url_t u;
  const char *why = NULL;
  arq_redis_url_parse("redis:/h", &u, &why);
  assert_non_null(strstr(why, "rediss:// for TLS"));
}

static void redaction_hides_the_password(void **state) {
  char buf[256];
  assert_string_equal(arq_redis_url_redacted("redis://arq:s3cret@h:1/2", buf, sizeof buf), "redis://arq:***@h:1/2");
  assert_string_equal(arq_redis_url_redacted("redis://:s3cret@h", buf, sizeof buf), "redis://:***@h");
  assert_string_equal(arq_redis_url_redacted("redis://h:6379/0", buf, sizeof buf), "redis://h:6379/0");
  assert_string_equal(arq_redis_url_redacted("rediss://u:s3cret@h", buf, sizeof buf), "rediss://u:***@h");
  assert_null(strstr(arq_redis_url_redacted("redis://u:a:b@h", buf, sizeof buf), "a:b"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_every_part),
      cmocka_unit_test(refuses_with_a_reason),
      cmocka_unit_test(redaction_hides_the_password),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
