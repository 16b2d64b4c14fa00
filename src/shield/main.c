/* arqon-shield — the ArqonBus edge: WebSocket gateway to NATS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/program.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

static void register_metrics(arq_shield_t *s) {
  arq_metrics_t *m = s->metrics;
  const double *lat = arq_metrics_latency_buckets;
  size_t nlat = arq_metrics_latency_nbuckets;
  s->m.connections = arq_metrics_gauge(m, "shield_connections", "Open WebSocket connections.", NULL);
  s->m.messages_in = arq_metrics_counter(m, "shield_messages_in_total", "WebSocket messages received from clients.", NULL);
  s->m.messages_out = arq_metrics_counter(m, "shield_messages_out_total", "Messages delivered to clients from NATS.", NULL);
  s->m.route_duration = arq_metrics_histogram(m, "shield_route_duration_seconds",
                                              "Time from a frame received to its NATS publish handed off.", NULL, lat, nlat);
  s->m.auth_failures = arq_metrics_counter(m, "shield_auth_failures_total", "Handshakes refused with 401.", NULL);
  s->m.slow_consumer_disconnects = arq_metrics_counter(m, "shield_slow_consumer_disconnects_total",
                                                       "Connections closed with 1008 because their send queue was full.", NULL);
  s->m.errors_sent = arq_metrics_counter(m, "shield_error_replies_total", "Error replies sent to clients.", NULL);
  s->m.rate_limited = arq_metrics_counter(m, "shield_rate_limited_total", "Messages answered 429.", NULL);
  s->m.spine_unavailable = arq_metrics_counter(m, "shield_spine_unavailable_total", "Messages answered 503 because NATS or the Brain did not take them.", NULL);
  s->m.audit_failures = arq_metrics_counter(m, "shield_audit_failures_total", "Audit records (sys.audit.<tenant>) NATS did not take.", NULL);
  s->m.too_large = arq_metrics_counter(m, "shield_messages_too_large_total", "Events answered 413: within the Shield's message limit but over NATS max_payload.", NULL);
  s->m.protocol_errors = arq_metrics_counter(m, "shield_protocol_errors_total", "Connections closed for WebSocket protocol violations.", NULL);
  s->m.http_requests = arq_metrics_counter(m, "shield_http_requests_total", "HTTP requests received.", NULL);
  s->m.wasm_duration = arq_metrics_histogram(m, "shield_wasm_execution_duration_seconds", "Policy evaluation time.", NULL, lat, nlat);
  s->m.wasm_fuel_consumed = arq_metrics_counter(m, "shield_wasm_fuel_consumed_total", "Fuel used by policy evaluations.", NULL);
  static const char *const reasons[ARQ_DENIAL_REASONS] = {"denied", "rejected", "fuel", "trap", "error", "unavailable"};
  for (int i = 0; i < ARQ_DENIAL_REASONS; i++)
    s->m.policy_denials[i] = arq_metrics_counter(m, "shield_policy_denials_total",
                                                 "Messages and handshakes denied by policies, by reason.",
                                                 (const char *[]){"reason", reasons[i], NULL});
  s->m.mirror_traffic = arq_metrics_counter(m, "shield_mirror_traffic_total", "Messages mirrored to shadow subjects.", NULL);
  s->m.mirror_failures = arq_metrics_counter(m, "shield_mirror_failures_total", "Mirror copies NATS did not take (the primary was not affected).", NULL);
  s->m.schema_violations = arq_metrics_counter(m, "shield_schema_violation_total", "Messages rejected by schema validation.", NULL);
  s->m.policy_log_dropped = arq_metrics_counter(m, "shield_policy_log_dropped_total",
                                                 "host_log lines of policies dropped: over log_max_bytes_per_eval or log_lines_per_second.", NULL);
  static const char *const preauth[ARQ_PREAUTH_REASONS] = {"pending_cap", "connection_cap", "bytes", "requests", "timeout"};
  for (int i = 0; i < ARQ_PREAUTH_REASONS; i++)
    s->m.preauth_refusals[i] = arq_metrics_counter(m, "shield_preauth_refusals_total",
                                                   "Connections cut before their WebSocket upgrade, by budget.",
                                                   (const char *[]){"reason", preauth[i], NULL});
  s->m.deflate_in_bytes = arq_metrics_counter(m, "shield_deflate_in_bytes_total",
                                              "Bytes compressed (permessage-deflate): deliveries once per delivery per worker, replies once each.", NULL);
  s->m.deflate_out_bytes = arq_metrics_counter(m, "shield_deflate_out_bytes_total",
                                               "Compressed bytes those messages became.", NULL);
  s->m.deflate_saved_bytes = arq_metrics_counter(m, "shield_deflate_saved_bytes_total",
                                                 "Payload bytes not sent thanks to compression, summed over recipients.", NULL);
  s->m.inflate_in_bytes = arq_metrics_counter(m, "shield_inflate_in_bytes_total",
                                              "Compressed bytes of client messages received.", NULL);
  s->m.inflate_out_bytes = arq_metrics_counter(m, "shield_inflate_out_bytes_total",
                                               "Bytes those client messages inflated to.", NULL);
  s->m.unconfirmed = arq_metrics_gauge(m, "shield_unconfirmed_publishes",
                                       "Room events published and not yet confirmed by the ingress stream.", NULL);
  static const char *const unconfirmed[ARQ_CONFIRM_REASONS] = {"full", "timeout", "refused", "no_stream"};
  for (int i = 0; i < ARQ_CONFIRM_REASONS; i++)
    s->m.confirm_failures[i] = arq_metrics_counter(m, "shield_publish_confirm_failures_total",
                                                   "Room events answered 503 instead of ack: the ingress stream did not confirm them, by reason.",
                                                   (const char *[]){"reason", unconfirmed[i], NULL});
  s->m.pending_handshakes = arq_metrics_gauge(m, "shield_pending_handshakes", "Connections accepted and not upgraded yet.", NULL);
  s->m.accept_pauses = arq_metrics_counter(m, "shield_accept_pauses_total",
                                           "Times a listener paused because the process ran out of descriptors or memory.", NULL);
  s->m.reserved_headers = arq_metrics_counter(m, "shield_reserved_headers_stripped_total",
                                              "Client envelope headers in a server namespace (x-arqon-*, traceparent, nats-*) removed.", NULL);
  s->m.tokens_expired = arq_metrics_counter(m, "shield_tokens_expired_total", "Connections closed with 4001 because their token expired.", NULL);
}

/* SPEC: listening beyond loopback without TLS needs allow_insecure = true; the admin
 * listener (tokens, policy modules) is held to the same rule. */
static int check_listen_rule(const arq_config_t *cfg, const char *key, const char *addr) {
  char host[256];
  uint16_t port;
  arq_config_split_hostport(addr, host, sizeof host, &port);
  if (!cfg->shield.tls_cert && !arq_config_host_is_loopback(host) && !cfg->shield.allow_insecure) {
    fprintf(stderr, "arqon-shield: shield.%s = \"%s\" is not a loopback address and TLS is "
                    "not configured; set shield.allow_insecure = true to allow plain HTTP\n",
            key, addr);
    return -1;
  }
  return 0;
}

static int check_listen_rules(const arq_config_t *cfg) {
  if (check_listen_rule(cfg, "listen", cfg->shield.listen))
    return -1;
  return cfg->shield.admin_listen ? check_listen_rule(cfg, "admin_listen", cfg->shield.admin_listen) : 0;
}

static void limit(arq_json_writer_t *w, const char *key, int64_t value) {
  arq_json_w_key(w, key, strlen(key));
  arq_json_w_int64(w, value);
}

/* The welcome event's "limits": what a client must stay within (docs/protocol.md). */
static char *limits_json(const arq_config_t *cfg) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &b);
  arq_json_w_object_begin(&w);
  limit(&w, "max_message_bytes", cfg->shield.max_message_bytes);
  limit(&w, "send_queue_bytes", cfg->shield.send_queue_bytes);
  arq_json_w_key(&w, "conn_rate", 9);
  arq_json_w_double(&w, cfg->shield.conn_rate);
  limit(&w, "conn_burst", cfg->shield.conn_burst);
  limit(&w, "ping_interval_s", cfg->shield.ping_interval_s);
  limit(&w, "idle_timeout_s", cfg->shield.idle_timeout_s);
  limit(&w, "max_rooms_per_connection", cfg->shield.max_rooms_per_connection);
  arq_json_w_object_end(&w);
  arq_buf_putc(&b, '\0');
  return b.data;
}

int main(int argc, char **argv) {
  arq_program_t program = {.name = "arqon-shield",
                           .description = "the ArqonBus edge: WebSocket gateway to NATS"};
  arq_config_t cfg;
  int rc = arq_program_start(&program, argc, argv, &cfg);
  if (rc >= 0)
    return rc;
  if (check_listen_rules(&cfg)) {
    arq_config_free(&cfg);
    return 2;
  }
  arq_shield_t s = {0};
  s.cfg = &cfg;
  s.node_id = cfg.shield.node_id;
  arq_log_set_node(s.node_id); /* SPEC §8: lines carry the node */
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
    rnd = (uint32_t)getpid();
  snprintf(s.instance, sizeof s.instance, "%08x", rnd);
  s.metrics = arq_metrics_new();
  register_metrics(&s);
  s.welcome_limits = limits_json(&cfg);
  pthread_mutex_init(&s.tenants_lock, NULL);
  arq_strmap_init(&s.tenants);
  arq_requests_init(&s);
  /* An explicit `workers` is already 0..64 (config load refuses more: the per-worker
   * tables in shield/nats_link.c hold 64); only "one per core" can ask for more. */
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  s.nworkers = cfg.shield.workers ? (size_t)cfg.shield.workers : (size_t)(cores > 0 ? cores : 1);
  if (!cfg.shield.workers && s.nworkers > 64) {
    char ncores[24];
    snprintf(ncores, sizeof ncores, "%ld", cores);
    ARQ_LOG(ARQ_LOG_WARN, "shield", "workers = 0 on more cores than supported: starting 64",
            {"cores", ncores}, {"workers", "64"});
    s.nworkers = 64;
  }
  s.workers = calloc(s.nworkers, sizeof *s.workers);

  char err[512];
  rc = 2;
  s.auth = arq_auth_new(&cfg, err, sizeof err);
  if (!s.auth) {
    fprintf(stderr, "arqon-shield: %s\n", err);
    goto out;
  }
  if (!arq_auth_ready(s.auth))
    ARQ_LOG(ARQ_LOG_WARN, "shield", "no JWT secret or public key configured: every connection "
                                    "will be refused (set auth.jwt_secret_file or ARQON_JWT_SECRET)");
  if (cfg.shield.tls_cert) {
    s.tls = arq_tls_ctx_new(cfg.shield.tls_cert, cfg.shield.tls_key, err, sizeof err);
    if (!s.tls) {
      fprintf(stderr, "arqon-shield: %s\n", err);
      goto out;
    }
  }
  s.link = arq_link_new(&s, err, sizeof err);
  if (!s.link) {
    fprintf(stderr, "arqon-shield: %s\n", err);
    goto out;
  }
  rc = arq_shield_run(&s);
out:
  arq_link_free(s.link, 2000);
  arq_egress_free_pools();
  arq_requests_free(&s);
  arq_auth_free(s.auth);
  arq_tls_ctx_free(s.tls);
  arq_strmap_free(&s.tenants);
  free(s.workers);
  free(s.welcome_limits);
  arq_metrics_free(s.metrics);
  arq_config_free(&cfg);
  return rc;
}
