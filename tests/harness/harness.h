/*
 * harness.h — real servers for tests: nats-server (with JetStream) and redis-server,
 * each on a free loopback port with its own temporary directory.
 *
 * DESIGN
 *   Servers are child processes started with PR_SET_PDEATHSIG, so they die with the test
 *   even when it crashes; every started server is also stopped by an atexit handler, and
 *   its temporary directory removed. A start waits until the server answers its protocol
 *   (NATS: the INFO line; Redis: +PONG), and retries on another port if the one picked
 *   was taken in the meantime.
 */
#ifndef ARQ_TEST_HARNESS_H
#define ARQ_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;
  int port;
  char dir[256]; /* temporary directory: store, logs, config */
  char url[64];  /* nats://127.0.0.1:PORT or redis://127.0.0.1:PORT */
} arq_test_server_t;

/** A TCP port on 127.0.0.1 that was free a moment ago. */
int arq_test_free_port(void);

/** Starts nats-server with JetStream. `extra_conf` (may be NULL) is appended to the
 *  generated config file (e.g. accounts). Returns 0, or -1 with a message on stderr. */
int arq_test_nats_start(arq_test_server_t *s, const char *extra_conf);

/** Starts redis-server without persistence. Returns 0 or -1. */
int arq_test_redis_start(arq_test_server_t *s);

/** Stops (SIGTERM, then SIGKILL after 5 s) and removes the directory. Idempotent. */
void arq_test_server_stop(arq_test_server_t *s);

/** Stops and starts again on the same port and directory (JetStream data kept). */
int arq_test_server_restart(arq_test_server_t *s);

#endif
