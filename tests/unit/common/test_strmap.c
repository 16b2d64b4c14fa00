#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/strmap.h"

static void basic(void **state) {
  arq_strmap_t m;
  arq_strmap_init(&m);
  assert_null(arq_strmap_get(&m, "a", 1));
  assert_null(arq_strmap_put(&m, "a", 1, (void *)1));
  assert_ptr_equal(arq_strmap_put(&m, "a", 1, (void *)2), (void *)1);
  assert_ptr_equal(arq_strmap_get(&m, "a", 1), (void *)2);
  assert_null(arq_strmap_get(&m, "ab", 2));
  /* keys are byte strings: embedded NULs count */
  assert_null(arq_strmap_put(&m, "t\0r", 3, (void *)3));
  assert_null(arq_strmap_get(&m, "t", 1));
  assert_ptr_equal(arq_strmap_get(&m, "t\0r", 3), (void *)3);
  assert_int_equal(m.len, 2);
  assert_ptr_equal(arq_strmap_remove(&m, "a", 1), (void *)2);
  assert_null(arq_strmap_remove(&m, "a", 1));
  assert_int_equal(m.len, 1);
  arq_strmap_free(&m);
}

/* Many inserts and removes in a mixed order against a plain array as the model. */
static void churn_matches_model(void **state) {
  enum { N = 5000 };
  static int present[N];
  arq_strmap_t m;
  arq_strmap_init(&m);
  unsigned seed = 12345;
  for (int round = 0; round < 200000; round++) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)((seed >> 8) % N);
    char key[16];
    int len = snprintf(key, sizeof key, "k%d", k);
    if ((seed >> 4) & 1) {
      arq_strmap_put(&m, key, (size_t)len, (void *)(intptr_t)(k + 1));
      present[k] = 1;
    } else {
      void *v = arq_strmap_remove(&m, key, (size_t)len);
      assert_ptr_equal(v, present[k] ? (void *)(intptr_t)(k + 1) : NULL);
      present[k] = 0;
    }
  }
  size_t count = 0;
  for (int k = 0; k < N; k++) {
    char key[16];
    int len = snprintf(key, sizeof key, "k%d", k);
    assert_ptr_equal(arq_strmap_get(&m, key, (size_t)len), present[k] ? (void *)(intptr_t)(k + 1) : NULL);
    count += (size_t)present[k];
  }
  assert_int_equal(m.len, count);
  arq_strmap_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(basic), cmocka_unit_test(churn_matches_model)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
