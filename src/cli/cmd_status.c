/*
 * arq status — the health of each part of a running stack, from its config:
 *   shield  GET /readyz on shield.listen, connections from /metrics (admin_listen if set)
 *   nats    connect + round trip
 *   valkey  PING on valkey.url
 *   brain   GET /metrics on brain.metrics_listen
 * Exits 0 when every part answers, 1 otherwise.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/redis_url.h"
#include "spine/kv.h"

/* How long each part may take to answer: --timeout-ms, 2 s by default. */
static int timeout_ms = 2000;

/* Connects to host:port with a timeout; -1 when that fails. */
static int dial(const char *host, uint16_t port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  char p[8];
  snprintf(p, sizeof p, "%u", port);
  if (getaddrinfo(host, p, &hints, &ai))
    return -1;
  int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

/* Sends `req` and reads the whole answer (until close or timeout). */
static int exchange(const char *hostport, const char *req, arq_buf_t *out) {
  char host[256];
  uint16_t port;
  if (arq_config_split_hostport(hostport, host, sizeof host, &port))
    return -1;
  int fd = dial(host, port);
  if (fd < 0)
    return -1;
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
    close(fd);
    return -1;
  }
  char chunk[4096];
  struct pollfd pfd = {fd, POLLIN, 0};
  while (poll(&pfd, 1, timeout_ms) == 1) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0)
      break;
    arq_buf_append(out, chunk, (size_t)n);
  }
  close(fd);
  return out->len ? 0 : -1;
}

/* GET on a host:port of the config: 0 with the status and the body, or -1. */
static int http_get(const char *hostport, const char *path, int *status, arq_buf_t *body) {
  char host[256], err[256];
  uint16_t port;
  if (arq_config_split_hostport(hostport, host, sizeof host, &port))
    return -1;
  return arq_cli_http_get(host, port, path, timeout_ms, status, body, err, sizeof err);
}

/* The value of an unlabelled sample `name` in exposition text, or "?". */
static const char *metric(const arq_buf_t *b, const char *name, char *out, size_t cap) {
  char needle[128];
  snprintf(needle, sizeof needle, "\n%s ", name);
  const char *p = NULL;
  if (b->data && !strncmp(b->data, needle + 1, strlen(needle + 1)))
    p = b->data + strlen(needle + 1); /* the first line: no newline before it */
  else if (b->data && (p = strstr(b->data, needle)))
    p += strlen(needle);
  if (!p)
    return "?";
  size_t n = strcspn(p, "\n");
  snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
  return out;
}

static bool check_shield(const arq_config_t *cfg) {
  arq_buf_t ready, metrics;
  arq_buf_init(&ready);
  arq_buf_init(&metrics);
  int status = 0, metrics_status = 0;
  bool up = !http_get(cfg->shield.listen, "/readyz", &status, &ready);
  bool ok = up && status == 200;
  http_get(cfg->shield.admin_listen ? cfg->shield.admin_listen : cfg->shield.listen, "/metrics",
           &metrics_status, &metrics);
  char conns[32];
  printf("shield  %-5s %s  connections=%s  %s\n", ok ? "ok" : up ? "busy" : "down", cfg->shield.listen,
         metric(&metrics, "shield_connections", conns, sizeof conns), ready.data ? ready.data : "");
  arq_buf_free(&ready);
  arq_buf_free(&metrics);
  return ok;
}

static bool check_nats(const arq_config_t *cfg) {
  natsConnection *nc = NULL;
  char err[256] = "";
  bool ok = arq_nats_connect(cfg, "arq status", timeout_ms, &nc, err, sizeof err) == NATS_OK &&
            natsConnection_FlushTimeout(nc, timeout_ms) == NATS_OK;
  char where[512];
  printf("nats    %-5s %s  %s\n", ok ? "ok" : "down", arq_nats_where(cfg, where, sizeof where), ok ? "" : err);
  natsConnection_Destroy(nc);
  return ok;
}

/* A RESP command of its arguments (binary-safe: a password may hold anything). */
static void resp(arq_buf_t *out, int argc, const char *const *argv) {
  arq_buf_printf(out, "*%d\r\n", argc);
  for (int i = 0; i < argc; i++)
    arq_buf_printf(out, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static bool check_valkey(const arq_config_t *cfg) {
  arq_redis_url_t u;
  const char *why = NULL;
  char shown[512], hostport[300];
  arq_redis_url_redacted(cfg->valkey.url, shown, sizeof shown);
  if (arq_redis_url_parse(cfg->valkey.url, &u, &why)) {
    printf("valkey  %-5s %s  %s\n", "down", shown, why);
    return false;
  }
  snprintf(hostport, sizeof hostport, strchr(u.host, ':') ? "[%s]:%d" : "%s:%d", u.host, u.port);
  arq_buf_t req, reply;
  arq_buf_init(&req);
  arq_buf_init(&reply);
  if (u.password[0]) {
    const char *auth[] = {"AUTH", u.user, u.password};
    if (u.user[0])
      resp(&req, 3, auth);
    else
      resp(&req, 2, (const char *const[]){"AUTH", u.password});
  }
  static const char *const ping[] = {"PING"}, *const quit[] = {"QUIT"};
  resp(&req, 1, ping);
  resp(&req, 1, quit);
  bool ok = !exchange(hostport, req.data, &reply) && strstr(reply.data ? reply.data : "", "+PONG");
  const char *problem = !ok && reply.data && reply.data[0] == '-' ? reply.data + 1 : "";
  printf("valkey  %-5s %s  %.*s\n", ok ? "ok" : "down", shown, (int)strcspn(problem, "\r"), problem);
  arq_buf_free(&req);
  arq_buf_free(&reply);
  return ok;
}

static bool check_brain(const arq_config_t *cfg) {
  arq_buf_t metrics;
  arq_buf_init(&metrics);
  int status = 0;
  bool ok = !http_get(cfg->brain.metrics_listen, "/metrics", &status, &metrics) && status == 200;
  printf("brain   %-5s %s\n", ok ? "ok" : "down", cfg->brain.metrics_listen);
  arq_buf_free(&metrics);
  return ok;
}

int arq_cmd_status(int argc, char **argv) {
  const char *config = NULL;
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    long ms = 0;
    if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      config = argv[++i];
    } else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc &&
               (ms = strtol(argv[++i], &end, 10)) > 0 && ms <= 600000 && !*end) {
      timeout_ms = (int)ms;
    } else {
      fprintf(stderr, "usage: arq status [--config PATH] [--timeout-ms 1..600000]\n");
      return 2;
    }
  }
  arq_config_t cfg;
  char err[512];
  arq_config_defaults(&cfg);
  if (config && arq_config_load(&cfg, config, err, sizeof err)) {
    fprintf(stderr, "arq status: %s\n", err);
    arq_config_free(&cfg);
    return 2;
  }
  /* Every part is checked, even after a failure: the point is the whole picture. */
  bool ok = check_shield(&cfg);
  ok &= check_nats(&cfg);
  ok &= check_valkey(&cfg);
  ok &= check_brain(&cfg);
  arq_config_free(&cfg);
  return ok ? 0 : 1;
}
