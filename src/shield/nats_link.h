/*
 * nats_link.h — the Shield's NATS connection (nats.c).
 *
 * DESIGN
 *   One connection per process, shared by every worker (nats.c is thread-safe and
 *   buffers writes). Publishes refuse at once while NATS is unreachable: the client gets
 *   503, nothing is buffered without bound and nothing is acknowledged falsely; nats.c
 *   reconnects forever and re-creates the subscriptions, so traffic resumes on the same
 *   client connections.
 *
 *   Room subscriptions are counted per worker: the first local member anywhere on the
 *   node subscribes `out.t.<tenant>.r.<room>`, the last one to leave unsubscribes. The
 *   subscription's closure is the room's entry, so a delivery needs no lookup; the entry
 *   is freed only after nats.c says the last callback has returned.
 */
#ifndef ARQ_SHIELD_NATS_LINK_H
#define ARQ_SHIELD_NATS_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

typedef struct arq_shield arq_shield_t;
typedef struct arq_link arq_link_t;

typedef struct {
  const char *trace_id; /* 32 hex */
  const char *tenant;
  const char *sender;
  const char *conn;
  bool shadow; /* adds x-arqon-shadow: true */
  const char *extra; /* more headers (from policies): name/value pairs, each NUL-terminated */
  size_t extra_len;
} arq_link_headers_t;

arq_link_t *arq_link_new(arq_shield_t *s, char *err, size_t errcap);
/** Flushes what is buffered (bounded by timeout_ms) and closes. */
void arq_link_free(arq_link_t *sp, int timeout_ms);
bool arq_link_connected(const arq_link_t *sp);
/** The connection itself (nats.c's calls are thread-safe), for JetStream requests. */
natsConnection *arq_link_connection(const arq_link_t *sp);

/** What arq_link_publish returns. */
enum {
  ARQ_LINK_PUBLISHED = 0,
  ARQ_LINK_UNAVAILABLE = -1, /* NATS is down or refused the publish */
  ARQ_LINK_TOO_LARGE = -2,   /* over the server's max_payload (headers included) */
};

/** Publishes with the SPEC headers (traceparent, x-arqon-*), and a reply subject when
 *  `reply` is not NULL. Returns one of ARQ_SPINE_*. Safe from any thread. */
int arq_link_publish(arq_link_t *sp, const char *subject, const char *reply, const void *data,
                      size_t len, const arq_link_headers_t *h);

/** What nats.c last said went wrong on the calling thread ("" when nothing). */
const char *arq_link_last_error(void);

/** Publishes `data` as is to a reply subject (no headers). Safe from any thread. */
int arq_link_reply(arq_link_t *sp, const char *reply, const void *data, size_t len);

/** A message for a part of the Shield that subscribed through the link: its subject, its
 *  reply subject (NULL when none) and data. Runs on a nats.c thread. */
typedef void (*arq_link_msg_fn)(void *arg, const char *subject, const char *reply, const void *data,
                                size_t len);
typedef struct arq_link_sub arq_link_sub_t;

/** Subscribes `subject` on the node's connection for another part (the overseer answers
 *  canary reports this way). NULL when nats.c refuses; the reason is logged. */
arq_link_sub_t *arq_link_subscribe(arq_link_t *sp, const char *subject, arq_link_msg_fn fn, void *arg);
/** Ends a subscription (NULL-safe). Returns true once `fn` is not running and will not run
 *  again (nats.c says so); false when that did not come within 2 s: the subscription's
 *  memory is kept then, and the caller must keep `arg` too, rather than free either under
 *  a call that may still be running. */
bool arq_link_unsubscribe(arq_link_sub_t *sub);

/** The prefix of this process's reply subjects ("_INBOX.<instance>."): replies published
 *  to it are passed to arq_requests_on_reply(). */
const char *arq_link_inbox(const arq_link_t *sp);

/** Counts a worker's interest in a room; the node subscribes on the first. */
int arq_link_room_ref(arq_link_t *sp, const char *tenant, const char *room, size_t worker);
void arq_link_room_unref(arq_link_t *sp, const char *tenant, const char *room, size_t worker);

#endif
