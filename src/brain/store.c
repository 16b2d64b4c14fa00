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
#include "common/config.h"
#include "common/log.h"
#include "common/redis_url.h"

#define REDIS_RETRY_MS 500

/* A reply that says the credentials are wrong (not a passing failure). */
static bool auth_refused(const redisReply *r) {
  return r && r->type == REDIS_REPLY_ERROR &&
         (!strncmp(r->str, "WRONGPASS", 9) || !strncmp(r->str, "NOAUTH", 6) || strstr(r->str, "invalid password") ||
          strstr(r->str, "invalid username-password") || strstr(r->str, "without any password configured"));
}

/* The primary's address from the first sentinel that knows it (starting with the one that
 * answered last). -1 when none does. */
static int ask_sentinels(arq_store_t *s, char *host, size_t hostcap, int *port) {
  const arq_strlist_t *list = &s->cfg->valkey.sentinels;
  for (size_t k = 0; k < list->len; k++) {
    size_t i = (s->sentinel + k) % list->len;
    char shost[256];
    uint16_t sport;
    if (arq_config_split_hostport(list->items[i], shost, sizeof shost, &sport))
      continue;
    struct timeval tv = {0, 500000};
    redisContext *c = redisConnectWithTimeout(shost, sport, tv);
    redisReply *r = c && !c->err ? redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->cfg->valkey.master_name) : NULL;
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
              r->element[1]->type == REDIS_REPLY_STRING && strlen(r->element[0]->str) < hostcap;
    if (ok) {
      snprintf(host, hostcap, "%s", r->element[0]->str);
      *port = atoi(r->element[1]->str);
      s->sentinel = i;
    }
    if (r)
      freeReplyObject(r);
    if (c)
      redisFree(c);
    if (ok)
      return 0;
  }
  ARQ_LOG(ARQ_LOG_WARN, "brain", "no sentinel names the primary; retrying", {"master_name", s->cfg->valkey.master_name});
  return -1;
}

static bool connect_redis(arq_store_t *s) {
  int64_t now = arq_brain_now_ms();
  if (now < s->retry_ms)
    return false;
  s->retry_ms = now + REDIS_RETRY_MS;
  arq_redis_url_t u;
  const char *why = NULL;
  char shown[512];
  arq_redis_url_redacted(s->cfg->valkey.url, shown, sizeof shown);
  if (arq_redis_url_parse(s->cfg->valkey.url, &u, &why)) { /* the config loader checked it */
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "valkey.url is not usable", {"url", shown}, {"error", why});
    return false;
  }
  if (s->cfg->valkey.sentinels.len && ask_sentinels(s, u.host, sizeof u.host, &u.port))
    return false;
  struct timeval tv = {1, 0};
  redisContext *c = redisConnectWithTimeout(u.host, u.port, tv);
  if (!c || c->err) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis unreachable; retrying", {"url", shown},
            {"error", c ? c->errstr : "out of memory"});
    if (c)
      redisFree(c);
    return false;
  }
  struct timeval op = {2, 0};
  redisSetTimeout(c, op);
  const char *step = "AUTH";
  redisReply *r = NULL;
  bool ok = true;
  if (u.password[0]) {
    r = u.user[0] ? redisCommand(c, "AUTH %s %s", u.user, u.password) : redisCommand(c, "AUTH %s", u.password);
    ok = r && r->type != REDIS_REPLY_ERROR;
    s->auth_refused = auth_refused(r);
  }
  if (ok) { /* PING, or SELECT the database: either says NOAUTH when a password is needed */
    if (r)
      freeReplyObject(r);
    step = u.db ? "SELECT" : "PING";
    r = u.db ? redisCommand(c, "SELECT %d", u.db) : redisCommand(c, "PING");
    ok = r && r->type != REDIS_REPLY_ERROR;
    s->auth_refused = auth_refused(r);
  }
  if (!ok) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", s->auth_refused ? "Redis refused the credentials of valkey.url" : "Redis refused the connection's set-up",
            {"url", shown}, {"command", step}, {"error", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr});
    if (r)
      freeReplyObject(r);
    redisFree(c);
    return false;
  }
  if (ok && s->cfg->valkey.sentinels.len) {
    /* A primary the sentinels have just demoted may still be named for a moment: write
     * only to one that says it is the primary. */
    freeReplyObject(r);
    step = "ROLE";
    r = redisCommand(c, "ROLE");
    ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
         !strcmp(r->element[0]->str, "master");
    if (!ok) {
      ARQ_LOG(ARQ_LOG_WARN, "brain", "the Redis the sentinels named is not the primary (yet); asking again",
              {"host", u.host});
      if (r)
        freeReplyObject(r);
      redisFree(c);
      return false;
    }
  }
  if (r)
    freeReplyObject(r);
  s->auth_refused = false;
  s->c = c;
  ARQ_LOG(ARQ_LOG_INFO, "brain", "Redis connected", {"url", shown});
  return true;
}

int arq_store_check(arq_store_t *s, char *err, size_t errcap) {
  s->retry_ms = 0;
  if (s->c || connect_redis(s))
    return 0;
  if (!s->auth_refused)
    return 0; /* unreachable for now: the Brain waits for it as always */
  char shown[512];
  snprintf(err, errcap, "valkey: Redis refused the credentials of %s",
           arq_redis_url_redacted(s->cfg->valkey.url, shown, sizeof shown));
  return -1;
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
    /* A primary demoted under us (a failover): find the new one before the next command. */
    bool demoted = !strncmp(r->str, "READONLY", 8);
    freeReplyObject(r);
    if (demoted)
      arq_store_close(s);
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
