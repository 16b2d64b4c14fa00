/*
 * store.c — a Redis (Valkey) connection of the Brain: synchronous hiredis, one per thread
 * that talks to Redis (the control worker and the sequencer each own one).
 *
 * DESIGN
 *   Synchronous calls keep each job a straight line of code; they run on the Brain's own
 *   threads, never on a nats.c thread, and a command timeout bounds them. The sequencer
 *   pipelines (arq_store_append + arq_store_reply): one round trip per batch. When Redis fails, the context is
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

static bool connect_redis(arq_store_t *s) {
  int64_t now = arq_brain_now_ms();
  if (now < s->retry_ms)
    return false;
  s->retry_ms = now + REDIS_RETRY_MS;
  char host[256];
  int port, db;
  if (parse_url(s->cfg->valkey.url, host, sizeof host, &port, &db)) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "valkey.url is not redis://host:port[/db]",
            {"url", s->cfg->valkey.url});
    return false;
  }
  struct timeval tv = {1, 0};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c || c->err) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis unreachable; retrying",
            {"url", s->cfg->valkey.url}, {"error", c ? c->errstr : "out of memory"});
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
  s->c = c;
  ARQ_LOG(ARQ_LOG_INFO, "brain", "Redis connected", {"url", s->cfg->valkey.url});
  return true;
}

static redisReply *checked(arq_store_t *s, redisReply *r) {
  if (!r) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis connection lost", {"error", s->c->errstr});
    arq_counter_inc(s->errors);
    redisFree(s->c);
    s->c = NULL;
    return NULL;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "Redis error", {"error", r->str});
    arq_counter_inc(s->errors);
    freeReplyObject(r);
    return NULL;
  }
  return r;
}

void arq_store_init(arq_store_t *s, const arq_config_t *cfg, arq_counter_t *errors) {
  memset(s, 0, sizeof *s);
  s->cfg = cfg;
  s->errors = errors;
}

redisReply *arq_store_command(arq_store_t *s, const char *fmt, ...) {
  if (!s->c && !connect_redis(s))
    return NULL;
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(s->c, fmt, ap);
  va_end(ap);
  return checked(s, r);
}

redisReply *arq_store_argv(arq_store_t *s, int argc, const char **argv, const size_t *lens) {
  if (!s->c && !connect_redis(s))
    return NULL;
  return checked(s, redisCommandArgv(s->c, argc, argv, lens));
}

bool arq_store_append(arq_store_t *s, const char *fmt, ...) {
  if (!s->c && !connect_redis(s))
    return false;
  va_list ap;
  va_start(ap, fmt);
  int rc = redisvAppendCommand(s->c, fmt, ap);
  va_end(ap);
  if (rc != REDIS_OK)
    arq_oom("redis command");
  return true;
}

bool arq_store_append_argv(arq_store_t *s, int argc, const char **argv, const size_t *lens) {
  if (!s->c && !connect_redis(s))
    return false;
  if (redisAppendCommandArgv(s->c, argc, argv, lens) != REDIS_OK)
    arq_oom("redis command");
  return true;
}

redisReply *arq_store_reply(arq_store_t *s) {
  if (!s->c)
    return NULL;
  void *r = NULL;
  if (redisGetReply(s->c, &r) != REDIS_OK)
    r = NULL;
  return checked(s, r);
}

void arq_store_close(arq_store_t *s) {
  if (s->c)
    redisFree(s->c);
  s->c = NULL;
}
