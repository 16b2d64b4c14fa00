#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/trace.h"

#define MANY 20000

static int by_text(const void *a, const void *b) { return memcmp(a, b, ARQ_TRACE_ID_LEN + 1); }

static void validity(void **state) {
  (void)state;
  assert_true(arq_trace_id_valid("4bf92f3577b34da6a3ce929d0e0e4736"));
  assert_false(arq_trace_id_valid("00000000000000000000000000000000"));
  assert_false(arq_trace_id_valid("4BF92F3577B34DA6A3CE929D0E0E4736")); /* upper case */
  assert_false(arq_trace_id_valid("4bf92f3577b34da6a3ce929d0e0e473"));  /* 31 digits */
  assert_false(arq_trace_id_valid("4bf92f3577b34da6a3ce929d0e0e4736a"));
  assert_false(arq_trace_id_valid("4bf92f3577b34da6a3ce929d0e0e473g"));
  assert_false(arq_trace_id_valid(NULL));
}

/* Every new id is valid, and many in a row are all distinct, with every hex digit used in
 * every position (a generator stuck on some bits would fail this). */
static void fresh_ids_are_valid_and_distinct(void **state) {
  (void)state;
  char(*ids)[ARQ_TRACE_ID_LEN + 1] = calloc(MANY, sizeof *ids);
  assert_non_null(ids);
  unsigned seen[ARQ_TRACE_ID_LEN] = {0};
  for (int i = 0; i < MANY; i++) {
    arq_trace_id_new(ids[i]);
    assert_true(arq_trace_id_valid(ids[i]));
    for (int k = 0; k < ARQ_TRACE_ID_LEN; k++) {
      char ch = ids[i][k];
      seen[k] |= 1u << (ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
  }
  for (int k = 0; k < ARQ_TRACE_ID_LEN; k++)
    assert_int_equal(seen[k], 0xffffu);
  qsort(ids, MANY, sizeof *ids, by_text);
  for (int i = 1; i < MANY; i++)
    assert_true(by_text(ids[i - 1], ids[i]) != 0);
  free(ids);
}

static void *first_id(void *out) {
  arq_trace_id_new(out);
  return NULL;
}

/* Each thread seeds its own generator: two threads never start with the same id. */
static void threads_draw_different_ids(void **state) {
  (void)state;
  char a[ARQ_TRACE_ID_LEN + 1], b[ARQ_TRACE_ID_LEN + 1];
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, first_id, a), 0);
  assert_int_equal(pthread_create(&tb, NULL, first_id, b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_true(arq_trace_id_valid(a));
  assert_true(arq_trace_id_valid(b));
  assert_string_not_equal(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(validity),
      cmocka_unit_test(fresh_ids_are_valid_and_distinct),
      cmocka_unit_test(threads_draw_different_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
