/*
 * test_store.c — promotion of a candidate policy against a real nats-server (JetStream KV):
 * what it refuses (no candidate, another revision, bytes no Shield would run), what it
 * writes, and the revision checks it is made of (a put or delete against a key that has
 * moved on is refused and changes nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "policy/store.h"
#include "spine/kv.h"

/* (module (memory (export "memory") 1) (func (export "arqon_on_message") (result i32) (i32.const 0))) */
static const unsigned char allow_all[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03,
    0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x1d, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f,
    0x72, 0x79, 0x02, 0x00, 0x10, 0x61, 0x72, 0x71, 0x6f, 0x6e, 0x5f, 0x6f, 0x6e, 0x5f, 0x6d, 0x65,
    0x73, 0x73, 0x61, 0x67, 0x65, 0x00, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b};

typedef struct {
  arq_test_server_t nats;
  arq_config_t cfg;
  natsConnection *nc;
  jsCtx *js;
  kvStore *kv;
} fixture_t;

static fixture_t fx;

static int setup(void **state) {
  (void)state;
  if (arq_test_nats_start(&fx.nats, NULL))
    return -1;
  arq_config_defaults(&fx.cfg);
  free(fx.cfg.nats.url);
  fx.cfg.nats.url = strdup(fx.nats.url);
  char err[256];
  if (arq_nats_connect(&fx.cfg, "test_store", 5000, &fx.nc, err, sizeof err) != NATS_OK ||
      arq_kv_open(fx.nc, "ARQON_POLICIES", true, 1, &fx.js, &fx.kv, err, sizeof err) != NATS_OK) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  kvStore_Destroy(fx.kv);
  jsCtx_Destroy(fx.js);
  natsConnection_Destroy(fx.nc);
  arq_config_free(&fx.cfg);
  arq_test_server_stop(&fx.nats);
  return 0;
}

static uint64_t put(const char *key, const void *data, int len) {
  uint64_t rev = 0;
  assert_int_equal(kvStore_Put(&rev, fx.kv, key, data, len), NATS_OK);
  return rev;
}

/* The key's value and revision; 0 when it has none (absent or deleted). */
static uint64_t get(const char *key, const void *expect, int len) {
  kvEntry *e = NULL;
  if (kvStore_Get(&e, fx.kv, key) != NATS_OK)
    return 0;
  uint64_t rev = kvEntry_Revision(e);
  if (expect) {
    assert_int_equal(kvEntry_ValueLen(e), len);
    assert_memory_equal(kvEntry_Value(e), expect, (size_t)len);
  }
  kvEntry_Destroy(e);
  return rev;
}

static void promotion_refuses(void **state) {
  (void)state;
  char err[512];
  arq_promotion_t p;
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "R1", 0, &p, err, sizeof err), ARQ_PROMOTE_NO_CANDIDATE);
  assert_string_equal(err, "R1 has no candidate policy (R1.canary)");
  /* garbage written around the CLI never becomes the active policy */
  uint64_t active = put("R1", allow_all, sizeof allow_all);
  uint64_t cand = put("R1.canary", "not wasm", 8);
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "R1", 0, &p, err, sizeof err), ARQ_PROMOTE_INVALID);
  assert_non_null(strstr(err, "the candidate of R1 is not a valid policy"));
  /* a candidate other than the one reviewed */
  cand = put("R1.canary", allow_all, sizeof allow_all);
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "R1", cand - 1, &p, err, sizeof err), ARQ_PROMOTE_CHANGED);
  assert_int_equal(get("R1", NULL, 0), active);
  assert_int_equal(get("R1.canary", NULL, 0), cand);
  /* a deleted candidate is none */
  assert_int_equal(kvStore_Delete(fx.kv, "R1.canary"), NATS_OK);
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "R1", 0, &p, err, sizeof err), ARQ_PROMOTE_NO_CANDIDATE);
}

static void promotion_replaces_creates_and_removes(void **state) {
  (void)state;
  char err[512];
  arq_promotion_t p;
  /* over an active policy */
  uint64_t active = put("P1", "old", 3);
  uint64_t cand = put("P1.canary", allow_all, sizeof allow_all);
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "P1", cand, &p, err, sizeof err), ARQ_PROMOTED);
  assert_int_equal(p.candidate_revision, cand);
  assert_int_equal(p.previous_revision, active);
  assert_true(p.candidate_removed);
  assert_int_equal(get("P1", allow_all, sizeof allow_all), p.revision);
  assert_int_equal(get("P1.canary", NULL, 0), 0);
  /* where there was none, and where it was deleted */
  cand = put("P2.canary", allow_all, sizeof allow_all);
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "P2", 0, &p, err, sizeof err), ARQ_PROMOTED);
  assert_int_equal(p.previous_revision, 0);
  assert_int_equal(get("P2", allow_all, sizeof allow_all), p.revision);
  put("_global", "old", 3);
  assert_int_equal(kvStore_Delete(fx.kv, "_global"), NATS_OK);
  put("_global.canary", allow_all, sizeof allow_all);
  assert_int_equal(arq_policy_promote(fx.js, fx.kv, "_global", 0, &p, err, sizeof err), ARQ_PROMOTED);
  assert_int_equal(p.previous_revision, 0);
  assert_true(p.candidate_removed);
  assert_int_equal(get("_global", allow_all, sizeof allow_all), p.revision);
}

/* What promotion is made of: a write against a key that moved on is refused as a conflict
 * and changes nothing, so a concurrent change of the active policy fails the promotion
 * and a candidate pushed meanwhile stays. */
static void revision_checked_writes(void **state) {
  (void)state;
  char err[512];
  bool conflict = false;
  uint64_t rev = 0, first = put("W1", "a", 1), second = put("W1", "b", 1);
  assert_int_not_equal(arq_kv_put_if(fx.js, fx.kv, "W1", "c", 1, first, &rev, &conflict, err, sizeof err), NATS_OK);
  assert_true(conflict);
  assert_int_not_equal(arq_kv_put_if(fx.js, fx.kv, "W1", "c", 1, 0, &rev, &conflict, err, sizeof err), NATS_OK);
  assert_true(conflict);
  assert_int_equal(get("W1", "b", 1), second);
  assert_int_equal(arq_kv_put_if(fx.js, fx.kv, "W1", "c", 1, second, &rev, &conflict, err, sizeof err), NATS_OK);
  assert_false(conflict);
  assert_int_equal(get("W1", "c", 1), rev);
  assert_int_equal(arq_kv_put_if(fx.js, fx.kv, "W2", "x", 1, 0, &rev, &conflict, err, sizeof err), NATS_OK);
  assert_int_equal(get("W2", "x", 1), rev);
  assert_int_not_equal(arq_kv_delete_if(fx.js, fx.kv, "W2", rev - 1, &conflict, err, sizeof err), NATS_OK);
  assert_true(conflict);
  assert_int_equal(get("W2", "x", 1), rev);
  assert_int_equal(arq_kv_delete_if(fx.js, fx.kv, "W2", rev, &conflict, err, sizeof err), NATS_OK);
  assert_int_equal(get("W2", NULL, 0), 0); /* deleted as kvStore_Delete deletes */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(promotion_refuses),
      cmocka_unit_test(promotion_replaces_creates_and_removes),
      cmocka_unit_test(revision_checked_writes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
