/* The harness starts real servers that work: NATS pub/sub, JetStream KV, Redis commands,
 * and a restart keeps JetStream data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <nats/nats.h>

#include "harness.h"

static void nats_pubsub_and_kv(void **state) {
  arq_test_server_t srv;
  assert_int_equal(arq_test_nats_start(&srv, NULL), 0);
  assert_true(srv.port > 0);

  natsConnection *nc = NULL;
  assert_int_equal(natsConnection_ConnectTo(&nc, srv.url), NATS_OK);
  natsSubscription *sub = NULL;
  assert_int_equal(natsConnection_SubscribeSync(&sub, nc, "t.>"), NATS_OK);
  assert_int_equal(natsConnection_PublishString(nc, "t.a.b", "hello"), NATS_OK);
  natsMsg *msg = NULL;
  assert_int_equal(natsSubscription_NextMsg(&msg, sub, 2000), NATS_OK);
  assert_string_equal(natsMsg_GetSubject(msg), "t.a.b");
  assert_int_equal(natsMsg_GetDataLength(msg), 5);
  assert_memory_equal(natsMsg_GetData(msg), "hello", 5);
  natsMsg_Destroy(msg);
  natsSubscription_Destroy(sub);

  jsCtx *js = NULL;
  kvStore *kv = NULL;
  kvConfig cfg;
  assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
  kvConfig_Init(&cfg);
  cfg.Bucket = "HARNESS";
  assert_int_equal(js_CreateKeyValue(&kv, js, &cfg), NATS_OK);
  uint64_t rev = 0;
  assert_int_equal(kvStore_PutString(&rev, kv, "k1", "v1"), NATS_OK);
  assert_true(rev >= 1);
  kvStore_Destroy(kv);
  natsConnection_Destroy(nc);

  /* JetStream data survives a restart on the same port. */
  int port = srv.port;
  assert_int_equal(arq_test_server_restart(&srv), 0);
  assert_int_equal(srv.port, port);
  nc = NULL;
  natsOptions *opts = NULL;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, srv.url);
  natsOptions_SetTimeout(opts, 5000);
  assert_int_equal(natsConnection_Connect(&nc, opts), NATS_OK);
  natsOptions_Destroy(opts);
  jsCtx_Destroy(js);
  js = NULL;
  assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
  kv = NULL;
  kvEntry *e = NULL;
  natsStatus st = NATS_ERR;
  /* The stream may need a moment to recover after the restart. */
  for (int i = 0; i < 50 && st != NATS_OK; i++) {
    if (!kv && js_KeyValue(&kv, js, "HARNESS") != NATS_OK) {
      kv = NULL;
      nats_Sleep(100);
      continue;
    }
    st = kvStore_Get(&e, kv, "k1");
    if (st != NATS_OK)
      nats_Sleep(100);
  }
  assert_int_equal(st, NATS_OK);
  assert_string_equal(kvEntry_ValueString(e), "v1");
  kvEntry_Destroy(e);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  char dir[256];
  strcpy(dir, srv.dir);
  arq_test_server_stop(&srv);
  assert_int_equal(srv.pid, 0);
  assert_int_not_equal(access(dir, F_OK), 0); /* directory removed */
}

static void redis_commands(void **state) {
  arq_test_server_t srv;
  assert_int_equal(arq_test_redis_start(&srv), 0);
  redisContext *c = redisConnect("127.0.0.1", srv.port);
  assert_non_null(c);
  assert_int_equal(c->err, 0);
  redisReply *r = redisCommand(c, "SET %s %s", "arq:key", "value");
  assert_non_null(r);
  assert_string_equal(r->str, "OK");
  freeReplyObject(r);
  r = redisCommand(c, "GET %s", "arq:key");
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  assert_string_equal(r->str, "value");
  freeReplyObject(r);
  redisFree(c);
  arq_test_server_stop(&srv);
  /* Stopped means stopped: nothing answers on the port any more. */
  c = redisConnect("127.0.0.1", srv.port);
  assert_true(c == NULL || c->err != 0);
  redisFree(c);
}

static void two_servers_get_distinct_ports(void **state) {
  arq_test_server_t a, b;
  assert_int_equal(arq_test_nats_start(&a, NULL), 0);
  assert_int_equal(arq_test_nats_start(&b, NULL), 0);
  assert_int_not_equal(a.port, b.port);
  assert_string_not_equal(a.dir, b.dir);
  arq_test_server_stop(&a);
  arq_test_server_stop(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(nats_pubsub_and_kv),
      cmocka_unit_test(redis_commands),
      cmocka_unit_test(two_servers_get_distinct_ports),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
