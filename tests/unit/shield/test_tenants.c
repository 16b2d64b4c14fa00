/* The per-tenant state of tenants.c: the connection cap (acquire/release, the entry living
 * while it has connections) and the message rate, a token bucket in GCRA form driven here
 * with the clock passed in: `burst` at once, then one per 1/rate s, never more than
 * `burst` saved up, and exact under concurrent takers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "shield/shield.h"

/* tenants.c: arq_tenant_take with the clock (ns) passed in */

#define SEC UINT64_C(1000000000)
#define T0 (1000 * SEC) /* an arbitrary monotonic start */

typedef struct {
  arq_config_t cfg;
  arq_shield_t s;
} fixture_t;

static fixture_t *fixture(double rate, int64_t burst, int64_t max_conns) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  arq_config_defaults(&f.cfg);
  f.cfg.shield.tenant_rate = rate;
  f.cfg.shield.tenant_burst = burst;
  f.cfg.shield.max_connections_per_tenant = max_conns;
  f.s.cfg = &f.cfg;
  pthread_mutex_init(&f.s.tenants_lock, NULL);
  arq_strmap_init(&f.s.tenants);
  return &f;
}

static void done(fixture_t *f) {
  assert_int_equal(f->s.tenants.len, 0); /* every entry released */
  arq_strmap_free(&f->s.tenants);
  pthread_mutex_destroy(&f->s.tenants_lock);
  arq_config_free(&f->cfg);
}

static void cap_per_tenant(void **state) {
  (void)state;
  fixture_t *f = fixture(10, 10, 2);
  arq_tenant_t *a1 = arq_tenant_acquire(&f->s, "acme");
  arq_tenant_t *a2 = arq_tenant_acquire(&f->s, "acme");
  assert_non_null(a1);
  assert_ptr_equal(a1, a2); /* one entry per tenant */
  assert_null(arq_tenant_acquire(&f->s, "acme")); /* at the cap */
  arq_tenant_t *b = arq_tenant_acquire(&f->s, "globex"); /* another tenant: its own cap */
  assert_non_null(b);
  assert_ptr_not_equal(a1, b);
  arq_tenant_release(&f->s, a2);
  arq_tenant_t *a3 = arq_tenant_acquire(&f->s, "acme"); /* a slot came back */
  assert_ptr_equal(a3, a1);
  arq_tenant_release(&f->s, a1);
  arq_tenant_release(&f->s, a3);
  arq_tenant_release(&f->s, b);
  arq_tenant_release(&f->s, NULL); /* a refused connection releases nothing */
  done(f);
}

/* The bucket state lives with the entry: once the last connection goes, a new entry
 * starts full. */
static void entry_lives_while_connected(void **state) {
  (void)state;
  fixture_t *f = fixture(1, 2, 10);
  arq_tenant_t *t = arq_tenant_acquire(&f->s, "acme");
  assert_true(arq__tenant_take_at(&f->cfg, t, T0));
  assert_true(arq__tenant_take_at(&f->cfg, t, T0));
  assert_false(arq__tenant_take_at(&f->cfg, t, T0));
  arq_tenant_release(&f->s, t);
  assert_int_equal(f->s.tenants.len, 0);
  t = arq_tenant_acquire(&f->s, "acme");
  assert_true(arq__tenant_take_at(&f->cfg, t, T0));
  arq_tenant_release(&f->s, t);
  done(f);
}

static void burst_then_rate(void **state) {
  (void)state;
  fixture_t *f = fixture(10, 5, 10); /* one token per 100 ms, 5 at once */
  arq_tenant_t *t = arq_tenant_acquire(&f->s, "acme");
  for (int i = 0; i < 5; i++)
    assert_true(arq__tenant_take_at(&f->cfg, t, T0));
  assert_false(arq__tenant_take_at(&f->cfg, t, T0));
  /* a refusal spends nothing: still empty just before the next token */
  assert_false(arq__tenant_take_at(&f->cfg, t, T0 + SEC / 10 - 1));
  assert_true(arq__tenant_take_at(&f->cfg, t, T0 + SEC / 10));
  assert_false(arq__tenant_take_at(&f->cfg, t, T0 + SEC / 10));
  /* steady rate: one per interval */
  for (uint64_t k = 2; k < 50; k++) {
    assert_true(arq__tenant_take_at(&f->cfg, t, T0 + k * SEC / 10));
    assert_false(arq__tenant_take_at(&f->cfg, t, T0 + k * SEC / 10));
  }
  /* a long pause saves up no more than `burst` */
  uint64_t later = T0 + 3600 * SEC;
  for (int i = 0; i < 5; i++)
    assert_true(arq__tenant_take_at(&f->cfg, t, later));
  assert_false(arq__tenant_take_at(&f->cfg, t, later));
  arq_tenant_release(&f->s, t);
  done(f);
}

static void burst_of_one(void **state) {
  (void)state;
  fixture_t *f = fixture(1000, 1, 10); /* 1 ms apart, nothing saved up */
  arq_tenant_t *t = arq_tenant_acquire(&f->s, "acme");
  uint64_t ms = SEC / 1000;
  assert_true(arq__tenant_take_at(&f->cfg, t, T0));
  assert_false(arq__tenant_take_at(&f->cfg, t, T0 + ms - 1));
  assert_true(arq__tenant_take_at(&f->cfg, t, T0 + ms));
  assert_true(arq__tenant_take_at(&f->cfg, t, T0 + 10 * ms));
  assert_false(arq__tenant_take_at(&f->cfg, t, T0 + 10 * ms));
  arq_tenant_release(&f->s, t);
  done(f);
}

/* Tenants do not share a bucket. */
static void buckets_are_per_tenant(void **state) {
  (void)state;
  fixture_t *f = fixture(1, 3, 10);
  arq_tenant_t *a = arq_tenant_acquire(&f->s, "acme");
  arq_tenant_t *b = arq_tenant_acquire(&f->s, "globex");
  for (int i = 0; i < 3; i++)
    assert_true(arq__tenant_take_at(&f->cfg, a, T0));
  assert_false(arq__tenant_take_at(&f->cfg, a, T0));
  for (int i = 0; i < 3; i++)
    assert_true(arq__tenant_take_at(&f->cfg, b, T0));
  arq_tenant_release(&f->s, a);
  arq_tenant_release(&f->s, b);
  done(f);
}

/* Workers take from one bucket at once: at a fixed instant exactly `burst` succeed. */
typedef struct {
  fixture_t *f;
  arq_tenant_t *t;
  int taken;
} taker_t;

static void *taker(void *arg) {
  taker_t *k = arg;
  for (int i = 0; i < 20000; i++)
    k->taken += arq__tenant_take_at(&k->f->cfg, k->t, T0);
  return NULL;
}

static void concurrent_takers_share_exactly(void **state) {
  (void)state;
  fixture_t *f = fixture(1, 10000, 10);
  arq_tenant_t *t = arq_tenant_acquire(&f->s, "acme");
  taker_t k[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    k[i] = (taker_t){f, t, 0};
    assert_int_equal(pthread_create(&th[i], NULL, taker, &k[i]), 0);
  }
  int total = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    total += k[i].taken;
  }
  assert_int_equal(total, 10000);
  arq_tenant_release(&f->s, t);
  done(f);
}

/* The public entry uses the monotonic clock: a fresh bucket gives `burst`, then refuses
 * (the rate is low enough that no token comes back during the test). */
static void take_on_the_real_clock(void **state) {
  (void)state;
  fixture_t *f = fixture(0.001, 3, 10);
  arq_tenant_t *t = arq_tenant_acquire(&f->s, "acme");
  for (int i = 0; i < 3; i++)
    assert_true(arq_tenant_take(&f->s, t, 0));
  assert_false(arq_tenant_take(&f->s, t, 0));
  arq_tenant_release(&f->s, t);
  done(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cap_per_tenant),
      cmocka_unit_test(entry_lives_while_connected),
      cmocka_unit_test(burst_then_rate),
      cmocka_unit_test(burst_of_one),
      cmocka_unit_test(buckets_are_per_tenant),
      cmocka_unit_test(concurrent_takers_share_exactly),
      cmocka_unit_test(take_on_the_real_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
