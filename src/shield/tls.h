/*
 * tls.h — wss:// with OpenSSL: a server context from tls_cert/tls_key, and the
 * non-blocking read/write/handshake steps a connection needs.
 *
 * DESIGN
 *   A connection's transport is either the socket itself or an SSL object on it. The
 *   results are folded into three cases the connection code already knows: bytes moved,
 *   "try again when readable/writable" (want), or the connection is finished. OpenSSL may
 *   hold decrypted bytes that epoll cannot see (SSL_pending): the reader asks for another
 *   round itself when that happens.
 */
#ifndef ARQ_SHIELD_TLS_H
#define ARQ_SHIELD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_ctx_st arq_tls_ctx_t;
typedef struct ssl_st arq_tls_t;

#define ARQ_TLS_WANT_READ (-1)
#define ARQ_TLS_WANT_WRITE (-2)
#define ARQ_TLS_FAILED (-3)

/** A TLS 1.2+ server context. NULL with the reason in err (unreadable or mismatched files). */
arq_tls_ctx_t *arq_tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errcap);
void arq_tls_ctx_free(arq_tls_ctx_t *ctx);

arq_tls_t *arq_tls_new(arq_tls_ctx_t *ctx, int fd);
void arq_tls_free(arq_tls_t *t);

/** Bytes read (> 0), 0 at a clean end, or ARQ_TLS_WANT_* / ARQ_TLS_FAILED. The handshake
 *  happens inside the first reads and writes. */
ssize_t arq_tls_read(arq_tls_t *t, void *buf, size_t len);
ssize_t arq_tls_write(arq_tls_t *t, const void *buf, size_t len);
/** Decrypted bytes waiting inside OpenSSL. */
bool arq_tls_pending(arq_tls_t *t);
/** Sends close_notify when the socket takes it; never waits. */
void arq_tls_shutdown(arq_tls_t *t);

#endif
