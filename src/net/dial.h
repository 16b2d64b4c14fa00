/*
 * dial.h — an outgoing TCP connection within a time limit, for the programs' blocking
 * clients (arq's HTTP client, the Brain's TLS connection to Redis).
 */
#ifndef ARQ_NET_DIAL_H
#define ARQ_NET_DIAL_H

#include <stddef.h>
#include <stdint.h>

/** A connected, non-blocking socket to host:port (each address it resolves to, in turn),
 *  within timeout_ms in all. -1 with "cannot connect to host:port: why" in err. */
int arq_net_dial(const char *host, uint16_t port, int timeout_ms, char *err, size_t errcap);

#endif
