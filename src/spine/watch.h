/*
 * watch.h — following a NATS KV bucket from a thread of its own: connect (with the
 * [nats] settings), open or create the bucket, deliver every current entry and then every
 * change, and start over after a failure. nats.c's KV calls block, which is why this runs
 * beside the event loops and never on them. Used for policies and schemas.
 */
#ifndef ARQ_SPINE_WATCH_H
#define ARQ_SPINE_WATCH_H

#include <nats/nats.h>

#include "common/config.h"

typedef struct arq_kv_watch arq_kv_watch_t;

typedef struct {
  const char *bucket;
  const char *component; /* for log lines */
  /** Called on the watch thread for each entry (put, delete or purge). */
  void (*on_entry)(void *arg, kvEntry *e);
  /** Called once, after the entries present at the first watch were delivered. */
  void (*on_ready)(void *arg);
  void *arg;
  /** When > 0, the whole bucket is read again this often, besides following changes:
   *  nothing cached can be older than this even if a change notification was lost. */
  int refresh_s;
  int64_t replicas; /* of the bucket when it is created ([nats] stream_replicas) */
} arq_kv_watch_spec_t;

/** Starts the thread; NULL when it cannot be created. `cfg` must outlive the watch. */
arq_kv_watch_t *arq_kv_watch_start(const arq_config_t *cfg, const arq_kv_watch_spec_t *spec);
/** Stops and joins the thread (bounded by the poll interval). */
void arq_kv_watch_stop(arq_kv_watch_t *w);

#endif
