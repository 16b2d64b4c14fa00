/*
 * config.h — the typed configuration of every ArqonBus program (config/arqon.toml).
 *
 * DESIGN
 *   arq_config_defaults() gives a complete, safe configuration; arq_config_load() overlays
 *   a TOML file on it. The loader is driven by one table of known keys (config.c), so that
 *   an unknown key, a wrong type or an out-of-range value stops start-up with
 *   `file:line: key: problem`. Every string in the struct is owned by it (arq_config_free).
 *   Secrets are not resolved here: see arq_config_jwt_secret() and arq_config_nats_password(),
 *   which also read the environment.
 */
#ifndef ARQ_COMMON_CONFIG_H
#define ARQ_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  char **items;
  size_t len;
} arq_strlist_t;

typedef struct {
  char *prefix;   /* NATS subject pattern */
  double percent; /* 0.0 .. 1.0 */
} arq_mirror_rule_t;

typedef struct {
  char *subject; /* NATS subject pattern */
  char *schema_id;
  char *message; /* fully-qualified protobuf message name */
} arq_schema_mapping_t;

typedef struct {
  struct {
    char *listen;       /* host:port */
    char *admin_listen; /* host:port, or NULL: /metrics and /admin on the main port */
    char *node_id;
    int64_t workers; /* 0: one per core */
    char *tls_cert;
    char *tls_key;
    bool allow_insecure;
    char *ws_path;
    int64_t max_message_bytes;
    int64_t send_queue_bytes;
    int64_t handshake_timeout_ms;
    int64_t ping_interval_s;
    int64_t idle_timeout_s;
    int64_t close_timeout_ms;
    int64_t request_timeout_ms; /* Brain requests (presence, history) */
    int64_t publish_timeout_ms; /* a room event's confirmation by the ingress stream */
    int64_t max_unconfirmed_publishes; /* room events waiting for it, per node */
    double conn_rate;           /* messages per second, token bucket */
    int64_t conn_burst;
    double tenant_rate;
    int64_t tenant_burst;
    int64_t max_connections;
    int64_t max_connections_per_tenant;
    arq_strlist_t allowed_origins;
    arq_strlist_t trusted_proxies;
    int64_t heartbeat_interval_ms;
    /* before the upgrade (docs/security.md): nothing is spent on a stranger beyond these */
    int64_t max_pending_handshakes; /* connections not upgraded yet, per node */
    int64_t handshake_max_bytes;    /* bytes read from one connection before its upgrade */
    int64_t http_max_requests;      /* requests served on one keep-alive connection */
    int64_t http_max_queued_bytes;  /* answers queued to a client that does not read */
    int64_t admin_max_body_bytes;   /* a policy module or a schema set; read after auth */
    int64_t max_rooms_per_connection;
    bool permessage_deflate;       /* negotiate RFC 7692 compression (docs/shield.md) */
    int64_t compression_min_bytes; /* messages shorter than this go uncompressed */
  } shield;
  struct {
    char *jwt_secret;
    char *jwt_secret_file;
    char *jwt_public_key_file;
    arq_strlist_t algorithms; /* "HS256", "RS256", "ES256" */
    char *issuer;
    char *audience;
    int64_t leeway_s;
    char *platform_admin_role; /* a token with this role administers every tenant; NULL: none */
  } auth;
  struct {
    char *url;             /* one server; `servers` (when not empty) lists a cluster instead */
    arq_strlist_t servers;
    int64_t stream_replicas; /* replicas of every stream and KV bucket the product creates */
    char *user;
    char *password;
    char *password_file;
    bool send_asap; /* write each publish at once (latency) instead of batching (CPU) */
  } nats;
  struct {
    char *keys_file;          /* "<key> <tenant>" or "<key> *" per line; NULL: the API answers 401 */
    int64_t max_body_bytes;   /* a request's JSON body */
    int64_t max_queued;       /* requests accepted and not yet answered, on the node */
    int64_t publish_timeout_ms; /* wait for the ingress stream's acknowledgement */
    int64_t collect_ms; /* how long /api/disconnect and /api/info collect the nodes' answers */
  } api;
  struct {
    char *url;             /* credentials and database; the host when there are no sentinels */
    arq_strlist_t sentinels; /* host:port of Redis Sentinels: they name the primary */
    char *master_name;     /* the primary's name at the sentinels */
    char *sentinel_password; /* the sentinels' requirepass; NULL: none */
    char *tls_ca_file;     /* rediss://: the CAs that sign the server's certificate; NULL: the system's */
    char *tls_cert_file;   /* rediss://: a client certificate, with its key */
    char *tls_key_file;
  } valkey;
  struct {
    char *metrics_listen;
    int64_t presence_expiry_s;
    int64_t history_max_per_room;
    int64_t history_max_age_s;
    int64_t partitions;  /* rooms are hashed into this many partitions; same on every Brain */
    int64_t lease_ttl_s; /* a dead Brain's partitions are taken over after this */
    int64_t ingress_max_age_s; /* how long ARQON_INGRESS / ARQON_NOTICES keep a backlog */
    int64_t max_pending_requests; /* control jobs waiting beyond which a request gets 503 */
    int64_t metrics_timeout_ms;   /* a metrics/health request must arrive whole within this */
    int64_t metrics_max_clients;  /* metrics/health connections served at once */
  } brain;
  struct {
    char *level;
    char *format;
  } log;
  struct {
    struct {
      bool enabled;
      int64_t fuel_limit;
      int64_t memory_limit_mb;
      int64_t max_table_elements; /* what table.grow may bring an instance's tables to */
      char *kv_bucket;
      int64_t log_max_bytes_per_eval; /* host_log bytes one evaluation may write */
      double log_lines_per_second;    /* host_log lines per tenant and worker, token bucket */
      /* the policy canary (docs/policies.md): a candidate module evaluated beside the
       * active one on this share of connections and messages, never enforced */
      double canary_percent;          /* 0.0 .. 1.0, the mirroring rule's fraction */
      int64_t canary_fuel_limit;      /* fuel of one evaluation of a candidate */
      int64_t canary_time_budget_us;  /* wall-clock budget of one evaluation of a candidate */
      int64_t canary_audit_per_second; /* disagreement records per candidate and Shield */
    } overseer;
    struct {
      bool enabled;
      arq_mirror_rule_t *rules;
      size_t nrules;
    } mirroring;
    struct {
      bool enabled;
      char *kv_bucket;
      int64_t cache_ttl_seconds;
      bool strict_unknown;
      int64_t max_schema_bytes;
      arq_schema_mapping_t *mappings;
      size_t nmappings;
    } registry;
  } platform;
} arq_config_t;

/** Fills `cfg` with the defaults (the values documented in docs/operations.md). */
void arq_config_defaults(arq_config_t *cfg);

/** Overlays the TOML text `data` (named `path` in messages) on `cfg`. Returns 0, or -1
 *  with `file:line: key: problem` in err. */
int arq_config_parse(arq_config_t *cfg, const char *path, const char *data, size_t len, char *err,
                     size_t errcap);

/** Reads the file at `path` and calls arq_config_parse(). */
int arq_config_load(arq_config_t *cfg, const char *path, char *err, size_t errcap);

void arq_config_free(arq_config_t *cfg);

/** Splits "host:port" (IPv6 as "[::1]:4000"). Returns 0, or -1 when malformed. */
int arq_config_split_hostport(const char *s, char *host, size_t hostcap, uint16_t *port);
/** True when `host` is a loopback address or "localhost". */
bool arq_config_host_is_loopback(const char *host);

/** The HS256 secret: env ARQON_JWT_SECRET, else auth.jwt_secret, else the first line of
 *  auth.jwt_secret_file. Returns a malloc'd string, or NULL with the reason in err
 *  (never a default: no secret means fail closed). */
char *arq_config_jwt_secret(const arq_config_t *cfg, char *err, size_t errcap);

/** The NATS password: env ARQON_NATS_PASSWORD, else nats.password, else nats.password_file.
 *  NULL with err[0] == 0 when none is configured; NULL with a reason on a read error. */
char *arq_config_nats_password(const arq_config_t *cfg, char *err, size_t errcap);

#endif
