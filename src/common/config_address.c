/* Listen addresses in the config: "host:port", "[v6]:port". */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int arq_config_split_hostport(const char *s, char *host, size_t hostcap, uint16_t *port) {
  const char *colon;
  const char *h = s;
  size_t hlen;
  if (!s || !*s)
    return -1;
  if (*s == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return -1;
    h = s + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || memchr(s, ':', (size_t)(colon - s)))
      return -1; /* bare IPv6 needs brackets */
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= hostcap)
    return -1;
  const char *p = colon + 1;
  if (!*p || strlen(p) > 5)
    return -1;
  long v = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    v = v * 10 + (*p - '0');
  }
  if (v > 65535)
    return -1;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = (uint16_t)v;
  return 0;
}

bool arq_config_host_is_loopback(const char *host) {
  unsigned char a[16];
  if (!strcmp(host, "localhost"))
    return true;
  if (inet_pton(AF_INET, host, a) == 1)
    return a[0] == 127;
  if (inet_pton(AF_INET6, host, a) == 1) {
    static const unsigned char loop6[16] = {[15] = 1};
    return !memcmp(a, loop6, 16);
  }
  return false;
}
