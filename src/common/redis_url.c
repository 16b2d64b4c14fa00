#include "common/redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/percent.h"

/* Percent-decodes a credential; -1 when it is not well-formed or does not fit. */
static int decode(const char *s, size_t n, char *out, size_t cap) {
  return arq_percent_decode(s, n, false, out, cap) < 0 ? -1 : 0;
}

int arq_redis_url_parse(const char *url, arq_redis_url_t *out, const char **why) {
  memset(out, 0, sizeof *out);
  out->port = 6379;
  out->tls = !strncmp(url, "rediss://", 9);
  if (!out->tls && strncmp(url, "redis://", 8))
    return *why = "expected redis://[[user]:password@]host[:port][/db] (rediss:// for TLS)", -1;
  const char *p = url + (out->tls ? 9 : 8);
  const char *end = p + strcspn(p, "/");
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q; /* the last '@' before the path: a raw '@' in a password is an error below */
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (!colon)
      return *why = "credentials must be user:password@ or :password@", -1;
    if (decode(p, (size_t)(colon - p), out->user, sizeof out->user) ||
        decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) ||
        memchr(colon + 1, '@', (size_t)(at - colon - 1)))
      return *why = "credentials: bad percent-encoding, too long, or an unencoded '@'", -1;
    if (!out->password[0])
      return *why = "credentials: the password is empty", -1;
    p = at + 1;
  }
  size_t n = strcspn(p, ":/");
  if (n == 0 || n >= sizeof out->host)
    return *why = "expected a host after redis:// or rediss://", -1;
  memcpy(out->host, p, n);
  out->host[n] = '\0';
  p += n;
  if (*p == ':') {
    char *e = NULL;
    long port = strtol(p + 1, &e, 10);
    if (e == p + 1 || port <= 0 || port > 65535 || (*e && *e != '/'))
      return *why = "the port must be 1 to 65535", -1;
    out->port = (int)port;
    p = e;
  }
  if (*p == '/' && p[1]) {
    char *e = NULL;
    long db = strtol(p + 1, &e, 10);
    if (e == p + 1 || *e || db < 0 || db > 1000000)
      return *why = "the database must be a number", -1;
    out->db = (int)db;
  } else if (*p == '/' ? p[1] : *p) {
    return *why = "unexpected text after the host", -1;
  }
  return 0;
}

const char *arq_redis_url_redacted(const char *url, char *buf, size_t cap) {
  const char *scheme = strstr(url, "://");
  const char *start = scheme ? scheme + 3 : url;
  const char *end = start + strcspn(start, "/");
  const char *at = NULL;
  for (const char *q = start; q < end; q++)
    if (*q == '@')
      at = q;
  const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
  if (!colon)
    snprintf(buf, cap, "%s", url);
  else
    snprintf(buf, cap, "%.*s:***%s", (int)(colon - url), url, at);
  return buf;
}
