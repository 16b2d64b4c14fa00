/* The sequencer's Redis scripts against a real redis-server: numbering, replay after a
 * takeover, and fencing of a Brain that lost its lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "brain/scripts.h"
#include "harness.h"

static arq_test_server_t redis;
static redisContext *rc;

static int setup(void **state) {
  if (arq_test_redis_start(&redis))
    return -1;
  rc = redisConnect("127.0.0.1", redis.port);
  return rc && !rc->err ? 0 : -1;
}

static int teardown(void **state) {
  redisFree(rc);
  arq_test_server_stop(&redis);
  return 0;
}

/* Runs the assign script for room R of partition 0; returns code, sets *seq. */
static long long assign(const char *room, long long in_seq, long long token, long long *seq) {
  char kseq[64], kin[64], kpub[64];
  snprintf(kseq, sizeof kseq, "arq:{T}:room:%s:seq", room);
  snprintf(kin, sizeof kin, "arq:{T}:room:%s:in", room);
  snprintf(kpub, sizeof kpub, "arq:{T}:room:%s:pub", room);
  redisReply *r = redisCommand(rc, "EVAL %s 4 %s %s %s %s %lld %lld", arq_brain_assign_script, kseq,
                               kin, "arq:brain:part:0:fence", kpub, in_seq, token);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_ARRAY);
  assert_int_equal(r->elements, 2);
  long long code = r->element[0]->integer;
  *seq = r->element[1]->integer;
  freeReplyObject(r);
  return code;
}

static void published(const char *room, long long in_seq) {
  redisReply *r = redisCommand(rc, "SET arq:{T}:room:%s:pub %lld", room, in_seq);
  freeReplyObject(r);
}

static void numbering_and_replay(void **state) {
  long long seq;
  /* Ingress 5, 7, 9 of room A become 1, 2, 3; ingress 8 of room B is B's 1. */
  assert_int_equal(assign("A", 5, 10, &seq), 0);
  assert_int_equal(seq, 1);
  published("A", 5);
  assert_int_equal(assign("A", 7, 10, &seq), 0);
  assert_int_equal(seq, 2);
  published("A", 7);
  assert_int_equal(assign("B", 8, 10, &seq), 0);
  assert_int_equal(seq, 1);
  assert_int_equal(assign("A", 9, 10, &seq), 0);
  assert_int_equal(seq, 3);
  /* The Brain dies before A's 9 is known published (B's 8 neither). A new owner with a
   * larger token replays from an old checkpoint: older ones are skipped, the last one of
   * each room is published again with the seq it has, and numbering goes on. */
  assert_int_equal(assign("A", 5, 20, &seq), 2);
  assert_int_equal(assign("A", 7, 20, &seq), 2);
  assert_int_equal(assign("B", 8, 20, &seq), 1);
  assert_int_equal(seq, 1);
  published("B", 8);
  assert_int_equal(assign("A", 9, 20, &seq), 1);
  assert_int_equal(seq, 3);
  published("A", 9);
  assert_int_equal(assign("A", 9, 20, &seq), 2); /* once published, never again */
  assert_int_equal(assign("A", 12, 20, &seq), 0);
  assert_int_equal(seq, 4);
}

static void an_older_lease_is_fenced(void **state) {
  long long seq;
  assert_int_equal(assign("F", 100, 30, &seq), 0);
  assert_int_equal(seq, 1);
  /* The previous owner (token 20, then 10) wakes up after the takeover: refused. */
  assert_int_equal(assign("F", 101, 20, &seq), -1);
  assert_int_equal(assign("F", 101, 10, &seq), -1);
  assert_int_equal(assign("F", 101, 30, &seq), 0);
  assert_int_equal(seq, 2);
}

static void checkpoints_only_rise(void **state) {
  const char *vals[] = {"10", "7", "12", "0"};
  for (size_t i = 0; i < 4; i++) {
    redisReply *r = redisCommand(rc, "EVAL %s 1 ck %s", arq_brain_ckpt_script, vals[i]);
    freeReplyObject(r);
  }
  redisReply *r = redisCommand(rc, "GET ck");
  assert_string_equal(r->str, "12");
  freeReplyObject(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(numbering_and_replay),
      cmocka_unit_test(an_older_lease_is_fenced),
      cmocka_unit_test(checkpoints_only_rise),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
