/*
 * shield.h — the Shield's internal model: the process (arq_shield_t), its workers, and
 * their connections. Each part of the Shield is one file, with its API in a header of the
 * same name (included at the end of this one):
 *
 *   worker.c     threads, one event loop each, SO_REUSEPORT listeners, drain on SIGTERM
 *   conn.c       a connection's bytes: reading, the bounded send queue, timers, closing
 *   http_routes.c the HTTP phase: /healthz, /readyz, /metrics, the WebSocket upgrade
 *   session.c    the WebSocket phase: envelopes in, stamping, commands, events, replies
 *   egress.c     room membership and fan-out of NATS deliveries to local connections
 *   nats_link.c  the NATS connection: publish with headers, subscriptions, requests
 *   tenants.c    per-tenant connection caps and message rate
 *
 * DESIGN (threads)
 *   A connection belongs to one worker for its whole life and is only touched on that
 *   worker's thread. nats.c calls back on its own threads; those callbacks only build
 *   shared frames and post tasks to the workers concerned (arq_loop_post). Node-wide
 *   state (room subscriptions, tenants, pending requests) is behind mutexes that are
 *   taken on join/leave/connect/request, never per delivered message.
 */
#ifndef ARQ_SHIELD_SHIELD_H
#define ARQ_SHIELD_SHIELD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arqon/v1/envelope.pb-c.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/strmap.h"
#include "net/http.h"
#include "net/loop.h"
#include "net/ws.h"
#include "shield/auth.h"
#include "shield/confirm.h"
#include "protocol/envelope_json.h"
#include "shield/frame.h"
#include "shield/overseer.h"
#include "shield/schemas.h"
#include "shield/tls.h"

typedef struct arq_shield arq_shield_t;
typedef struct arq_worker arq_worker_t;
typedef struct arq_conn arq_conn_t;
typedef struct arq_link arq_link_t;
typedef struct arq_tenant arq_tenant_t;

/* Why a policy denied: the `reason` label of shield_policy_denials_total. */
typedef enum {
  ARQ_DENIAL_DENIED,      /* the hook returned non-zero */
  ARQ_DENIAL_REJECTED,    /* host_reject */
  ARQ_DENIAL_FUEL,
  ARQ_DENIAL_TRAP,
  ARQ_DENIAL_ERROR,
  ARQ_DENIAL_UNAVAILABLE, /* the module could not be instantiated */
  ARQ_DENIAL_REASONS
} arq_denial_t;

/* Why a connection was cut before its upgrade: the `reason` label of
 * shield_preauth_refusals_total (docs/security.md). */
typedef enum {
  ARQ_PREAUTH_PENDING_CAP,    /* max_pending_handshakes connections already waiting */
  ARQ_PREAUTH_CONNECTION_CAP, /* max_connections reached, upgraded or not */
  ARQ_PREAUTH_BYTES,          /* handshake_max_bytes */
  ARQ_PREAUTH_REQUESTS,       /* http_max_requests */
  ARQ_PREAUTH_TIMEOUT,        /* handshake_timeout_ms */
  ARQ_PREAUTH_REASONS
} arq_preauth_t;

/* Why a room event got no `ack`: the `reason` label of
 * shield_publish_confirm_failures_total (confirm.h). */
typedef enum {
  ARQ_CONFIRM_FULL,      /* shield.max_unconfirmed_publishes events already waiting */
  ARQ_CONFIRM_TIMEOUT,   /* no answer within shield.publish_timeout_ms */
  ARQ_CONFIRM_REFUSED,   /* the stream answered with an error */
  ARQ_CONFIRM_NO_STREAM, /* no stream takes the subject */
  ARQ_CONFIRM_REASONS
} arq_confirm_failure_t;

typedef struct {
  arq_gauge_t *connections;
  arq_counter_t *messages_in;
  arq_counter_t *messages_out;
  arq_histogram_t *route_duration;
  arq_counter_t *auth_failures;
  arq_counter_t *slow_consumer_disconnects;
  arq_counter_t *errors_sent;
  arq_counter_t *rate_limited;
  arq_counter_t *spine_unavailable;
  arq_counter_t *too_large;
  arq_counter_t *audit_failures;
  arq_counter_t *protocol_errors;
  arq_counter_t *http_requests;
  arq_counter_t *wasm_fuel_consumed;
  arq_histogram_t *wasm_duration;
  arq_counter_t *policy_denials[ARQ_DENIAL_REASONS]; /* by arq_denial_t */
  arq_counter_t *mirror_traffic;
  arq_counter_t *mirror_failures;
  arq_counter_t *schema_violations;
  arq_counter_t *preauth_refusals[ARQ_PREAUTH_REASONS]; /* by arq_preauth_t */
  arq_gauge_t *pending_handshakes;
  arq_counter_t *accept_pauses;
  arq_counter_t *reserved_headers;
  arq_counter_t *tokens_expired;
  arq_counter_t *policy_log_dropped; /* host_log lines over the policy log budget */
  /* permessage-deflate: bytes given to deflate and what came out (once per delivery per
   * worker), bytes the recipients did not receive thanks to it, and the inbound side */
  arq_counter_t *deflate_in_bytes;
  arq_counter_t *deflate_out_bytes;
  arq_counter_t *deflate_saved_bytes;
  arq_counter_t *inflate_in_bytes;
  arq_counter_t *inflate_out_bytes;
  arq_gauge_t *unconfirmed; /* room events published and not yet confirmed by the stream */
  arq_counter_t *confirm_failures[ARQ_CONFIRM_REASONS]; /* by arq_confirm_failure_t */
} arq_shield_metrics_t;

struct arq_shield {
  const arq_config_t *cfg;
  arq_auth_t *auth;
  arq_metrics_t *metrics;
  arq_shield_metrics_t m;
  arq_link_t *link; /* the NATS connection (nats_link.c) */
  arq_worker_t *workers;
  size_t nworkers;
  const char *node_id;
  char instance[9]; /* random per process: conn ids never repeat across restarts */
  atomic_bool draining;
  pthread_mutex_t tenants_lock;
  arq_strmap_t tenants; /* tenant id -> arq_tenant_t */
  char *welcome_limits; /* JSON object, built once */
  arq_tls_ctx_t *tls;   /* wss:// on the main listener when configured */
  struct arq_ingress *ingress; /* creates ARQON_INGRESS when missing (ingress.h) */
  arq_overseer_t *overseer; /* NULL when policies are disabled */
  arq_schemas_t *schemas;   /* NULL when the registry is disabled */
  struct arq_admin *admin;  /* the admin API's thread */
  struct arq_api *api;      /* the server API: keys and its thread */
  pthread_mutex_t requests_lock;
  arq_strmap_t requests; /* request number -> pending request */
  uint64_t next_request;
};

struct arq_worker {
  arq_shield_t *shield;
  size_t index;
  pthread_t thread;
  arq_loop_t *loop;
  int listen_fd, admin_fd;
  arq_io_t listen_io, admin_io;
  arq_strmap_t rooms; /* "tenant\0room" -> arq_members_t */
  arq_strmap_t users; /* "tenant\0user" -> arq_members_t */
  arq_strmap_t conns; /* conn id -> arq_conn_t */
  arq_conn_t *all;    /* every connection of this worker, for draining */
  uint64_t next_conn;
  size_t open_conns;
  arq_envelope_arena_t arena; /* per-message decode memory, reset after each message */
  ProtobufCAllocator pb;       /* protobuf-c allocations from `arena` */
  Arqon__V1__Envelope text_envelope; /* the last envelope decoded from JSON */
  arq_buf_t scratch;
  uint8_t *read_buf; /* every read of this worker lands here first */
  size_t read_buf_cap;
  arq_frame_pool_t *frames; /* replies, pongs, JSON deliveries: reused, not reallocated */
  arq_worker_policies_t *policies; /* NULL when policies are disabled */
  arq_worker_schemas_t *schemas;   /* NULL when the registry is disabled */
  arq_buf_t policy_headers;        /* the headers a message's policy sees */
  arq_buf_t audit;                 /* the audit record being published (audit.c) */
  arq_timer_t drain_timer;
  arq_task_t drain_task;
  arq_timer_t heartbeat_timer;
  /* Connections with frames queued since the last write: written once per loop turn, after
   * every delivery of the turn is queued, so that N frames cost one writev, not N. */
  arq_conn_t *unflushed;
  arq_task_t flush_task;
  bool flush_queued;
  arq_buf_t reply; /* the data of an error reply being built */
  arq_confirms_t *confirms; /* room events waiting for the ingress stream (confirm.h) */
  /* permessage-deflate, shared by every connection of the worker (no context takeover):
   * NULL when shield.permessage_deflate is off */
  arq_ws_inflater_t *inflater;
  arq_ws_deflater_t *deflater;
  arq_buf_t deflated; /* the last delivery compressed */
  /* Armed while the inflater's buffer is larger than ARQ_INFLATE_KEEP_BYTES: gives it back
   * once large compressed messages stop (arq_worker_watch_inflater) */
  arq_timer_t inflate_timer;
  /* Out of descriptors or memory, accept() fails at once and a level-triggered listener
   * fires again: the listeners pause instead of spinning. */
  arq_timer_t accept_timer;
  bool accept_paused;
};

/* Who is in a room (or has a user id) on one worker. */
typedef struct {
  arq_conn_t **conns;
  size_t len, cap;
} arq_members_t;

typedef enum { CONN_HTTP, CONN_WS, CONN_CLOSING, CONN_CLOSED } arq_conn_state_t;

typedef struct {
  arq_frame_t *frame;
} arq_out_item_t;

struct arq_conn {
  arq_worker_t *w;
  arq_io_t io;
  arq_timer_t timer;
  arq_task_t free_task;
  arq_conn_state_t state;
  arq_conn_t *prev, *next; /* worker->all */
  char peer[64];           /* client address for logs and limits */
  arq_tls_t *tls;          /* NULL for plain ws:// */
  bool tls_read_wants_write;
  bool reread_queued;
  arq_task_t reread_task;
  uint64_t last_seen_ms;
  bool ping_outstanding;
  struct { /* before the upgrade: the budgets of docs/security.md */
    bool admin_port;       /* accepted on admin_listen */
    bool pending_counted;  /* in shield_pending_handshakes */
    bool body_authorized;  /* the admin request being read may send its body */
    bool paused;           /* answers queued past http_max_queued_bytes: not reading */
    bool lingering;        /* answered and shut for writing: input is dropped until EOF */
    size_t bytes;          /* read before the upgrade */
    size_t allowance;      /* admin bodies authorized, on top of handshake_max_bytes */
    uint32_t requests;
    char *policy_headers;  /* handshake headers, kept for re-evaluation by new policies */
    size_t policy_headers_len;
  } http;
  struct { /* admin requests served by the admin thread */
    bool busy;             /* one is being served: later requests wait */
    unsigned pending_jobs; /* jobs referring to this connection */
    bool free_when_done;
  } admin;
  struct { /* a partial request or frame; an idle connection has none */
    uint8_t *buf;
    size_t len, cap;
    arq_ws_reader_t reader;
    bool reader_ready;
  } in;
  struct { /* a ring of shared frames */
    arq_out_item_t *ring;
    size_t head, count, cap;
    size_t offset; /* bytes of the first frame already written */
    size_t bytes;  /* bytes queued, for the slow-consumer limit */
    bool close_after_flush;
    bool unflushed; /* on w->unflushed */
    arq_conn_t *next_unflushed;
  } out;
  /* the WebSocket session */
  arq_identity_t id;
  arq_tenant_t *tenant;
  char conn_id[32];
  bool prefers_text; /* deliveries use JSON text frames */
  bool deflate;      /* permessage-deflate negotiated: deliveries may come compressed */
  uint8_t deflate_window_bits; /* the client's window (server_max_window_bits), 8..15 */
  char **rooms;
  size_t nrooms;
  double tokens;
  uint64_t tokens_at_ms;
  uint32_t limit_strikes;
  bool close_sent;
  arq_timer_t expiry_timer; /* the token's exp: closed with 4001 unless refreshed */
};

/* Each file's API is in a header of its own: */
#include "shield/conn.h"
#include "shield/egress.h"
#include "shield/http_routes.h"
#include "shield/session.h"
#include "shield/tenants.h"
#include "shield/worker.h"

#endif
