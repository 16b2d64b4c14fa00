/* Member lists (egress.c): who is in a room, or has a user id, on one worker. Adding
 * grows the array; removing swaps the last member into the hole (order is not kept) and
 * says whether the connection was there. The connections are never dereferenced, so the
 * test uses distinct addresses of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "shield/shield.h"

static char slots[1000];
#define CONN(i) ((arq_conn_t *)(void *)&slots[i])

static bool contains(const arq_members_t *m, arq_conn_t *c) {
  for (size_t i = 0; i < m->len; i++)
    if (m->conns[i] == c)
      return true;
  return false;
}

static void add_and_remove(void **state) {
  (void)state;
  arq_members_t m = {0};
  assert_false(arq_members_remove(&m, CONN(0))); /* empty */
  arq_members_add(&m, CONN(1));
  arq_members_add(&m, CONN(2));
  arq_members_add(&m, CONN(3));
  assert_int_equal(m.len, 3);
  assert_false(arq_members_remove(&m, CONN(4))); /* not a member */
  assert_int_equal(m.len, 3);
  assert_true(arq_members_remove(&m, CONN(1))); /* the first: the last moves in */
  assert_int_equal(m.len, 2);
  assert_ptr_equal(m.conns[0], CONN(3));
  assert_ptr_equal(m.conns[1], CONN(2));
  assert_false(arq_members_remove(&m, CONN(1))); /* only once */
  assert_true(arq_members_remove(&m, CONN(2))); /* the last */
  assert_true(arq_members_remove(&m, CONN(3)));
  assert_int_equal(m.len, 0);
  assert_false(arq_members_remove(&m, CONN(3)));
  free(m.conns);
}

/* A connection added twice (one room joined by two paths) is listed twice and leaves one
 * entry per remove. */
static void duplicates_are_counted(void **state) {
  (void)state;
  arq_members_t m = {0};
  arq_members_add(&m, CONN(7));
  arq_members_add(&m, CONN(7));
  assert_int_equal(m.len, 2);
  assert_true(arq_members_remove(&m, CONN(7)));
  assert_int_equal(m.len, 1);
  assert_true(contains(&m, CONN(7)));
  assert_true(arq_members_remove(&m, CONN(7)));
  assert_int_equal(m.len, 0);
  free(m.conns);
}

/* Many members: the array grows (4, 8, 16, ...), and removing in any order keeps exactly
 * the others. */
static void growth_and_any_order(void **state) {
  (void)state;
  enum { N = 1000 };
  arq_members_t m = {0};
  for (size_t i = 0; i < N; i++)
    arq_members_add(&m, CONN(i));
  assert_int_equal(m.len, N);
  assert_true(m.cap >= N);
  assert_int_equal(m.cap & (m.cap - 1), 0); /* doubled from 4 */
  /* remove every third, then check membership of all */
  for (size_t i = 0; i < N; i += 3)
    assert_true(arq_members_remove(&m, CONN(i)));
  for (size_t i = 0; i < N; i++)
    assert_int_equal(contains(&m, CONN(i)), i % 3 != 0);
  /* the rest, from the end */
  for (size_t i = N; i-- > 0;)
    if (i % 3)
      assert_true(arq_members_remove(&m, CONN(i)));
  assert_int_equal(m.len, 0);
  size_t cap = m.cap;
  arq_members_add(&m, CONN(5)); /* the storage is reused */
  assert_int_equal(m.cap, cap);
  free(m.conns);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add_and_remove),
      cmocka_unit_test(duplicates_are_counted),
      cmocka_unit_test(growth_and_any_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
