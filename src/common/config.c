/*
 * config.c — the typed loader. DESIGN: one static table per section lists every known
 * key with its type, its place in arq_config_t and its bounds; walking the TOML tree
 * against these tables is the whole validation, so adding a key is one line here (and a
 * line in docs/operations.md).
 */
#include "common/redis_url.h"
#include "common/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/subject.h"
#include "common/toml.h"

#define CONFIG_MAX_BYTES (4u << 20)

typedef struct {
  const char *path; /* the file name used in messages */
  char *err;
  size_t errcap;
} ctx_t;

typedef enum { K_STRING, K_INT, K_FLOAT, K_BOOL, K_STRLIST, K_SECTION, K_TABLES } kind_t;

typedef struct key_spec key_spec_t;

/* Checks a string value; returns a problem, or NULL when fine. */
typedef const char *(*string_check_t)(const char *value);
/* Reads one element of an array of tables into cfg; returns 0 or -1 (err filled). */
typedef int (*tables_reader_t)(arq_config_t *cfg, const arq_toml_value_t *array, const char *key,
                               ctx_t *ctx);

struct key_spec {
  const char *name;
  kind_t kind;
  size_t offset;
  double min, max;
  string_check_t check;      /* K_STRING, K_STRLIST elements */
  const key_spec_t *children; /* K_SECTION, terminated by a NULL name */
  tables_reader_t tables;     /* K_TABLES */
};

__attribute__((format(printf, 4, 5))) static int fail(ctx_t *ctx, int line, const char *key,
                                                   const char *fmt, ...) {
  char problem[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(problem, sizeof problem, fmt, ap);
  va_end(ap);
  snprintf(ctx->err, ctx->errcap, "%s:%d: %s: %s", ctx->path, line, key, problem);
  return -1;
}

static char *xstrdup(const char *s) {
  if (!s)
    return NULL;
  char *p = strdup(s);
  if (!p)
    arq_oom("config");
  return p;
}

static void set_string(char **slot, const char *value) {
  free(*slot);
  *slot = xstrdup(value);
}

static void strlist_free(arq_strlist_t *l) {
  for (size_t i = 0; i < l->len; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->len = 0;
}

static void strlist_set(arq_strlist_t *l, const char *const *items, size_t n) {
  strlist_free(l);
  if (!n)
    return;
  l->items = calloc(n, sizeof *l->items);
  if (!l->items)
    arq_oom("config");
  for (size_t i = 0; i < n; i++)
    l->items[i] = xstrdup(items[i]);
  l->len = n;
}

/* ---- value checks ---- */

static const char *check_hostport(const char *v) {
  char host[256];
  uint16_t port;
  return arq_config_split_hostport(v, host, sizeof host, &port) ? "expected host:port" : NULL;
}

static const char *check_id(const char *v) { return arq_id_problem(v); }

static const char *check_path(const char *v) { return v[0] == '/' ? NULL : "must start with '/'"; }

static const char *check_nonempty(const char *v) { return *v ? NULL : "must not be empty"; }

static const char *check_nats_url(const char *v) {
  return (!strncmp(v, "nats://", 7) || !strncmp(v, "tls://", 6)) && v[6]
             ? NULL
             : "expected a nats:// or tls:// URL";
}

static const char *check_redis_url(const char *v) {
  arq_redis_url_t u;
  const char *why = NULL;
  return arq_redis_url_parse(v, &u, &why) ? why : NULL;
}

static const char *check_log_level(const char *v) {
  arq_log_level_t l;
  return arq_log_level_parse(v, &l) ? "expected error, warn, info, debug or trace" : NULL;
}

static const char *check_log_format(const char *v) {
  arq_log_format_t f;
  return arq_log_format_parse(v, &f) ? "expected logfmt or json" : NULL;
}

static const char *check_algorithm(const char *v) {
  return !strcmp(v, "HS256") || !strcmp(v, "RS256") || !strcmp(v, "ES256")
             ? NULL
             : "expected HS256, RS256 or ES256";
}

static const char *check_origin(const char *v) {
  if (!strcmp(v, "*"))
    return NULL;
  return (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8)) && v[strlen(v) - 1] != '/'
             ? NULL
             : "expected \"*\" or an origin like https://example.com (no trailing slash)";
}

static const char *check_ip(const char *v) {
  unsigned char addr[16];
  return inet_pton(AF_INET, v, addr) == 1 || inet_pton(AF_INET6, v, addr) == 1
             ? NULL
             : "expected an IP address";
}

static const char *check_bucket(const char *v) {
  return arq_id_valid_str(v) ? NULL : "expected a bucket name of A-Z, a-z, 0-9, '_', '-'";
}

/* ---- arrays of tables ---- */

/* Reads the keys of one element of an array of tables against `fields`, given as
 * (name, kind) pairs; unknown or missing keys are errors. */
static const arq_toml_value_t *table_field(const arq_toml_value_t *t, const char *key,
                                           const char *field, arq_toml_type_t type, ctx_t *ctx,
                                           int *rc) {
  const arq_toml_value_t *v = arq_toml_table_get(t, field);
  if (!v) {
    *rc = fail(ctx, arq_toml_line(t), key, "missing '%s'", field);
    return NULL;
  }
  bool numeric_ok = type == ARQ_TOML_FLOAT && arq_toml_type(v) == ARQ_TOML_INTEGER;
  if (arq_toml_type(v) != type && !numeric_ok) {
    *rc = fail(ctx, arq_toml_line(v), key, "'%s': expected %s, got %s", field,
               arq_toml_type_name(type), arq_toml_type_name(arq_toml_type(v)));
    return NULL;
  }
  return v;
}

static int only_fields(const arq_toml_value_t *t, const char *key, const char *const *allowed,
                       ctx_t *ctx) {
  for (size_t i = 0; i < arq_toml_table_len(t); i++) {
    const char *k = arq_toml_table_key(t, i);
    bool known = false;
    for (const char *const *a = allowed; *a; a++)
      known |= !strcmp(*a, k);
    if (!known)
      return fail(ctx, arq_toml_line(arq_toml_table_value(t, i)), key, "unknown key '%s'", k);
  }
  return 0;
}

static double as_number(const arq_toml_value_t *v) {
  return arq_toml_type(v) == ARQ_TOML_INTEGER ? (double)arq_toml_int(v) : arq_toml_float(v);
}

static void free_rules(arq_config_t *cfg) {
  for (size_t i = 0; i < cfg->platform.mirroring.nrules; i++)
    free(cfg->platform.mirroring.rules[i].prefix);
  free(cfg->platform.mirroring.rules);
  cfg->platform.mirroring.rules = NULL;
  cfg->platform.mirroring.nrules = 0;
}

/* Walks an array of tables: each element must be a table holding only `allowed` keys;
 * `read` takes the element from there. */
typedef int (*element_reader_t)(arq_config_t *cfg, size_t i, const arq_toml_value_t *t,
                                const char *key, ctx_t *ctx);

static int each_table(arq_config_t *cfg, const arq_toml_value_t *array, const char *key,
                      ctx_t *ctx, const char *const *allowed, const char *shape,
                      element_reader_t read) {
  for (size_t i = 0; i < arq_toml_array_len(array); i++) {
    const arq_toml_value_t *t = arq_toml_array_get(array, i);
    if (arq_toml_type(t) != ARQ_TOML_TABLE)
      return fail(ctx, arq_toml_line(t), key, "expected a table like %s", shape);
    if (only_fields(t, key, allowed, ctx) || read(cfg, i, t, key, ctx))
      return -1;
  }
  return 0;
}

static int read_rule(arq_config_t *cfg, size_t i, const arq_toml_value_t *t, const char *key,
                     ctx_t *ctx) {
  int rc = 0;
  const arq_toml_value_t *prefix = table_field(t, key, "prefix", ARQ_TOML_STRING, ctx, &rc);
  const arq_toml_value_t *percent = rc ? NULL : table_field(t, key, "percent", ARQ_TOML_FLOAT, ctx, &rc);
  if (rc)
    return rc;
  if (!arq_subject_pattern_valid(arq_toml_string(prefix, NULL)))
    return fail(ctx, arq_toml_line(prefix), key, "'prefix': not a NATS subject pattern: \"%s\"",
                arq_toml_string(prefix, NULL));
  double p = as_number(percent);
  if (!(p >= 0.0 && p <= 1.0))
    return fail(ctx, arq_toml_line(percent), key,
                "'percent': must be a fraction between 0.0 and 1.0, got %g", p);
  cfg->platform.mirroring.rules[i].prefix = xstrdup(arq_toml_string(prefix, NULL));
  cfg->platform.mirroring.rules[i].percent = p;
  cfg->platform.mirroring.nrules = i + 1;
  return 0;
}

static int read_mirror_rules(arq_config_t *cfg, const arq_toml_value_t *array, const char *key,
                             ctx_t *ctx) {
  static const char *const allowed[] = {"prefix", "percent", NULL};
  size_t n = arq_toml_array_len(array);
  free_rules(cfg);
  cfg->platform.mirroring.rules = calloc(n ? n : 1, sizeof *cfg->platform.mirroring.rules);
  if (!cfg->platform.mirroring.rules)
    arq_oom("config");
  return each_table(cfg, array, key, ctx, allowed, "{ prefix = \"in.t.*.r.*\", percent = 0.1 }",
                    read_rule);
}

static void free_mappings(arq_config_t *cfg) {
  for (size_t i = 0; i < cfg->platform.registry.nmappings; i++) {
    arq_schema_mapping_t *m = &cfg->platform.registry.mappings[i];
    free(m->subject);
    free(m->schema_id);
    free(m->message);
  }
  free(cfg->platform.registry.mappings);
  cfg->platform.registry.mappings = NULL;
  cfg->platform.registry.nmappings = 0;
}

static int read_mapping(arq_config_t *cfg, size_t i, const arq_toml_value_t *t, const char *key,
                        ctx_t *ctx) {
  int rc = 0;
  const arq_toml_value_t *subject = table_field(t, key, "subject", ARQ_TOML_STRING, ctx, &rc);
  const arq_toml_value_t *schema = rc ? NULL : table_field(t, key, "schema_id", ARQ_TOML_STRING, ctx, &rc);
  const arq_toml_value_t *message = rc ? NULL : table_field(t, key, "message", ARQ_TOML_STRING, ctx, &rc);
  if (rc)
    return rc;
  if (!arq_subject_pattern_valid(arq_toml_string(subject, NULL)))
    return fail(ctx, arq_toml_line(subject), key, "'subject': not a NATS subject pattern");
  if (!arq_subject_valid(arq_toml_string(schema, NULL)))
    return fail(ctx, arq_toml_line(schema), key,
                "'schema_id': expected dot-separated tokens like v1.events.user_created");
  if (!*arq_toml_string(message, NULL))
    return fail(ctx, arq_toml_line(message), key, "'message': must not be empty");
  arq_schema_mapping_t *m = &cfg->platform.registry.mappings[i];
  m->subject = xstrdup(arq_toml_string(subject, NULL));
  m->schema_id = xstrdup(arq_toml_string(schema, NULL));
  m->message = xstrdup(arq_toml_string(message, NULL));
  cfg->platform.registry.nmappings = i + 1;
  return 0;
}

static int read_schema_mappings(arq_config_t *cfg, const arq_toml_value_t *array, const char *key,
                                ctx_t *ctx) {
  static const char *const allowed[] = {"subject", "schema_id", "message", NULL};
  size_t n = arq_toml_array_len(array);
  free_mappings(cfg);
  cfg->platform.registry.mappings = calloc(n ? n : 1, sizeof *cfg->platform.registry.mappings);
  if (!cfg->platform.registry.mappings)
    arq_oom("config");
  return each_table(cfg, array, key, ctx, allowed,
                    "{ subject = \"in.t.*.r.orders\", schema_id = \"v1.x\", message = \"pkg.Msg\" }",
                    read_mapping);
}

/* ---- the key tables ---- */

#define F(member) offsetof(arq_config_t, member)
#define STR(n, member, chk) {n, K_STRING, F(member), 0, 0, chk, NULL, NULL}
#define INT(n, member, lo, hi) {n, K_INT, F(member), lo, hi, NULL, NULL, NULL}
#define FLT(n, member, lo, hi) {n, K_FLOAT, F(member), lo, hi, NULL, NULL, NULL}
#define BOOL(n, member) {n, K_BOOL, F(member), 0, 0, NULL, NULL, NULL}
#define LIST(n, member, chk) {n, K_STRLIST, F(member), 0, 0, chk, NULL, NULL}
#define SECTION(n, children) {n, K_SECTION, 0, 0, 0, NULL, children, NULL}
#define TABLES(n, reader) {n, K_TABLES, 0, 0, 0, NULL, NULL, reader}
#define END {NULL, K_SECTION, 0, 0, 0, NULL, NULL, NULL}

static const key_spec_t shield_keys[] = {
    STR("listen", shield.listen, check_hostport),
    STR("admin_listen", shield.admin_listen, check_hostport),
    STR("node_id", shield.node_id, check_id),
    /* 64: the Shield's per-worker tables (shield/nats_link.c MAX_WORKERS) hold no more */
    INT("workers", shield.workers, 0, 64),
    STR("tls_cert", shield.tls_cert, check_nonempty),
    STR("tls_key", shield.tls_key, check_nonempty),
    BOOL("allow_insecure", shield.allow_insecure),
    BOOL("permessage_deflate", shield.permessage_deflate),
    INT("compression_min_bytes", shield.compression_min_bytes, 0, 64 << 20),
    STR("ws_path", shield.ws_path, check_path),
    INT("max_message_bytes", shield.max_message_bytes, 126, 64 << 20),
    INT("send_queue_bytes", shield.send_queue_bytes, 4096, 1 << 30),
    INT("handshake_timeout_ms", shield.handshake_timeout_ms, 100, 600000),
    INT("ping_interval_s", shield.ping_interval_s, 1, 3600),
    INT("idle_timeout_s", shield.idle_timeout_s, 2, 86400),
    INT("close_timeout_ms", shield.close_timeout_ms, 10, 60000),
    INT("request_timeout_ms", shield.request_timeout_ms, 10, 60000),
    INT("publish_timeout_ms", shield.publish_timeout_ms, 10, 60000),
    INT("max_unconfirmed_publishes", shield.max_unconfirmed_publishes, 64, 1 << 22),
    FLT("conn_rate", shield.conn_rate, 0.001, 1e9),
    INT("conn_burst", shield.conn_burst, 1, 1000000000),
    FLT("tenant_rate", shield.tenant_rate, 0.001, 1e9),
    INT("tenant_burst", shield.tenant_burst, 1, 1000000000),
    INT("max_connections", shield.max_connections, 1, 10000000),
    INT("max_connections_per_tenant", shield.max_connections_per_tenant, 1, 10000000),
    LIST("allowed_origins", shield.allowed_origins, check_origin),
    LIST("trusted_proxies", shield.trusted_proxies, check_ip),
    INT("heartbeat_interval_ms", shield.heartbeat_interval_ms, 100, 600000),
    INT("max_pending_handshakes", shield.max_pending_handshakes, 1, 10000000),
    INT("handshake_max_bytes", shield.handshake_max_bytes, 1024, 1 << 30),
    INT("http_max_requests", shield.http_max_requests, 1, 1000000),
    INT("http_max_queued_bytes", shield.http_max_queued_bytes, 4096, 1 << 30),
    INT("admin_max_body_bytes", shield.admin_max_body_bytes, 1024, 1 << 30),
    INT("max_rooms_per_connection", shield.max_rooms_per_connection, 1, 1000000),
    END};

static const key_spec_t auth_keys[] = {
    STR("jwt_secret", auth.jwt_secret, check_nonempty),
    STR("jwt_secret_file", auth.jwt_secret_file, check_nonempty),
    STR("jwt_public_key_file", auth.jwt_public_key_file, check_nonempty),
    LIST("algorithms", auth.algorithms, check_algorithm),
    STR("issuer", auth.issuer, check_nonempty),
    STR("audience", auth.audience, check_nonempty),
    INT("leeway_s", auth.leeway_s, 0, 3600),
    STR("platform_admin_role", auth.platform_admin_role, check_id),
    END};

static const key_spec_t nats_keys[] = {
    STR("url", nats.url, check_nats_url),
    LIST("servers", nats.servers, check_nats_url),
    INT("stream_replicas", nats.stream_replicas, 1, 5),
    STR("user", nats.user, check_nonempty),
    STR("password", nats.password, check_nonempty),
    STR("password_file", nats.password_file, check_nonempty),
    BOOL("send_asap", nats.send_asap),
    END};

static const key_spec_t api_keys[] = {
    STR("keys_file", api.keys_file, check_nonempty),
    INT("max_body_bytes", api.max_body_bytes, 64, 64 << 20),
    INT("max_queued", api.max_queued, 1, 1 << 20),
    INT("publish_timeout_ms", api.publish_timeout_ms, 10, 60000),
    INT("collect_ms", api.collect_ms, 10, 10000),
    END};

static const key_spec_t valkey_keys[] = {
    STR("url", valkey.url, check_redis_url),
    LIST("sentinels", valkey.sentinels, check_hostport),
    STR("master_name", valkey.master_name, check_nonempty),
    STR("sentinel_password", valkey.sentinel_password, check_nonempty),
    STR("tls_ca_file", valkey.tls_ca_file, check_nonempty),
    STR("tls_cert_file", valkey.tls_cert_file, check_nonempty),
    STR("tls_key_file", valkey.tls_key_file, check_nonempty),
    END};

static const key_spec_t brain_keys[] = {
    STR("metrics_listen", brain.metrics_listen, check_hostport),
    INT("presence_expiry_s", brain.presence_expiry_s, 1, 3600),
    INT("history_max_per_room", brain.history_max_per_room, 0, 100000000),
    INT("history_max_age_s", brain.history_max_age_s, 0, 365 * 86400),
    INT("partitions", brain.partitions, 1, 1024),
    INT("lease_ttl_s", brain.lease_ttl_s, 1, 3600),
    INT("ingress_max_age_s", brain.ingress_max_age_s, 60, 30 * 86400),
    INT("max_pending_requests", brain.max_pending_requests, 1, 32768),
    INT("metrics_timeout_ms", brain.metrics_timeout_ms, 100, 600000),
    INT("metrics_max_clients", brain.metrics_max_clients, 1, 1024),
    END};

static const key_spec_t log_keys[] = {
    STR("level", log.level, check_log_level),
    STR("format", log.format, check_log_format),
    END};

static const key_spec_t overseer_keys[] = {
    BOOL("enabled", platform.overseer.enabled),
    INT("fuel_limit", platform.overseer.fuel_limit, 1, 1000000000000),
    INT("memory_limit_mb", platform.overseer.memory_limit_mb, 1, 4096),
    INT("max_table_elements", platform.overseer.max_table_elements, 1, 1000000),
    STR("kv_bucket", platform.overseer.kv_bucket, check_bucket),
    INT("log_max_bytes_per_eval", platform.overseer.log_max_bytes_per_eval, 0, 1 << 20),
    FLT("log_lines_per_second", platform.overseer.log_lines_per_second, 0.001, 1e6),
    FLT("canary_percent", platform.overseer.canary_percent, 0.0, 1.0),
    INT("canary_fuel_limit", platform.overseer.canary_fuel_limit, 1, 1000000000000),
    INT("canary_time_budget_us", platform.overseer.canary_time_budget_us, 1, 1000000),
    INT("canary_audit_per_second", platform.overseer.canary_audit_per_second, 0, 1000000),
    END};

static const key_spec_t mirroring_keys[] = {
    BOOL("enabled", platform.mirroring.enabled),
    TABLES("rules", read_mirror_rules),
    END};

static const key_spec_t registry_keys[] = {
    BOOL("enabled", platform.registry.enabled),
    STR("kv_bucket", platform.registry.kv_bucket, check_bucket),
    INT("cache_ttl_seconds", platform.registry.cache_ttl_seconds, 0, 86400 * 365),
    BOOL("strict_unknown", platform.registry.strict_unknown),
    INT("max_schema_bytes", platform.registry.max_schema_bytes, 1024, 256 << 20),
    TABLES("mappings", read_schema_mappings),
    END};

static const key_spec_t platform_keys[] = {
    SECTION("overseer", overseer_keys),
    SECTION("mirroring", mirroring_keys),
    SECTION("registry", registry_keys),
    END};

static const key_spec_t root_keys[] = {
    /* SPEC §8 spells it `log_format = "json"` (a top-level key); [log] format is the same */
    STR("log_format", log.format, check_log_format),
    SECTION("shield", shield_keys), SECTION("auth", auth_keys),   SECTION("nats", nats_keys),
    SECTION("valkey", valkey_keys), SECTION("brain", brain_keys), SECTION("log", log_keys),
    SECTION("platform", platform_keys), SECTION("api", api_keys), END};

/* ---- the walk ---- */

static int read_value(arq_config_t *cfg, const key_spec_t *spec, const arq_toml_value_t *v,
                      const char *key, ctx_t *ctx);

static int read_section(arq_config_t *cfg, const key_spec_t *keys, const arq_toml_value_t *table,
                        const char *prefix, ctx_t *ctx) {
  for (size_t i = 0; i < arq_toml_table_len(table); i++) {
    const char *name = arq_toml_table_key(table, i);
    const arq_toml_value_t *v = arq_toml_table_value(table, i);
    char key[256];
    snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", name);
    const key_spec_t *spec = keys;
    while (spec->name && strcmp(spec->name, name))
      spec++;
    if (!spec->name)
      return fail(ctx, arq_toml_line(v), key, "unknown key");
    if (read_value(cfg, spec, v, key, ctx))
      return -1;
  }
  return 0;
}

static int expect_type(const arq_toml_value_t *v, arq_toml_type_t want, const char *key, ctx_t *ctx) {
  if (arq_toml_type(v) == want)
    return 0;
  return fail(ctx, arq_toml_line(v), key, "expected %s, got %s", arq_toml_type_name(want),
              arq_toml_type_name(arq_toml_type(v)));
}

static int read_value(arq_config_t *cfg, const key_spec_t *spec, const arq_toml_value_t *v,
                      const char *key, ctx_t *ctx) {
  char *base = (char *)cfg + spec->offset;
  const char *problem;
  switch (spec->kind) {
  case K_SECTION:
    if (expect_type(v, ARQ_TOML_TABLE, key, ctx))
      return -1;
    return read_section(cfg, spec->children, v, key, ctx);
  case K_TABLES:
    if (expect_type(v, ARQ_TOML_ARRAY, key, ctx))
      return -1;
    return spec->tables(cfg, v, key, ctx);
  case K_STRING: {
    if (expect_type(v, ARQ_TOML_STRING, key, ctx))
      return -1;
    size_t len;
    const char *s = arq_toml_string(v, &len);
    if (strlen(s) != len)
      return fail(ctx, arq_toml_line(v), key, "must not contain NUL characters");
    if (spec->check && (problem = spec->check(s)))
      return fail(ctx, arq_toml_line(v), key, "%s, got \"%s\"", problem, s);
    set_string((char **)(void *)base, s);
    return 0;
  }
  case K_INT: {
    if (expect_type(v, ARQ_TOML_INTEGER, key, ctx))
      return -1;
    int64_t n = arq_toml_int(v);
    if ((double)n < spec->min || (double)n > spec->max)
      return fail(ctx, arq_toml_line(v), key, "must be between %.0f and %.0f, got %lld", spec->min,
                  spec->max, (long long)n);
    memcpy(base, &n, sizeof n);
    return 0;
  }
  case K_FLOAT: {
    if (arq_toml_type(v) != ARQ_TOML_INTEGER && expect_type(v, ARQ_TOML_FLOAT, key, ctx))
      return -1;
    double d = as_number(v);
    if (!(d >= spec->min && d <= spec->max))
      return fail(ctx, arq_toml_line(v), key, "must be between %g and %g, got %g", spec->min,
                  spec->max, d);
    memcpy(base, &d, sizeof d);
    return 0;
  }
  case K_BOOL: {
    if (expect_type(v, ARQ_TOML_BOOL, key, ctx))
      return -1;
    bool b = arq_toml_bool(v);
    memcpy(base, &b, sizeof b);
    return 0;
  }
  case K_STRLIST: {
    if (expect_type(v, ARQ_TOML_ARRAY, key, ctx))
      return -1;
    size_t n = arq_toml_array_len(v);
    const char **items = calloc(n ? n : 1, sizeof *items);
    if (!items)
      arq_oom("config");
    for (size_t i = 0; i < n; i++) {
      const arq_toml_value_t *item = arq_toml_array_get(v, i);
      if (expect_type(item, ARQ_TOML_STRING, key, ctx) ||
          (spec->check && (problem = spec->check(arq_toml_string(item, NULL))) &&
           fail(ctx, arq_toml_line(item), key, "%s, got \"%s\"", problem,
                arq_toml_string(item, NULL)))) {
        free(items);
        return -1;
      }
      items[i] = arq_toml_string(item, NULL);
    }
    strlist_set((arq_strlist_t *)(void *)base, items, n);
    free(items);
    return 0;
  }
  }
  return -1;
}

static int line_of(const arq_toml_value_t *root, const char *section, const char *key) {
  const arq_toml_value_t *s = arq_toml_table_get(root, section);
  const arq_toml_value_t *v = s && arq_toml_type(s) == ARQ_TOML_TABLE ? arq_toml_table_get(s, key) : NULL;
  return v ? arq_toml_line(v) : s ? arq_toml_line(s) : 1;
}

/* Rules that involve more than one key. */
/* Whether the file sets section.key (not a default). */
static bool is_set(const arq_toml_value_t *root, const char *section, const char *key) {
  const arq_toml_value_t *s = arq_toml_table_get(root, section);
  return s && arq_toml_type(s) == ARQ_TOML_TABLE && arq_toml_table_get(s, key);
}

static int check_combinations(const arq_config_t *cfg, const arq_toml_value_t *root, ctx_t *ctx) {
  if (is_set(root, "nats", "url") && is_set(root, "nats", "servers"))
    return fail(ctx, line_of(root, "nats", "servers"), "nats.servers",
                "set either url (one server) or servers (a cluster), not both");
  if (!cfg->shield.tls_cert != !cfg->shield.tls_key)
    return fail(ctx, line_of(root, "shield", cfg->shield.tls_cert ? "tls_cert" : "tls_key"),
                cfg->shield.tls_cert ? "shield.tls_cert" : "shield.tls_key",
                "tls_cert and tls_key must be set together");
  if (!cfg->valkey.tls_cert_file != !cfg->valkey.tls_key_file)
    return fail(ctx, line_of(root, "valkey", cfg->valkey.tls_cert_file ? "tls_cert_file" : "tls_key_file"),
                cfg->valkey.tls_cert_file ? "valkey.tls_cert_file" : "valkey.tls_key_file",
                "tls_cert_file and tls_key_file must be set together");
  if (cfg->auth.jwt_secret && cfg->auth.jwt_secret_file)
    return fail(ctx, line_of(root, "auth", "jwt_secret_file"), "auth.jwt_secret_file",
                "set either jwt_secret or jwt_secret_file, not both");
  if (cfg->nats.password && cfg->nats.password_file)
    return fail(ctx, line_of(root, "nats", "password_file"), "nats.password_file",
                "set either password or password_file, not both");
  if (!cfg->auth.algorithms.len)
    return fail(ctx, line_of(root, "auth", "algorithms"), "auth.algorithms", "must not be empty");
  return 0;
}

int arq_config_parse(arq_config_t *cfg, const char *path, const char *data, size_t len, char *err,
                     size_t errcap) {
  ctx_t ctx = {path, err, errcap};
  char toml_err[256];
  arq_toml_value_t *root = arq_toml_parse(data, len, toml_err, sizeof toml_err);
  if (!root) {
    snprintf(err, errcap, "%s:%s", path, toml_err + (strncmp(toml_err, "line ", 5) ? 0 : 5));
    return -1;
  }
  int rc = read_section(cfg, root_keys, root, "", &ctx);
  if (!rc)
    rc = check_combinations(cfg, root, &ctx);
  arq_toml_free(root);
  return rc;
}

int arq_config_load(arq_config_t *cfg, const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errcap, "%s: %s", path, strerror(errno));
    return -1;
  }
  arq_buf_t b;
  arq_buf_init(&b);
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= CONFIG_MAX_BYTES)
    arq_buf_append(&b, chunk, n);
  bool read_error = ferror(f);
  fclose(f);
  int rc;
  if (read_error)
    rc = (snprintf(err, errcap, "%s: read error", path), -1);
  else if (b.len > CONFIG_MAX_BYTES)
    rc = (snprintf(err, errcap, "%s: larger than %u bytes", path, CONFIG_MAX_BYTES), -1);
  else
    rc = arq_config_parse(cfg, path, b.data ? b.data : "", b.len, err, errcap);
  arq_buf_free(&b);
  return rc;
}

void arq_config_defaults(arq_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->shield.listen = xstrdup("127.0.0.1:4000");
  cfg->shield.node_id = xstrdup("node-1");
  cfg->shield.ws_path = xstrdup("/ws");
  cfg->shield.max_message_bytes = 1 << 20;
  cfg->shield.send_queue_bytes = 1 << 20;
  cfg->shield.handshake_timeout_ms = 5000;
  cfg->shield.ping_interval_s = 25;
  cfg->shield.idle_timeout_s = 60;
  cfg->shield.close_timeout_ms = 2000;
  cfg->shield.request_timeout_ms = 2000;
  cfg->shield.publish_timeout_ms = 5000;
  cfg->shield.max_unconfirmed_publishes = 16384;
  cfg->shield.conn_rate = 100.0;
  cfg->shield.conn_burst = 200;
  cfg->shield.tenant_rate = 10000.0;
  cfg->shield.tenant_burst = 20000;
  cfg->shield.max_connections = 200000;
  cfg->shield.max_connections_per_tenant = 100000;
  cfg->shield.heartbeat_interval_ms = 2000;
  cfg->shield.max_pending_handshakes = 1024;
  cfg->shield.handshake_max_bytes = 64 << 10;
  cfg->shield.http_max_requests = 100;
  cfg->shield.http_max_queued_bytes = 256 << 10;
  cfg->shield.admin_max_body_bytes = 8 << 20;
  cfg->shield.max_rooms_per_connection = 256;
  cfg->shield.permessage_deflate = true;
  cfg->shield.compression_min_bytes = 256;
  static const char *const any_origin[] = {"*"};
  strlist_set(&cfg->shield.allowed_origins, any_origin, 1);
  static const char *const hs256[] = {"HS256"};
  strlist_set(&cfg->auth.algorithms, hs256, 1);
  cfg->auth.leeway_s = 0;
  cfg->api.max_body_bytes = 1 << 20;
  cfg->api.max_queued = 1024;
  cfg->api.publish_timeout_ms = 2000;
  cfg->api.collect_ms = 250;
  cfg->nats.url = xstrdup("nats://127.0.0.1:4222");
  cfg->nats.send_asap = true;
  cfg->nats.stream_replicas = 1;
  cfg->valkey.url = xstrdup("redis://127.0.0.1:6379");
  cfg->valkey.master_name = xstrdup("arqon");
  cfg->brain.metrics_listen = xstrdup("127.0.0.1:9091");
  cfg->brain.presence_expiry_s = 15;
  cfg->brain.history_max_per_room = 1000;
  cfg->brain.history_max_age_s = 86400;
  cfg->brain.partitions = 8;
  cfg->brain.lease_ttl_s = 10;
  cfg->brain.ingress_max_age_s = 3600;
  cfg->brain.max_pending_requests = 1024;
  cfg->brain.metrics_timeout_ms = 2000;
  cfg->brain.metrics_max_clients = 16;
  cfg->log.level = xstrdup("info");
  cfg->log.format = xstrdup("logfmt");
  cfg->platform.overseer.enabled = true;
  cfg->platform.overseer.fuel_limit = 10000;
  cfg->platform.overseer.memory_limit_mb = 4;
  cfg->platform.overseer.max_table_elements = 10000;
  cfg->platform.overseer.kv_bucket = xstrdup("ARQON_POLICIES");
  cfg->platform.overseer.log_max_bytes_per_eval = 1024;
  cfg->platform.overseer.log_lines_per_second = 20.0;
  cfg->platform.overseer.canary_percent = 1.0;
  cfg->platform.overseer.canary_fuel_limit = 10000;
  cfg->platform.overseer.canary_time_budget_us = 200;
  cfg->platform.overseer.canary_audit_per_second = 10;
  cfg->platform.mirroring.enabled = false;
  cfg->platform.registry.enabled = false;
  cfg->platform.registry.kv_bucket = xstrdup("ARQON_SCHEMAS");
  cfg->platform.registry.cache_ttl_seconds = 300;
  cfg->platform.registry.max_schema_bytes = 8 << 20;
}

static void free_section(arq_config_t *cfg, const key_spec_t *keys) {
  for (const key_spec_t *k = keys; k->name; k++) {
    char *base = (char *)cfg + k->offset;
    if (k->kind == K_STRING) {
      free(*(char **)(void *)base);
      *(char **)(void *)base = NULL;
    } else if (k->kind == K_STRLIST) {
      strlist_free((arq_strlist_t *)(void *)base);
    } else if (k->kind == K_SECTION) {
      free_section(cfg, k->children);
    }
  }
}

void arq_config_free(arq_config_t *cfg) {
  free_section(cfg, root_keys);
  free_rules(cfg);
  free_mappings(cfg);
}
