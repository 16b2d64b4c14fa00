#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/siphash.h"
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

/* ---- the hash: keyed per process ---- */

/* Known answers: SipHash-2-4 from the paper (key 00..0f, message 00..len-1); SipHash-1-3
 * with the all-zero key, which is CPython's bytes hash under PYTHONHASHSEED=0. */
static void siphash_known_answers(void **state) {
  uint8_t k[16], msg[16];
  for (int i = 0; i < 16; i++)
    k[i] = msg[i] = (uint8_t)i;
  arq_siphash_key_t key = arq_siphash_key(k);
  assert_int_equal(arq_siphash24(&key, msg, 0), 0x726fdb47dd0e0e31ULL);
  assert_int_equal(arq_siphash24(&key, msg, 1), 0x74f839c593dc67fdULL);
  assert_int_equal(arq_siphash24(&key, msg, 15), 0xa129ca6149be45e5ULL);
  uint8_t zero[16] = {0};
  arq_siphash_key_t z = arq_siphash_key(zero);
  assert_int_equal(arq_siphash13(&z, "a", 1), 0x407448d2b89b1813ULL);
  assert_int_equal(arq_siphash13(&z, "abcdefgh", 8), 0x3f7b849c0b8e35eaULL);
  assert_int_equal(arq_siphash13(&z, "tenant\0room-0001", 16), 0xc0b43e968b2aa47fULL);
  assert_int_equal(arq_siphash13(&z, msg, 15), 0xf30eb725bb91c9eaULL);
  /* another key, another function */
  arq_siphash_key_t r1 = arq_siphash_key_random(), r2 = arq_siphash_key_random();
  assert_false(r1.k0 == r2.k0 && r1.k1 == r2.k1);
  assert_int_not_equal(arq_siphash13(&r1, "lobby", 5), arq_siphash13(&r2, "lobby", 5));
}

/* What a child process of this test says: the map hash of "lobby", then the iteration
 * order of sixteen keys. */
static void print_hash_and_order(void) {
  arq_strmap_t m;
  arq_strmap_init(&m);
  for (int i = 0; i < 16; i++) {
    char key[8];
    int len = snprintf(key, sizeof key, "r%d", i);
    arq_strmap_put(&m, key, (size_t)len, (void *)(intptr_t)(i + 1));
  }
  printf("%016llx", (unsigned long long)arq_strmap_hash("lobby", 5));
  for (size_t i = 0; i < m.cap; i++)
    if (m.slots[i].key)
      printf(" %s", m.slots[i].key);
  printf("\n");
  arq_strmap_free(&m);
}

static void run_child(char *out, size_t cap) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(n > 0);
  self[n] = '\0';
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "ARQ_STRMAP_TEST_CHILD=1 '%s'", self);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  assert_non_null(fgets(out, (int)cap, p));
  assert_int_equal(pclose(p), 0);
}

static void hash_differs_between_processes(void **state) {
  char a[512], b[512];
  run_child(a, sizeof a);
  run_child(b, sizeof b);
  /* 64-bit hashes of the same key: equal by chance with probability 2^-64 */
  assert_int_not_equal(strncmp(a, b, 16), 0);
  /* and the maps lay out the same keys differently (equal orders: about 1 in 16!) */
  assert_string_not_equal(a + 16, b + 16);
  char mine[32];
  snprintf(mine, sizeof mine, "%016llx", (unsigned long long)arq_strmap_hash("lobby", 5));
  assert_int_not_equal(strncmp(a, mine, 16), 0);
}

/* Keys that all share one bucket under the unkeyed hash the maps used before (XXH3 with
 * no seed): there they would form one run of 400 slots, every lookup walking it. Under the
 * keyed hash they spread as any keys do. Not a timing test: the probe length is counted. */
static void colliding_keys_stay_short(void **state) {
  enum { N = 400 };
  static char keys[N][32];
  static size_t lens[N];
  int found = 0;
  for (unsigned i = 0; found < N; i++) {
    int len = snprintf(keys[found], sizeof keys[found], "t1%croom-%u", 0, i);
    if ((XXH3_64bits(keys[found], (size_t)len) & 1023) == 0)
      lens[found++] = (size_t)len;
  }
  arq_strmap_t m;
  arq_strmap_init(&m);
  for (int i = 0; i < N; i++)
    assert_null(arq_strmap_put(&m, keys[i], lens[i], (void *)(intptr_t)(i + 1)));
  assert_int_equal(m.cap, 1024); /* so that XXH3 gives all of them home slot 0 */
  /* at this load the longest run of a random hash is ~5-15; 64 is out of reach (< 1e-9) */
  size_t worst = arq_strmap_max_probe(&m);
  if (worst >= 64)
    fail_msg("max probe %zu for %d keys", worst, N);
  for (int i = 0; i < N; i++)
    assert_ptr_equal(arq_strmap_get(&m, keys[i], lens[i]), (void *)(intptr_t)(i + 1));
  /* removing half keeps every remaining key reachable and the runs short */
  for (int i = 0; i < N; i += 2)
    assert_ptr_equal(arq_strmap_remove(&m, keys[i], lens[i]), (void *)(intptr_t)(i + 1));
  for (int i = 1; i < N; i += 2)
    assert_ptr_equal(arq_strmap_get(&m, keys[i], lens[i]), (void *)(intptr_t)(i + 1));
  assert_true(arq_strmap_max_probe(&m) <= worst);
  arq_strmap_free(&m);
  arq_strmap_init(&m);
  assert_int_equal(arq_strmap_max_probe(&m), 0);
}

int main(void) {
  if (getenv("ARQ_STRMAP_TEST_CHILD")) {
    print_hash_and_order();
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(basic),
      cmocka_unit_test(churn_matches_model),
      cmocka_unit_test(siphash_known_answers),
      cmocka_unit_test(hash_differs_between_processes),
      cmocka_unit_test(colliding_keys_stay_short),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
