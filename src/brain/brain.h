/*
 * brain.h — arqon-brain: presence, per-room order and history (SPEC sections 1, 3, 4).
 *
 * DESIGN
 *   Threads. nats.c delivers on its own threads; its callbacks never do the work. Two
 *   threads of the Brain do it, each with its own Redis connection:
 *     - the sequencer (sequencer.c) numbers room events: it reads ARQON_INGRESS through a
 *       bounded pull consumer (pull.c, reader.c) in batches, publishes them and commits
 *       each batch to Redis. Data never waits in a queue of the Brain: a backlog stays in
 *       the stream, and the consumer asks only for what it has room for.
 *     - the control worker (main.c) does everything else: leases, join/leave notices (a
 *       consumer of their own, so that a data backlog never holds presence back),
 *       presence and history requests, Shield heartbeats and liveness probes, taken from a
 *       bounded job queue (queue.c) filled by the core subscriptions.
 *   A small thread answers HTTP /metrics (metrics_http.c).
 *
 *   Partitions. A room belongs to partition arq_brain_partition(tenant, room, P). A Brain
 *   works on the rooms of the partitions it holds a lease for (leases.c, NATS KV bucket
 *   ARQON_BRAIN), so each room has one sequencer at a time; Brains share the partitions
 *   evenly and take over those of a Brain whose lease expired. The control worker changes
 *   ownership under own_lock, which the sequencer holds while it handles a batch, and
 *   waits for the sequencer to commit what it has in flight before a lease goes back.
 *
 *   Order and no loss. The Shield's room events and join/leave notices are stored by the
 *   stream ARQON_INGRESS before the Shield acknowledges them, so they survive the death of
 *   the Brain that was to handle them. A room's seq is a pure function of the stream's
 *   order (sequencer.c), so a replay from the last commit numbers every message as before.
 *   docs/brain.md states what that guarantees.
 */
#ifndef ARQ_BRAIN_BRAIN_H
#define ARQ_BRAIN_BRAIN_H

#include <hiredis/hiredis.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "common/deadline.h" /* every timed wait of the Brain is on the monotonic clock */
#include "common/ids.h"
#include "common/metrics.h"
#include "common/strmap.h"
#include "common/trace.h"
#include "spine/streams.h"

#define ARQ_BRAIN_TICK_MS 250
#define ARQ_BRAIN_QUEUE_MAX 65536 /* control jobs waiting for the worker (see queue.c); requests
                                     stop at brain.max_pending_requests */

#define ARQ_BRAIN_BUCKET "ARQON_BRAIN"

typedef enum {
  JOB_REQUEST,   /* sys.brain.<t>.presence|history */
  JOB_HEARTBEAT, /* sys.shield.<node>.hb */
  JOB_PROBE,     /* a "no responders" answer to a liveness probe */
} arq_job_kind_t;

typedef struct arq_job {
  struct arq_job *next;
  arq_job_kind_t kind;
  natsMsg *msg;     /* owned by the job */
  int64_t queued_ms; /* arq_monotonic_ms() when it arrived */
} arq_job_t;

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  arq_job_t *head, *tail;
  size_t len;
  bool woken; /* arq_queue_wake: the next pop returns at once */
} arq_queue_t;

/* One partition as this Brain sees it. */
typedef struct {
  bool owned;          /* written by the control worker under own_lock */
  uint64_t fence;      /* revision at acquisition: orders owners over time (under own_lock) */
  uint64_t lease_rev;  /* KV revision of the lease key, for compare-and-set renewal */
  _Atomic bool fenced; /* the sequencer met a newer owner's token: the worker drops the lease */
} arq_partition_t;

/* A Shield instance with presence entries, for liveness. */
typedef struct {
  char node[ARQ_ID_MAX_LEN + 1]; /* "" when the Shield did not say */
  int64_t missing_since_ms;      /* first probe found no subscriber; 0 while alive */
  int64_t probe_sent_ms;
  bool probe_dead;               /* the last probe came back "no responders" */
} arq_instance_t;

typedef struct {
  arq_gauge_t *rooms, *presence_entries, *partitions_owned, *queue_len, *shield_nodes;
  arq_gauge_t *lag, *notice_lag;
  arq_counter_t *sequenced, *duplicates, *dropped, *ownership_changes, *presence_expired;
  arq_counter_t *requests, *requests_refused, *redis_errors, *nats_errors, *queue_overflows;
  arq_counter_t *batches;
  arq_histogram_t *sequence_duration, *ingress_wait;
  arq_gauge_t **partition_owned; /* [partitions]: 1 while this Brain holds the lease */
} arq_brain_metrics_t;

/* A Redis connection, owned by one thread (store.c). */
typedef struct arq_store {
  const arq_config_t *cfg;
  redisContext *c; /* NULL while disconnected */
  int64_t retry_ms;
  struct arq_redis_tls *tls; /* under c, for rediss:// */
  bool auth_refused; /* the last attempt was refused for its credentials */
  bool tls_refused;  /* ... or its TLS set-up (why: in refusal) */
  char refusal[320];
  size_t sentinel;   /* the sentinel to ask first: the one that answered last */
  arq_counter_t *errors;
} arq_store_t;

/* A Shield node as its heartbeats tell it (sys.shield.<node>.hb). */
typedef struct {
  int64_t last_ms;     /* the last heartbeat, on this Brain's clock */
  int64_t connections; /* what that heartbeat said */
} arq_node_t;

typedef struct arq_sequencer arq_sequencer_t;

typedef struct arq_brain {
  const arq_config_t *cfg;
  char id[17];       /* random per process: lease values, probe inboxes */
  uint32_t partitions;
  atomic_bool stop;

  natsConnection *nc;
  jsCtx *js;
  kvStore *kv;
  natsSubscription *request_sub, *request_sub2, *rooms_sub, *info_sub, *hb_sub, *probe_sub;

  arq_store_t store; /* the control worker's */
  _Atomic uint64_t reconnects; /* NATS reconnections: consumers restart from checkpoints */

  arq_queue_t queue;
  pthread_mutex_t own_lock; /* ownership changes; held by the sequencer while it handles a batch */
  uint64_t own_epoch;       /* bumped under own_lock on every ownership change */
  arq_partition_t *part;    /* [partitions] */
  arq_sequencer_t *seq;
  struct arq_notices *notices;
  int64_t lease_due_ms;
  int64_t probe_due_ms;
  struct deferred *deferred; /* requests waiting for their connection's join (requests.c) */
  size_t deferred_len;       /* at most brain.max_pending_requests */
  int64_t deferred_retry_ms; /* the earliest next check of a kept request */
  int64_t history_direct_until_ms; /* history skips the consumer until then (history.c) */
  arq_strmap_t instances; /* instance -> arq_instance_t* */
  arq_strmap_t nodes;     /* node -> arq_node_t* */
  int64_t started_ms;

  arq_metrics_t *metrics;
  arq_brain_metrics_t m;
  _Atomic bool ready; /* the first lease round is done */
} arq_brain_t;

/* queue.c */
void arq_queue_init(arq_queue_t *q);
void arq_queue_free(arq_queue_t *q);
/** Appends; false (and nothing queued) when `max` jobs wait already. */
bool arq_queue_push(arq_queue_t *q, arq_job_t *job, size_t max);
/** Makes the current or next arq_queue_pop return at once (from any thread). */
void arq_queue_wake(arq_queue_t *q);
/** The oldest job, or NULL after waiting `timeout_ms` for one or after a wake. */
arq_job_t *arq_queue_pop(arq_queue_t *q, int timeout_ms);
void arq_job_free(arq_job_t *job);

/* nats_io.c */
int arq_brain_nats_open(arq_brain_t *b, char *err, size_t errcap);
int arq_brain_nats_subscribe(arq_brain_t *b, char *err, size_t errcap);
void arq_brain_nats_close(arq_brain_t *b);
/** What the Brain knows of a message it sends, for the SPEC headers the source message
 *  (if any) does not supply. NULL or empty fields are unknown. */
typedef struct {
  const char *trace_id; /* used when valid and the source names no trace */
  const char *tenant, *sender, *conn;
} arq_brain_headers_t;
/** The trace id of a message the Brain sends: `from`'s x-arqon-trace-id, else the trace of
 *  its traceparent, else `own`, else a fresh one (each only when valid). */
void arq_brain_trace_id(natsMsg *from, const char *own, char out[ARQ_TRACE_ID_LEN + 1]);
/** Sets traceparent, x-arqon-trace-id, x-arqon-tenant, x-arqon-sender and x-arqon-conn on
 *  `msg`, all present and non-empty: `from`'s value, else `own`'s, else (tenant, sender,
 *  conn) the Brain's id; for the tenant, `own`'s first (it comes from a subject). The trace id is arq_brain_trace_id's; traceparent is `from`'s
 *  when it names that trace, else `00-<trace>-<fresh span>-01`. */
natsStatus arq_brain_set_headers(arq_brain_t *b, natsMsg *msg, natsMsg *from,
                                 const arq_brain_headers_t *own);
/** Core publish with arq_brain_set_headers (`from` and `own` may be NULL). */
int arq_brain_publish(arq_brain_t *b, const char *subject, const void *data, size_t len,
                      natsMsg *from, const arq_brain_headers_t *own);
/** A JSON audit record on sys.audit.<tenant>. */
struct Arqon__V1__Envelope;

/** A header of a NATS message, or NULL. */
const char *arq_brain_header(natsMsg *msg, const char *name);
/** Why an inbound message must not be trusted (not an Envelope, or headers and stamped
 *  fields that disagree with each other or with the subject's tenant), or NULL. */
const char *arq_brain_check_message(const char *tenant, natsMsg *msg,
                                    const struct Arqon__V1__Envelope *e);
void arq_brain_audit(arq_brain_t *b, const char *tenant, const char *action, const char *reason,
                     const char *subject, natsMsg *msg);

/* store.c: one Redis connection per thread. NULL replies mean Redis is unavailable (or
 * answered an error, logged and counted); the connection is made again on the next call,
 * at most every half second. */
void arq_store_init(arq_store_t *s, const arq_config_t *cfg, arq_counter_t *errors);
/** At start: 0 when Redis answers or is merely unreachable (the Brain waits for it); -1
 *  with the reason when Redis refuses the credentials of valkey.url (a configuration error). */
int arq_store_check(arq_store_t *s, char *err, size_t errcap);
redisReply *arq_store_command(arq_store_t *s, const char *fmt, ...);
redisReply *arq_store_argv(arq_store_t *s, int argc, const char **argv, const size_t *lens);
/** Runs `script` by its digest `sha` (EVALSHA), sending its text only when Redis answers
 *  NOSCRIPT. argv[0] and argv[1] (and their lens) are filled in here; argv[2] on are
 *  numkeys, the keys and the arguments. */
redisReply *arq_store_script(arq_store_t *s, const char *script, const char *sha, int argc,
                             const char **argv, size_t *lens);
/** Pipelining: queue commands, then read one reply per command in order. A failed
 *  arq_store_reply leaves replies unread: close the connection then. */
bool arq_store_append(arq_store_t *s, const char *fmt, ...);
bool arq_store_append_argv(arq_store_t *s, int argc, const char **argv, const size_t *lens);
redisReply *arq_store_reply(arq_store_t *s);
void arq_store_close(arq_store_t *s);

/* presence.c */
/** A join/leave notice at ingress sequence in_seq: applied when `wants` says its room's
 *  partition still needs it (and it was not applied before). Returns -1 when it must be
 *  retried (Redis unavailable), else 0. */
int arq_presence_notice(arq_brain_t *b, natsMsg *msg, uint64_t in_seq,
                        bool (*wants)(arq_brain_t *b, uint32_t p, uint64_t in_seq));
void arq_presence_state(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                        const char *trace_id);
void arq_presence_heartbeat(arq_brain_t *b, natsMsg *msg);

/* directory.c: what exists, for the server API. */
void arq_directory_rooms(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *trace);
void arq_directory_info(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *trace);
void arq_presence_probe_answer(arq_brain_t *b, natsMsg *msg);
/** Probes instances, expires dead ones (called from the tick). */
void arq_presence_tick(arq_brain_t *b, int64_t now_ms);
void arq_presence_free(arq_brain_t *b);

/* requests.c */
/** Answers a request that arrived at `received_ms`; may keep it (taking *msgp, set to
 *  NULL) until the requesting connection's join has been applied. A request its Shield
 *  no longer waits for (older than [shield] request_timeout_ms) is answered 503 without
 *  reading anything. */
void arq_brain_request(arq_brain_t *b, natsMsg **msgp, int64_t received_ms);
/** Checks again the kept requests that are due; `flush` answers all of them now. */
void arq_brain_requests_retry(arq_brain_t *b, bool flush);
/** How long the worker may wait before a kept request is due (at most `max_ms`). */
int arq_brain_requests_wait_ms(const arq_brain_t *b, int max_ms);
/** A join this Brain applied: the requests kept for it are checked on the next retry. */
void arq_brain_requests_joined(arq_brain_t *b, const char *tenant, const char *room,
                               const char *conn);
/** Replies with the protocol's error payload {"code","reason"} (arq_payload_error:
 *  the reason may quote client input). */
void arq_brain_reply_error(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                           const char *trace_id, int code, const char *reason);
/** Replies to `msg` with an envelope carrying `event_type` and `data`. */
void arq_brain_reply(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                     const char *trace_id, const char *event_type, const char *data, size_t len);

/* history.c */
/** Reads the page within `deadline_ms` (arq_monotonic_ms): every NATS call waits at most
 *  until then, and a page cut short by it ends early (next_seq says where to go on). */
void arq_history_request(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *room,
                         const char *trace_id, const uint8_t *args, size_t args_len,
                         int64_t deadline_ms);

/* sequencer.c: the sequencing thread. */
int arq_sequencer_start(arq_brain_t *b, char *err, size_t errcap);
/** Waits for the thread (after b->stop is set) and deletes its consumer. */
void arq_sequencer_stop(arq_brain_t *b);
/** Waits (a few seconds at most) until the sequencer has applied the latest ownership
 *  change, its batches in flight committed first; at once when it does not run. Called by
 *  the control thread after it dropped a partition, before the lease goes back. */
void arq_sequencer_follow(arq_brain_t *b);
void arq_sequencer_free(arq_brain_t *b);

/* notices.c: join/leave notices, on the control worker. */
void arq_notices_init(arq_brain_t *b);
/** Applies the notices that arrived (at most a bounded number per call); keeps the
 *  consumer in line with the partitions owned. */
void arq_notices_poll(arq_brain_t *b);
/** Saves the notice checkpoints that moved (tick, and before a partition is released). */
void arq_notices_save(arq_brain_t *b);
void arq_notices_stop(arq_brain_t *b);
void arq_notices_free(arq_brain_t *b);

/* leases.c */
void arq_leases_tick(arq_brain_t *b, int64_t now_ms);
/** Drops the leases the sequencer found fenced (called every tick). */
void arq_leases_check_fenced(arq_brain_t *b);
/** Gives every lease back (at shutdown), after stopping the consumers. */
void arq_leases_release_all(arq_brain_t *b);
bool arq_leases_owns_room(const arq_brain_t *b, const char *tenant, const char *room);

/* metrics_http.c */
typedef struct arq_metrics_http arq_metrics_http_t;
arq_metrics_http_t *arq_metrics_http_start(arq_brain_t *b, char *err, size_t errcap);
void arq_metrics_http_stop(arq_metrics_http_t *h);

#endif
