/*
 * store.c — the Brain's Redis (Valkey) connection: synchronous hiredis, used only by the
 * worker thread.
 *
 * DESIGN
 *   Synchronous calls keep each job a straight line of code; they run on the worker, never
 *   on a nats.c thread, and a command timeout bounds them. When Redis fails, the context is
 *   dropped and the next command (at most every REDIS_RETRY_MS) reconnects; meanwhile
 *   commands return NULL and callers treat that as "not done": a room message is replayed
 *   from the checkpoint, a request is answered with an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "common/log.h"

#define REDIS_RETRY_MS 500

/* redis://host:port[/db] -> host, port, db. */
static int parse_url(const char *url, char *host, size_t hostcap, int *port, int *db) {
  *port = 6379;
  *db = 0;
  if (strncmp(url, "redis://", 8))
    return -1;
  const char *h = url + 8, *at = strchr(h, '@');
  if (at)
    h = at + 1; /* credentials are not supported by this client: ignored */
  size_t n = strcspn(h, ":/");
  if (n == 0 || n >= hostcap)
    return -1;
  memcpy(host, h, n);
  host[n] = '\0';
  const char *p = h + n;
  if (*p == ':') {
    *port = atoi(p + 1);
    p += 1 + strspn(p + 1, "0123456789");
  }
  if (*p == '/' && p[1])
    *db = atoi(p + 1);
  return *port > 0 && *port < 65536 ? 0 : -1;
}

static bool connect_redis(arq_brain_t *b) {
  int64_t now = arq_brain_now_ms();
  if (now < b->redis_retry_ms)
    return false;
  b->redis_retry_ms = now + REDIS_RETRY_MS;
  char host[256];
  int port, db;
  if (parse_url(b->cfg->valkey.url, host, sizeof host, &port, &db)) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "valkey.url is not redis://host:port[/db]",
            {"url", b->cfg->valkey.url});
    return false;
  }
  struct timeval tv = {1, 0};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c || c->err) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis unreachable; retrying",
            {"url", b->cfg->valkey.url}, {"error", c ? c->errstr : "out of memory"});
    if (c)
      redisFree(c);
    return false;
  }
  struct timeval op = {2, 0};
  redisSetTimeout(c, op);
  if (db) {
    redisReply *r = redisCommand(c, "SELECT %d", db);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
      freeReplyObject(r);
    if (!ok) {
      redisFree(c);
      return false;
    }
  }
  b->redis = c;
  ARQ_LOG(ARQ_LOG_INFO, "brain", "Redis connected", {"url", b->cfg->valkey.url});
  return true;
}

static redisReply *checked(arq_brain_t *b, redisReply *r) {
  if (!r) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis connection lost", {"error", b->redis->errstr});
    arq_counter_inc(b->m.redis_errors);
    redisFree(b->redis);
    b->redis = NULL;
    return NULL;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "Redis error", {"error", r->str});
    arq_counter_inc(b->m.redis_errors);
    freeReplyObject(r);
    return NULL;
  }
  return r;
}

redisReply *arq_store_command(arq_brain_t *b, const char *fmt, ...) {
  if (!b->redis && !connect_redis(b))
    return NULL;
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(b->redis, fmt, ap);
  va_end(ap);
  return checked(b, r);
}

redisReply *arq_store_argv(arq_brain_t *b, int argc, const char **argv, const size_t *lens) {
  if (!b->redis && !connect_redis(b))
    return NULL;
  return checked(b, redisCommandArgv(b->redis, argc, argv, lens));
}

void arq_store_close(arq_brain_t *b) {
  if (b->redis)
    redisFree(b->redis);
  b->redis = NULL;
}
