/*
 * redis_tls.h — Redis over TLS (rediss://) for a hiredis without TLS.
 *
 * DESIGN
 *   Debian 12's hiredis (0.14) speaks plain TCP only. A connection to a rediss:// server is
 *   therefore made by OpenSSL here, and hiredis is handed one end of a socketpair
 *   (redisConnectFd); a thread of the connection relays bytes between that pair and the TLS
 *   session. The server's certificate is verified against [valkey] tls_ca_file (or the
 *   system's store) and must name the host of the URL (DNS name or IP address); a client
 *   certificate is presented when tls_cert_file and tls_key_file are set (Redis requires
 *   one by default: tls-auth-clients yes). hiredis's own timeouts work unchanged on its end
 *   of the pair; closing the connection stops the relay within a system call.
 */
#ifndef ARQ_BRAIN_REDIS_TLS_H
#define ARQ_BRAIN_REDIS_TLS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "common/config.h"

typedef struct arq_redis_tls arq_redis_tls_t;

/** A hiredis context on a TLS connection to host:port, set up within timeout_ms; *tls is
 *  what arq_redis_tls_close() needs afterwards. NULL with a reason in err, and *settings
 *  true when retrying cannot help (the files of the configuration, an untrusted server). */
redisContext *arq_redis_tls_connect(const arq_config_t *cfg, const char *host, int port, int timeout_ms,
                                    arq_redis_tls_t **tls, bool *settings, char *err, size_t errcap);
/** Why the server ended the session ("" when it did not say); stops the relay first, so
 *  only for a connection about to be closed. */
const char *arq_redis_tls_error(arq_redis_tls_t *tls);
/** Frees the hiredis context and the TLS connection under it (either may be NULL). */
void arq_redis_tls_close(redisContext *c, arq_redis_tls_t *tls);

#endif
