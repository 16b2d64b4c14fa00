#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

static int parse(arq_config_t *cfg, const char *text, char *err, size_t cap) {
  arq_config_defaults(cfg);
  return arq_config_parse(cfg, "t.toml", text, strlen(text), err, cap);
}

/* Parses `text` expecting failure with exactly `expected` as the message. */
static void expect_error(const char *text, const char *expected) {
  arq_config_t cfg;
  char err[512] = "";
  assert_int_equal(parse(&cfg, text, err, sizeof err), -1);
  assert_string_equal(err, expected);
  arq_config_free(&cfg);
}

static void defaults_are_safe(void **state) {
  arq_config_t cfg;
  arq_config_defaults(&cfg);
  assert_string_equal(cfg.shield.listen, "127.0.0.1:4000");
  assert_false(cfg.shield.allow_insecure);
  assert_null(cfg.auth.jwt_secret);
  assert_int_equal(cfg.shield.max_message_bytes, 1 << 20);
  assert_int_equal(cfg.platform.overseer.fuel_limit, 10000);
  assert_int_equal(cfg.platform.overseer.memory_limit_mb, 4);
  assert_int_equal(cfg.platform.overseer.max_table_elements, 10000);
  assert_string_equal(cfg.platform.overseer.kv_bucket, "ARQON_POLICIES");
  /* a candidate, once pushed, sees all traffic, within budgets like the active policy's */
  assert_true(cfg.platform.overseer.canary_percent == 1.0);
  assert_int_equal(cfg.platform.overseer.canary_fuel_limit, 10000);
  assert_int_equal(cfg.platform.overseer.canary_time_budget_us, 200);
  assert_int_equal(cfg.platform.overseer.canary_audit_per_second, 10);
  assert_string_equal(cfg.platform.registry.kv_bucket, "ARQON_SCHEMAS");
  assert_int_equal(cfg.brain.presence_expiry_s, 15);
  assert_string_equal(cfg.nats.url, "nats://127.0.0.1:4222");
  assert_true(cfg.nats.send_asap);
  arq_config_free(&cfg);
}

static void shipped_config_loads(void **state) {
  arq_config_t cfg;
  char err[512] = "";
  arq_config_defaults(&cfg);
  int rc = arq_config_load(&cfg, ARQ_SOURCE_DIR "/config/arqon.toml", err, sizeof err);
  if (rc)
    fail_msg("%s", err);
  assert_int_equal(cfg.platform.mirroring.nrules, 1);
  assert_string_equal(cfg.platform.mirroring.rules[0].prefix, "in.t.default.*");
  assert_true(cfg.platform.mirroring.rules[0].percent == 0.10);
  arq_config_free(&cfg);
}

static void values_are_read(void **state) {
  arq_config_t cfg;
  char err[512] = "";
  int rc = parse(&cfg,
                 "[shield]\nlisten = \"[::1]:4100\"\nworkers = 4\nallow_insecure = true\n"
                 "allowed_origins = [\"https://a.example\", \"http://b.example:8080\"]\n"
                 "trusted_proxies = [\"10.0.0.1\", \"::1\"]\nconn_rate = 5\n"
                 "[auth]\njwt_secret = \"s\"\nalgorithms = [\"HS256\", \"ES256\"]\n"
                 "[log]\nformat = \"json\"\n"
                 "[platform.overseer]\ncanary_percent = 0\ncanary_fuel_limit = 50000\n"
                 "canary_time_budget_us = 1000\ncanary_audit_per_second = 0\n"
                 "[platform.mirroring]\nenabled = true\n"
                 "rules = [{ prefix = \"in.t.*.r.>\", percent = 1 }, { prefix = \"a\", percent = 0.0 }]\n"
                 "[[platform.registry.mappings]]\nsubject = \"in.t.*.r.orders\"\n"
                 "schema_id = \"v1.events.order_created\"\nmessage = \"shop.Order\"\n",
                 err, sizeof err);
  if (rc)
    fail_msg("%s", err);
  assert_string_equal(cfg.shield.listen, "[::1]:4100");
  assert_int_equal(cfg.shield.workers, 4);
  assert_true(cfg.shield.allow_insecure);
  assert_int_equal(cfg.shield.allowed_origins.len, 2);
  assert_string_equal(cfg.shield.allowed_origins.items[1], "http://b.example:8080");
  assert_int_equal(cfg.shield.trusted_proxies.len, 2);
  assert_true(cfg.shield.conn_rate == 5.0);
  assert_string_equal(cfg.auth.jwt_secret, "s");
  assert_int_equal(cfg.auth.algorithms.len, 2);
  assert_string_equal(cfg.log.format, "json");
  assert_true(cfg.platform.overseer.canary_percent == 0.0);
  assert_int_equal(cfg.platform.overseer.canary_fuel_limit, 50000);
  assert_int_equal(cfg.platform.overseer.canary_time_budget_us, 1000);
  assert_int_equal(cfg.platform.overseer.canary_audit_per_second, 0);
  assert_true(cfg.platform.mirroring.enabled);
  assert_int_equal(cfg.platform.mirroring.nrules, 2);
  assert_true(cfg.platform.mirroring.rules[0].percent == 1.0);
  assert_int_equal(cfg.platform.registry.nmappings, 1);
  assert_string_equal(cfg.platform.registry.mappings[0].message, "shop.Order");
  arq_config_free(&cfg);
}

/* SPEC §8's top-level `log_format`, the same as [log] format; a bad value names the key. */
static void top_level_log_format(void **state) {
  (void)state;
  arq_config_t cfg;
  char err[512] = "";
  if (parse(&cfg, "log_format = \"json\"\n[shield]\nworkers = 1\n", err, sizeof err))
    fail_msg("%s", err);
  assert_string_equal(cfg.log.format, "json");
  arq_config_free(&cfg);
  assert_int_not_equal(parse(&cfg, "log_format = \"xml\"\n", err, sizeof err), 0);
  assert_non_null(strstr(err, "log_format"));
  arq_config_free(&cfg);
}

static void brain_partitions_and_lease(void **state) {
  arq_config_t cfg;
  char err[512] = "";
  arq_config_defaults(&cfg);
  assert_int_equal(cfg.brain.partitions, 8);
  assert_int_equal(cfg.brain.lease_ttl_s, 10);
  assert_int_equal(cfg.brain.ingress_max_age_s, 3600);
  assert_int_equal(cfg.brain.max_pending_requests, 1024);
  arq_config_free(&cfg);
  if (parse(&cfg, "[brain]\npartitions = 16\nlease_ttl_s = 3\ningress_max_age_s = 600\n", err,
            sizeof err))
    fail_msg("%s", err);
  assert_int_equal(cfg.brain.partitions, 16);
  assert_int_equal(cfg.brain.lease_ttl_s, 3);
  assert_int_equal(cfg.brain.ingress_max_age_s, 600);
  arq_config_free(&cfg);
  expect_error("[brain]\npartitions = 0\n",
               "t.toml:2: brain.partitions: must be between 1 and 1024, got 0");
  expect_error("[brain]\nlease_ttl_s = 0\n",
               "t.toml:2: brain.lease_ttl_s: must be between 1 and 3600, got 0");
  expect_error("[brain]\nmax_pending_requests = 0\n",
               "t.toml:2: brain.max_pending_requests: must be between 1 and 32768, got 0");
  expect_error("[brain]\ningress_max_age_s = 59\n",
               "t.toml:2: brain.ingress_max_age_s: must be between 60 and 2592000, got 59");
}

static void errors_name_file_line_key(void **state) {
  expect_error("[shield]\nlisten = \"127.0.0.1:4000\"\nlisen = \"x\"\n",
               "t.toml:3: shield.lisen: unknown key");
  expect_error("[shiled]\n", "t.toml:1: shiled: unknown key");
  expect_error("\n[shield]\nworkers = \"4\"\n", "t.toml:3: shield.workers: expected integer, got string");
  expect_error("[shield]\nworkers = 1000\n",
               "t.toml:2: shield.workers: must be between 0 and 64, got 1000");
  expect_error("[shield]\nworkers = 65\n",
               "t.toml:2: shield.workers: must be between 0 and 64, got 65");
  expect_error("[shield]\nlisten = \"localhost\"\n",
               "t.toml:2: shield.listen: expected host:port, got \"localhost\"");
  expect_error("[shield]\nlisten = \"1.2.3.4:99999\"\n",
               "t.toml:2: shield.listen: expected host:port, got \"1.2.3.4:99999\"");
  expect_error("[shield]\nnode_id = \"a.b\"\n",
               "t.toml:2: shield.node_id: may contain only A-Z, a-z, 0-9, '_' and '-', got \"a.b\"");
  expect_error("[log]\nlevel = \"loud\"\n",
               "t.toml:2: log.level: expected error, warn, info, debug or trace, got \"loud\"");
  expect_error("[auth]\nalgorithms = [\"none\"]\n",
               "t.toml:2: auth.algorithms: expected HS256, RS256 or ES256, got \"none\"");
  expect_error("[auth]\nalgorithms = []\n", "t.toml:2: auth.algorithms: must not be empty");
  expect_error("[nats]\nurl = \"http://x\"\n",
               "t.toml:2: nats.url: expected a nats:// or tls:// URL, got \"http://x\"");
  expect_error("[platform.overseer]\nfuel_limit = 0\n",
               "t.toml:2: platform.overseer.fuel_limit: must be between 1 and 1000000000000, got 0");
  expect_error("[platform.overseer]\ncanary_percent = 10\n",
               "t.toml:2: platform.overseer.canary_percent: must be between 0 and 1, got 10");
  expect_error("[platform.overseer]\ncanary_time_budget_us = 0\n",
               "t.toml:2: platform.overseer.canary_time_budget_us: must be between 1 and 1000000, got 0");
  expect_error("[platform]\noverseer = 3\n", "t.toml:2: platform.overseer: expected table, got integer");
  expect_error("[shield]\ntls_cert = \"c.pem\"\n",
               "t.toml:2: shield.tls_cert: tls_cert and tls_key must be set together");
  expect_error("[auth]\njwt_secret = \"a\"\njwt_secret_file = \"b\"\n",
               "t.toml:3: auth.jwt_secret_file: set either jwt_secret or jwt_secret_file, not both");
  expect_error("[shield]\nallowed_origins = [\"https://a/\"]\n",
               "t.toml:2: shield.allowed_origins: expected \"*\" or an origin like https://example.com "
               "(no trailing slash), got \"https://a/\"");
}

static void table_arrays_are_checked(void **state) {
  expect_error("[platform.mirroring]\nrules = [{ prefix = \"in.t.*\", percent = 1.5 }]\n",
               "t.toml:2: platform.mirroring.rules: 'percent': must be a fraction between 0.0 and "
               "1.0, got 1.5");
  expect_error("[platform.mirroring]\nrules = [{ prefix = \"in..t\", percent = 0.5 }]\n",
               "t.toml:2: platform.mirroring.rules: 'prefix': not a NATS subject pattern: \"in..t\"");
  expect_error("[platform.mirroring]\nrules = [{ percent = 0.5 }]\n",
               "t.toml:2: platform.mirroring.rules: missing 'prefix'");
  expect_error("[platform.mirroring]\nrules = [{ prefix = \"a\", percent = 0.5, x = 1 }]\n",
               "t.toml:2: platform.mirroring.rules: unknown key 'x'");
  expect_error("[platform.mirroring]\nrules = [\"a\"]\n",
               "t.toml:2: platform.mirroring.rules: expected a table like { prefix = "
               "\"in.t.*.r.*\", percent = 0.1 }");
  expect_error("[platform.registry]\nmappings = [1]\n",
               "t.toml:2: platform.registry.mappings: expected a table like { subject = "
               "\"in.t.*.r.orders\", schema_id = \"v1.x\", message = \"pkg.Msg\" }");
  expect_error("[[platform.registry.mappings]]\nsubject = \"in.t.*.r.x\"\nschema_id = \"v1\"\n",
               "t.toml:1: platform.registry.mappings: missing 'message'");
}

static void syntax_errors_name_the_line(void **state) {
  arq_config_t cfg;
  char err[512] = "";
  assert_int_equal(parse(&cfg, "[shield]\nworkers = = 3\n", err, sizeof err), -1);
  assert_true(!strncmp(err, "t.toml:2:", 9));
  arq_config_free(&cfg);
}

static void missing_file(void **state) {
  arq_config_t cfg;
  char err[512] = "";
  arq_config_defaults(&cfg);
  assert_int_equal(arq_config_load(&cfg, "/nonexistent/arqon.toml", err, sizeof err), -1);
  assert_string_equal(err, "/nonexistent/arqon.toml: No such file or directory");
  arq_config_free(&cfg);
}

static void secrets_resolve_in_order(void **state) {
  arq_config_t cfg;
  char err[512] = "";
  arq_config_defaults(&cfg);
  unsetenv("ARQON_JWT_SECRET");
  assert_null(arq_config_jwt_secret(&cfg, err, sizeof err)); /* fail closed */
  assert_non_null(strstr(err, "no JWT secret configured"));

  char path[] = "/tmp/arq-secret-XXXXXX";
  int fd = mkstemp(path);
  assert_int_equal(write(fd, "from-file\r\n", 11), 11);
  close(fd);
  cfg.auth.jwt_secret_file = strdup(path);
  char *s = arq_config_jwt_secret(&cfg, err, sizeof err);
  assert_string_equal(s, "from-file");
  free(s);
  setenv("ARQON_JWT_SECRET", "from-env", 1);
  s = arq_config_jwt_secret(&cfg, err, sizeof err);
  assert_string_equal(s, "from-env");
  free(s);
  unsetenv("ARQON_JWT_SECRET");

  fd = open(path, O_WRONLY | O_TRUNC);
  close(fd);
  assert_null(arq_config_jwt_secret(&cfg, err, sizeof err)); /* an empty file is no secret */
  assert_non_null(strstr(err, "is empty"));
  remove(path);

  unsetenv("ARQON_NATS_PASSWORD");
  assert_null(arq_config_nats_password(&cfg, err, sizeof err));
  assert_string_equal(err, "");
  arq_config_free(&cfg);
}

static void hostport_and_loopback(void **state) {
  char host[64];
  uint16_t port;
  assert_int_equal(arq_config_split_hostport("127.0.0.1:4000", host, sizeof host, &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 4000);
  assert_int_equal(arq_config_split_hostport("[::1]:80", host, sizeof host, &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(arq_config_split_hostport("::1:80", host, sizeof host, &port), -1);
  assert_int_equal(arq_config_split_hostport(":80", host, sizeof host, &port), -1);
  assert_int_equal(arq_config_split_hostport("a:", host, sizeof host, &port), -1);
  assert_int_equal(arq_config_split_hostport("a:-1", host, sizeof host, &port), -1);
  assert_true(arq_config_host_is_loopback("127.0.0.5"));
  assert_true(arq_config_host_is_loopback("::1"));
  assert_true(arq_config_host_is_loopback("localhost"));
  assert_false(arq_config_host_is_loopback("0.0.0.0"));
  assert_false(arq_config_host_is_loopback("10.1.2.3"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_are_safe),
      cmocka_unit_test(shipped_config_loads),
      cmocka_unit_test(values_are_read),
      cmocka_unit_test(top_level_log_format),
      cmocka_unit_test(brain_partitions_and_lease),
      cmocka_unit_test(errors_name_file_line_key),
      cmocka_unit_test(table_arrays_are_checked),
      cmocka_unit_test(syntax_errors_name_the_line),
      cmocka_unit_test(missing_file),
      cmocka_unit_test(secrets_resolve_in_order),
      cmocka_unit_test(hostport_and_loopback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
