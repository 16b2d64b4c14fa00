#include "shield/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>

arq_tls_ctx_t *arq_tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errcap) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    snprintf(err, errcap, "TLS: cannot create a context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  const char *what = NULL;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
    what = cert_file;
  else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
    what = key_file;
  else if (SSL_CTX_check_private_key(ctx) != 1)
    what = "the key does not match the certificate";
  if (what) {
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    snprintf(err, errcap, "TLS: %s: %s", what, reason);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

void arq_tls_ctx_free(arq_tls_ctx_t *ctx) { SSL_CTX_free(ctx); }

arq_tls_t *arq_tls_new(arq_tls_ctx_t *ctx, int fd) {
  SSL *ssl = SSL_new(ctx);
  if (!ssl)
    return NULL;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return NULL;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

void arq_tls_free(arq_tls_t *t) { SSL_free(t); }

static ssize_t outcome(arq_tls_t *t, int rc) {
  switch (SSL_get_error(t, rc)) {
  case SSL_ERROR_WANT_READ:
    return ARQ_TLS_WANT_READ;
  case SSL_ERROR_WANT_WRITE:
    return ARQ_TLS_WANT_WRITE;
  case SSL_ERROR_ZERO_RETURN:
    return 0;
  default:
    ERR_clear_error(); /* the error queue is per thread: leave it clean for the next one */
    return ARQ_TLS_FAILED;
  }
}

ssize_t arq_tls_read(arq_tls_t *t, void *buf, size_t len) {
  int n = SSL_read(t, buf, len > INT32_MAX ? INT32_MAX : (int)len);
  return n > 0 ? n : outcome(t, n);
}

ssize_t arq_tls_write(arq_tls_t *t, const void *buf, size_t len) {
  int n = SSL_write(t, buf, len > INT32_MAX ? INT32_MAX : (int)len);
  return n > 0 ? n : outcome(t, n);
}

bool arq_tls_pending(arq_tls_t *t) { return SSL_pending(t) > 0; }

void arq_tls_shutdown(arq_tls_t *t) {
  if (SSL_is_init_finished(t))
    SSL_shutdown(t);
  ERR_clear_error();
}
