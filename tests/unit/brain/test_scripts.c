/* The sequencer's Redis scripts against a real redis-server: a batch commit moves rooms and
 * checkpoints forward only, and a Brain that lost its lease is fenced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct {
  const char *room;
  long long seq, in;
} room_pair_t;

/* Commits one partition (p, token, ckpt) with rooms of tenant T; returns the number of
 * partitions refused (0 or 1). */
static size_t commit(unsigned p, long long token, long long ckpt, const room_pair_t *rooms,
                     size_t nrooms) {
  const char *argv[64];
  size_t lens[64];
  char buf[64][64];
  size_t nk = 0, na = 0, nb = 0;
  const char *keys[32], *args[32];
#define PUT(arr, n, ...) (snprintf(buf[nb], sizeof buf[nb], __VA_ARGS__), arr[n++] = buf[nb++])
  PUT(args, na, "1");
  PUT(keys, nk, "arq:brain:part:%u:fence", p);
  PUT(keys, nk, "arq:brain:part:%u:ckpt", p);
  PUT(args, na, "%lld", token);
  PUT(args, na, "%lld", ckpt);
  PUT(args, na, "%zu", nrooms);
  for (size_t i = 0; i < nrooms; i++) {
    PUT(keys, nk, "arq:{T}:room:%s:seq", rooms[i].room);
    PUT(keys, nk, "arq:{T}:room:%s:in", rooms[i].room);
    PUT(keys, nk, "arq:{T}:room:%s:pub", rooms[i].room);
    PUT(args, na, "%lld", rooms[i].seq);
    PUT(args, na, "%lld", rooms[i].in);
  }
#undef PUT
  size_t argc = 0;
  argv[argc++] = "EVAL";
  argv[argc++] = arq_brain_commit_script;
  snprintf(buf[nb], sizeof buf[nb], "%zu", nk);
  argv[argc++] = buf[nb++];
  for (size_t i = 0; i < nk; i++)
    argv[argc++] = keys[i];
  for (size_t i = 0; i < na; i++)
    argv[argc++] = args[i];
  for (size_t i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisReply *r = redisCommandArgv(rc, (int)argc, argv, lens);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_ARRAY);
  size_t refused = r->elements;
  freeReplyObject(r);
  return refused;
}

static long long get(const char *key) {
  redisReply *r = redisCommand(rc, "GET %s", key);
  long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
  freeReplyObject(r);
  return v;
}

static void commits_move_rooms_forward_only(void **state) {
  /* Ingress 5, 7, 9 of room A numbered 1, 2, 3 and 8 of room B numbered 1, one batch. */
  room_pair_t first[] = {{"A", 3, 9}, {"B", 1, 8}};
  assert_int_equal(commit(0, 10, 9, first, 2), 0);
  assert_int_equal(get("arq:{T}:room:A:seq"), 3);
  assert_int_equal(get("arq:{T}:room:A:in"), 9);
  assert_int_equal(get("arq:brain:part:0:ckpt"), 9);
  /* A replay that numbered A up to ingress 7 only (a slower, stale writer) moves nothing
   * back: neither the room nor the checkpoint. */
  room_pair_t stale[] = {{"A", 2, 7}};
  assert_int_equal(commit(0, 10, 7, stale, 1), 0);
  assert_int_equal(get("arq:{T}:room:A:seq"), 3);
  assert_int_equal(get("arq:{T}:room:A:in"), 9);
  assert_int_equal(get("arq:brain:part:0:ckpt"), 9);
  /* The legacy "published" record of the earlier design goes with the first commit. */
  redisReply *r = redisCommand(rc, "SET arq:{T}:room:B:pub 3");
  freeReplyObject(r);
  room_pair_t next[] = {{"B", 2, 12}};
  assert_int_equal(commit(0, 10, 12, next, 1), 0);
  assert_int_equal(get("arq:{T}:room:B:seq"), 2);
  assert_int_equal(get("arq:{T}:room:B:pub"), -1);
}

static void an_older_lease_is_fenced(void **state) {
  room_pair_t a[] = {{"F", 1, 100}};
  assert_int_equal(commit(1, 30, 100, a, 1), 0);
  /* The previous owners (tokens 20, then 10) wake up after the takeover: refused, and
   * nothing of theirs is written. */
  room_pair_t old[] = {{"F", 2, 101}};
  assert_int_equal(commit(1, 20, 101, old, 1), 1);
  assert_int_equal(commit(1, 10, 101, old, 1), 1);
  assert_int_equal(get("arq:{T}:room:F:seq"), 1);
  assert_int_equal(get("arq:brain:part:1:ckpt"), 100);
  assert_int_equal(get("arq:brain:part:1:fence"), 30);
  /* The owner goes on; a newer token is recorded. */
  assert_int_equal(commit(1, 30, 101, old, 1), 0);
  assert_int_equal(get("arq:{T}:room:F:seq"), 2);
  assert_int_equal(commit(1, 40, 101, NULL, 0), 0);
  assert_int_equal(get("arq:brain:part:1:fence"), 40);
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

/* The sequencer commits with EVALSHA and the digest it computed itself: it must be the one
 * Redis gives the script (a wrong one would send the whole script with every commit). */
static void the_commit_script_is_known_by_its_digest(void **state) {
  (void)state;
  char sha[41];
  arq_brain_script_sha1(arq_brain_commit_script, sha);
  redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", arq_brain_commit_script);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  assert_string_equal(r->str, sha);
  freeReplyObject(r);
  r = redisCommand(rc, "SCRIPT EXISTS %s", sha);
  assert_non_null(r);
  assert_int_equal(r->element[0]->integer, 1);
  freeReplyObject(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(commits_move_rooms_forward_only),
      cmocka_unit_test(an_older_lease_is_fenced),
      cmocka_unit_test(checkpoints_only_rise),
      cmocka_unit_test(the_commit_script_is_known_by_its_digest),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
