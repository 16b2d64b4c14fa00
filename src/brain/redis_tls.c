/*
 * redis_tls.c — a TLS connection to Redis relayed to hiredis through a socketpair
 * (redis_tls.h).
 */
#include "brain/redis_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "net/dial.h"

struct arq_redis_tls {
  SSL_CTX *ctx;
  SSL *ssl;
  int tcp;   /* to Redis, carrying TLS */
  int relay; /* our end of the pair; hiredis has the other */
  pthread_t thread;
  bool running;
  char why[200]; /* what ended the TLS session, when the server ended it with an alert */
};

static void ssl_error(char *err, size_t errcap, const char *what) {
  unsigned long e = ERR_get_error();
  char detail[256] = "";
  if (e)
    ERR_error_string_n(e, detail, sizeof detail);
  snprintf(err, errcap, "%s%s%s", what, *detail ? ": " : "", detail);
  ERR_clear_error();
}

/* A TCP connection to host:port within timeout_ms, made blocking, with timeouts for the
 * handshake. -1 with err. */
static int tcp_connect(const char *host, int port, int timeout_ms, char *err, size_t errcap) {
  int fd = arq_net_dial(host, (uint16_t)port, timeout_ms, err, errcap);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  return fd;
}

static bool write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* Bytes from hiredis go out through TLS; what Redis sends comes back to hiredis. Ends when
 * either side closes; then hiredis reads end-of-file. */
static void *relay(void *arg) {
  arq_redis_tls_t *t = arg;
  char buf[16384];
  for (;;) {
    struct pollfd p[2] = {{t->relay, POLLIN, 0}, {t->tcp, POLLIN, 0}};
    if (!SSL_pending(t->ssl) && poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[0].revents) {
      ssize_t n = read(t->relay, buf, sizeof buf);
      if (n <= 0 || SSL_write(t->ssl, buf, (int)n) != (int)n)
        break;
    }
    if (p[1].revents || SSL_pending(t->ssl)) {
      int n = SSL_read(t->ssl, buf, sizeof buf);
      if (n <= 0) {
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
          continue;
        if (e == SSL_ERROR_SSL)
          ssl_error(t->why, sizeof t->why, "the server ended the TLS session");
        break;
      }
      if (!write_all(t->relay, buf, (size_t)n))
        break;
    }
  }
  shutdown(t->relay, SHUT_RDWR);
  ERR_clear_error();
  return NULL;
}

static void stop_relay(arq_redis_tls_t *t) {
  if (t->running) {
    shutdown(t->tcp, SHUT_RDWR); /* wakes a relay blocked on either side */
    shutdown(t->relay, SHUT_RDWR);
    pthread_join(t->thread, NULL);
    t->running = false;
  }
}

static void free_tls(arq_redis_tls_t *t) {
  stop_relay(t);
  if (t->ssl)
    SSL_free(t->ssl);
  SSL_CTX_free(t->ctx);
  if (t->tcp >= 0)
    close(t->tcp);
  if (t->relay >= 0)
    close(t->relay);
  free(t);
}

static SSL_CTX *make_ctx(const arq_config_t *cfg, char *err, size_t errcap) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ssl_error(err, errcap, "TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  const char *ca = cfg->valkey.tls_ca_file;
  if (ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
    ssl_error(err, errcap, ca ? "valkey.tls_ca_file cannot be read" : "the system's CA store cannot be read");
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (cfg->valkey.tls_cert_file &&
      (SSL_CTX_use_certificate_chain_file(ctx, cfg->valkey.tls_cert_file) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, cfg->valkey.tls_key_file, SSL_FILETYPE_PEM) != 1 ||
       SSL_CTX_check_private_key(ctx) != 1)) {
    ssl_error(err, errcap, "valkey.tls_cert_file / tls_key_file cannot be used");
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

redisContext *arq_redis_tls_connect(const arq_config_t *cfg, const char *host, int port, int timeout_ms,
                                    arq_redis_tls_t **tls, bool *settings, char *err, size_t errcap) {
  *tls = NULL;
  *settings = false;
  arq_redis_tls_t *t = calloc(1, sizeof *t);
  if (!t)
    arq_oom("redis tls");
  t->tcp = t->relay = -1;
  if (!(t->ctx = make_ctx(cfg, err, errcap))) {
    *settings = true;
    free_tls(t);
    return NULL;
  }
  if ((t->tcp = tcp_connect(host, port, timeout_ms, err, errcap)) < 0) {
    free_tls(t);
    return NULL;
  }
  t->ssl = SSL_new(t->ctx);
  struct in6_addr ip;
  bool is_ip = inet_pton(AF_INET, host, &ip) == 1 || inet_pton(AF_INET6, host, &ip) == 1;
  X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
  if (!t->ssl || !SSL_set_fd(t->ssl, t->tcp) ||
      !(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
              : X509_VERIFY_PARAM_set1_host(param, host, 0) && SSL_set_tlsext_host_name(t->ssl, host))) {
    ssl_error(err, errcap, "TLS set-up");
    free_tls(t);
    return NULL;
  }
  if (SSL_connect(t->ssl) != 1) {
    *settings = true; /* a server that is up but refuses: not trusted, no client certificate, not TLS */
    long verify = SSL_get_verify_result(t->ssl);
    if (verify != X509_V_OK) {
      snprintf(err, errcap, "TLS handshake with %s:%d: the server's certificate is not trusted: %s", host, port,
               X509_verify_cert_error_string(verify));
      ERR_clear_error();
    } else {
      char what[128];
      snprintf(what, sizeof what, "TLS handshake with %s:%d failed", host, port);
      ssl_error(err, errcap, what);
    }
    free_tls(t);
    return NULL;
  }
  struct timeval none = {0, 0}; /* the relay waits in poll; hiredis has its own timeouts */
  setsockopt(t->tcp, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  setsockopt(t->tcp, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) {
    snprintf(err, errcap, "socketpair: %s", strerror(errno));
    free_tls(t);
    return NULL;
  }
  t->relay = pair[0];
  redisContext *c = redisConnectFd(pair[1]);
  if (!c || c->err) {
    snprintf(err, errcap, "hiredis: %s", c ? c->errstr : "out of memory");
    if (c)
      redisFree(c);
    else
      close(pair[1]);
    free_tls(t);
    return NULL;
  }
  if (pthread_create(&t->thread, NULL, relay, t)) {
    snprintf(err, errcap, "cannot start the TLS relay thread");
    redisFree(c);
    free_tls(t);
    return NULL;
  }
  t->running = true;
  *tls = t;
  return c;
}

const char *arq_redis_tls_error(arq_redis_tls_t *tls) {
  if (!tls)
    return "";
  stop_relay(tls);
  return tls->why;
}

void arq_redis_tls_close(redisContext *c, arq_redis_tls_t *tls) {
  if (c)
    redisFree(c);
  if (tls)
    free_tls(tls);
}
