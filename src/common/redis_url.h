/*
 * redis_url.h — [valkey] url: redis[s]://[[user]:password@]host[:port][/db].
 *
 * User and password may be percent-encoded (a password with '@', ':' or '/' must be).
 * rediss:// is Redis over TLS (the Brain's redis_tls.h).
 */
#ifndef ARQ_COMMON_REDIS_URL_H
#define ARQ_COMMON_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  char host[256];
  int port; /* 6379 when not given */
  int db;   /* 0 when not given */
  char user[128];     /* "" : the default user (AUTH with the password alone) */
  char password[256]; /* "" : no AUTH */
  bool tls;           /* rediss:// */
} arq_redis_url_t;

/** 0, or -1 with a constant reason in *why. */
int arq_redis_url_parse(const char *url, arq_redis_url_t *out, const char **why);
/** The url with its password replaced by "***", for logs and messages. */
const char *arq_redis_url_redacted(const char *url, char *buf, size_t cap);

#endif
