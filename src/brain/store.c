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
#include "brain/redis_tls.h"

#define REDIS_RETRY_MS 500

/* A reply that says the credentials are wrong (not a passing failure). */
static bool auth_refused(const redisReply *r) {
  return r && r->type == REDIS_REPLY_ERROR &&
         (!strncmp(r->str, "WRONGPASS", 9) || !strncmp(r->str, "NOAUTH", 6) || strstr(r->str, "invalid password") ||
          strstr(r->str, "invalid username-password") || strstr(r->str, "without any password configured"));
}

/* A connection to host:port, over TLS for rediss:// (then *t is its relay). NULL with err;
 * *settings when the TLS set-up was refused (retrying cannot help). */
static redisContext *open_context(arq_store_t *s, bool tls, const char *host, int port, int timeout_ms,
                                  arq_redis_tls_t **t, bool *settings, char *err, size_t errcap) {
  *t = NULL;
  *settings = false;
  if (tls)
    return arq_redis_tls_connect(s->cfg, host, port, timeout_ms, t, settings, err, errcap);
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (c && !c->err)
    return c;
  snprintf(err, errcap, "%s", c ? c->errstr : "out of memory");
  if (c)
    redisFree(c);
  return NULL;
}

/* The primary's address from the first sentinel that knows it (starting with the one that
 * answered last), asked over TLS too for rediss://. -1 when none does. */
static int ask_sentinels(arq_store_t *s, bool tls, char *host, size_t hostcap, int *port) {
  const arq_strlist_t *list = &s->cfg->valkey.sentinels;
  for (size_t k = 0; k < list->len; k++) {
    size_t i = (s->sentinel + k) % list->len;
    char shost[256];
    uint16_t sport;
    if (arq_config_split_hostport(list->items[i], shost, sizeof shost, &sport))
      continue;
    arq_redis_tls_t *t;
    bool settings;
    char err[320];
    redisContext *c = open_context(s, tls, shost, sport, 500, &t, &settings, err, sizeof err);
    redisReply *r = NULL;
    const char *password = s->cfg->valkey.sentinel_password;
    bool refused = false;
    if (c && password) {
      r = redisCommand(c, "AUTH %s", password);
      refused = auth_refused(r);
      if (r)
        freeReplyObject(r);
      r = NULL;
    }
    if (c && !refused)
      r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->cfg->valkey.master_name);
    if (refused || auth_refused(r)) {
      s->auth_refused = true; /* unless another sentinel answers */
      snprintf(s->refusal, sizeof s->refusal, "the sentinel %s refused %s", list->items[i],
               password ? "valkey.sentinel_password" : "to answer without a password (valkey.sentinel_password)");
    }
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
              r->element[1]->type == REDIS_REPLY_STRING && strlen(r->element[0]->str) < hostcap;
    if (ok) {
      s->auth_refused = false;
      snprintf(host, hostcap, "%s", r->element[0]->str);
      *port = atoi(r->element[1]->str);
      s->sentinel = i;
    }
    if (r)
      freeReplyObject(r);
    arq_redis_tls_close(c, t);
    if (ok)
      return 0;
  }
  if (s->auth_refused)
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "a sentinel refused the credentials; retrying", {"error", s->refusal});
  else
    ARQ_LOG(ARQ_LOG_WARN, "brain", "no sentinel names the primary; retrying", {"master_name", s->cfg->valkey.master_name});
  return -1;
}

static bool connect_redis(arq_store_t *s) {
  int64_t now = arq_monotonic_ms();
  if (now < s->retry_ms)
    return false;
  s->retry_ms = now + REDIS_RETRY_MS;
  s->refusal[0] = '\0';
  s->auth_refused = false;
  arq_redis_url_t u;
  const char *why = NULL;
  char shown[512];
  arq_redis_url_redacted(s->cfg->valkey.url, shown, sizeof shown);
  if (arq_redis_url_parse(s->cfg->valkey.url, &u, &why)) { /* the config loader checked it */
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "valkey.url is not usable", {"url", shown}, {"error", why});
    return false;
  }
  if (s->cfg->valkey.sentinels.len && ask_sentinels(s, u.tls, u.host, sizeof u.host, &u.port))
    return false;
  arq_redis_tls_t *t;
  char err[320];
  redisContext *c = open_context(s, u.tls, u.host, u.port, 1000, &t, &s->tls_refused, err, sizeof err);
  if (!c) {
    if (s->tls_refused) {
      snprintf(s->refusal, sizeof s->refusal, "%s", err);
      ARQ_LOG(ARQ_LOG_ERROR, "brain", "TLS to Redis refused; retrying", {"url", shown}, {"error", err});
    } else {
      ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis unreachable; retrying", {"url", shown}, {"error", err});
    }
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
  if (!ok && t && !r) { /* a TLS server that ends the session at once: refused, e.g. no client certificate */
    const char *alert = arq_redis_tls_error(t);
    snprintf(s->refusal, sizeof s->refusal, "the server closed the TLS connection at %s%s%s (does it require a "
             "client certificate? valkey.tls_cert_file)", step, *alert ? ": " : "", alert);
    s->tls_refused = true;
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "TLS to Redis refused; retrying", {"url", shown}, {"error", s->refusal});
  } else if (!ok) {
    ARQ_LOG(ARQ_LOG_ERROR, "brain", s->auth_refused ? "Redis refused the credentials of valkey.url" : "Redis refused the connection's set-up",
            {"url", shown}, {"command", step}, {"error", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr});
    if (r)
      freeReplyObject(r);
    arq_redis_tls_close(c, t);
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
      arq_redis_tls_close(c, t);
      return false;
    }
  }
  if (r)
    freeReplyObject(r);
  s->auth_refused = false;
  s->c = c;
  s->tls = t;
  ARQ_LOG(ARQ_LOG_INFO, "brain", "Redis connected", {"url", shown});
  return true;
}

int arq_store_check(arq_store_t *s, char *err, size_t errcap) {
  s->retry_ms = 0;
  if (s->c || connect_redis(s))
    return 0;
  char shown[512];
  if (s->tls_refused) {
    snprintf(err, errcap, "valkey: TLS to Redis refused (%s): %s",
             arq_redis_url_redacted(s->cfg->valkey.url, shown, sizeof shown), s->refusal);
    return -1;
  }
  if (!s->auth_refused)
    return 0; /* unreachable for now: the Brain waits for it as always */
  if (*s->refusal) {
    snprintf(err, errcap, "valkey: %s", s->refusal);
    return -1;
  }
  snprintf(err, errcap, "valkey: Redis refused the credentials of %s",
           arq_redis_url_redacted(s->cfg->valkey.url, shown, sizeof shown));
  return -1;
}

static redisReply *checked(arq_store_t *s, redisReply *r) {
  if (!r) {
    ARQ_LOG(ARQ_LOG_WARN, "brain", "Redis connection lost", {"error", s->c->errstr});
    arq_counter_inc(s->errors);
    arq_store_close(s);
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

redisReply *arq_store_script(arq_store_t *s, const char *script, const char *sha, int argc,
                             const char **argv, size_t *lens) {
  if (!s->c && !connect_redis(s))
    return NULL;
  argv[0] = "EVALSHA";
  argv[1] = sha;
  lens[0] = 7;
  lens[1] = strlen(sha);
  redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
  if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
    freeReplyObject(r); /* not cached yet (a new or restarted Redis): EVAL caches it */
    argv[0] = "EVAL";
    argv[1] = script;
    lens[0] = 4;
    lens[1] = strlen(script);
    r = redisCommandArgv(s->c, argc, argv, lens);
  }
  return checked(s, r);
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
  arq_redis_tls_close(s->c, s->tls);
  s->c = NULL;
  s->tls = NULL;
}
