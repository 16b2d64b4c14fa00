/*
 * Secrets: the environment wins over the file, so an operator can inject them without
 * writing them to disk; nothing falls back to a built-in default (fail closed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"

#define SECRET_MAX_BYTES 65536

static char *dup_or_die(const char *s) {
  char *p = strdup(s);
  if (!p)
    arq_oom("secret");
  return p;
}

/* The file's content without trailing CR/LF. */
static char *read_secret_file(const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(SECRET_MAX_BYTES + 1);
  if (!buf)
    arq_oom("secret");
  size_t n = fread(buf, 1, SECRET_MAX_BYTES + 1, f);
  fclose(f);
  if (n > SECRET_MAX_BYTES) {
    snprintf(err, errcap, "%s: larger than %d bytes", path, SECRET_MAX_BYTES);
    free(buf);
    return NULL;
  }
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    n--;
  buf[n] = '\0';
  if (!n || strlen(buf) != n) {
    snprintf(err, errcap, "%s: %s", path, n ? "contains a NUL byte" : "is empty");
    free(buf);
    return NULL;
  }
  return buf;
}

char *arq_config_jwt_secret(const arq_config_t *cfg, char *err, size_t errcap) {
  const char *env = getenv("ARQON_JWT_SECRET");
  if (env && *env)
    return dup_or_die(env);
  if (cfg->auth.jwt_secret)
    return dup_or_die(cfg->auth.jwt_secret);
  if (cfg->auth.jwt_secret_file)
    return read_secret_file(cfg->auth.jwt_secret_file, err, errcap);
  snprintf(err, errcap,
           "no JWT secret configured (set auth.jwt_secret, auth.jwt_secret_file or ARQON_JWT_SECRET)");
  return NULL;
}

char *arq_config_nats_password(const arq_config_t *cfg, char *err, size_t errcap) {
  err[0] = '\0';
  const char *env = getenv("ARQON_NATS_PASSWORD");
  if (env && *env)
    return dup_or_die(env);
  if (cfg->nats.password)
    return dup_or_die(cfg->nats.password);
  if (cfg->nats.password_file)
    return read_secret_file(cfg->nats.password_file, err, errcap);
  return NULL;
}
