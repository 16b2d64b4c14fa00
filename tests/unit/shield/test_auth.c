/* JWT verification: algorithms pinned per key, times, claims, identifiers, room patterns.
 * RS256/ES256 keys are made by the openssl command at test time; tokens are signed with
 * libjwt (a different code path from verification: jwt_encode_str). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "shield/auth.h"

static char dir[64];

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strdup(buf);
}

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/arq-auth-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "cd %s && openssl genrsa -out rsa.pem 2048 2>/dev/null && "
           "openssl rsa -in rsa.pem -pubout -out rsa.pub 2>/dev/null && "
           "openssl ecparam -name prime256v1 -genkey -noout -out ec.pem 2>/dev/null && "
           "openssl ec -in ec.pem -pubout -out ec.pub 2>/dev/null",
           dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Signs claims (JSON) with alg/key. */
static char *sign(jwt_alg_t alg, const char *key, size_t key_len, const char *claims) {
  jwt_t *jwt = NULL;
  assert_int_equal(jwt_new(&jwt), 0);
  assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
  assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)key_len), 0);
  char *t = jwt_encode_str(jwt);
  jwt_free(jwt);
  assert_non_null(t);
  return t;
}

static char *claims(const char *extra) {
  static char buf[1024];
  long now = (long)time(NULL);
  snprintf(buf, sizeof buf, "{\"sub\":\"alice\",\"tenant_id\":\"T1\",\"iat\":%ld,\"exp\":%ld%s%s}",
           now, now + 300, *extra ? "," : "", extra);
  return buf;
}

static arq_auth_t *make_auth(const char *secret, const char *algs[], const char *pubkey,
                             const char *iss, const char *aud) {
  arq_config_t cfg;
  arq_config_defaults(&cfg);
  char err[256];
  char toml[2048];
  int n = snprintf(toml, sizeof toml, "[auth]\nalgorithms = [");
  for (int i = 0; algs[i]; i++)
    n += snprintf(toml + n, sizeof toml - (size_t)n, "%s\"%s\"", i ? "," : "", algs[i]);
  n += snprintf(toml + n, sizeof toml - (size_t)n, "]\n");
  if (secret)
    n += snprintf(toml + n, sizeof toml - (size_t)n, "jwt_secret = \"%s\"\n", secret);
  if (pubkey)
    n += snprintf(toml + n, sizeof toml - (size_t)n, "jwt_public_key_file = \"%s/%s\"\n", dir, pubkey);
  if (iss)
    n += snprintf(toml + n, sizeof toml - (size_t)n, "issuer = \"%s\"\n", iss);
  if (aud)
    n += snprintf(toml + n, sizeof toml - (size_t)n, "audience = \"%s\"\n", aud);
  if (arq_config_parse(&cfg, "t.toml", toml, (size_t)n, err, sizeof err))
    fail_msg("%s", err);
  unsetenv("ARQON_JWT_SECRET");
  arq_auth_t *a = arq_auth_new(&cfg, err, sizeof err);
  arq_config_free(&cfg);
  assert_non_null(a);
  return a;
}

static void expect(arq_auth_t *a, const char *token, const char *why_expected) {
  arq_identity_t id;
  const char *why = NULL;
  int rc = arq_auth_verify(a, token, (int64_t)time(NULL), &id, &why);
  if (!why_expected) {
    if (rc)
      fail_msg("refused: %s", why);
    arq_identity_free(&id);
    return;
  }
  assert_int_equal(rc, -1);
  assert_string_equal(why, why_expected);
}

static void hs256(void **state) {
  arq_auth_t *a = make_auth("s3cret", (const char *[]){"HS256", NULL}, NULL, NULL, NULL);
  char *t = sign(JWT_ALG_HS256, "s3cret", 6, claims("\"role\":\"admin\",\"rooms\":[\"lobby\",\"g-*\"]"));
  arq_identity_t id;
  const char *why;
  assert_int_equal(arq_auth_verify(a, t, (int64_t)time(NULL), &id, &why), 0);
  assert_string_equal(id.sub, "alice");
  assert_string_equal(id.tenant, "T1");
  assert_string_equal(id.role, "admin");
  assert_true(arq_identity_room_allowed(&id, "lobby"));
  assert_true(arq_identity_room_allowed(&id, "g-42"));
  assert_false(arq_identity_room_allowed(&id, "lobby2"));
  assert_non_null(strstr(id.claims_json, "\"tenant_id\":\"T1\""));
  arq_identity_free(&id);
  free(t);

  t = sign(JWT_ALG_HS256, "other", 5, claims(""));
  expect(a, t, "invalid token");
  free(t);
  t = sign(JWT_ALG_HS512, "s3cret", 6, claims("")); /* right key, algorithm not allowed */
  expect(a, t, "invalid token");
  free(t);
  expect(a, "", "missing token");
  expect(a, "a.b.c", "invalid token");
  expect(a, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwidGVuYW50X2lkIjoiVDEiLCJleHAiOjk5OTk5OTk5OTl9.",
         "invalid token"); /* alg: none */
  arq_auth_free(a);
}

static void times_and_claims(void **state) {
  arq_auth_t *a = make_auth("k", (const char *[]){"HS256", NULL}, NULL, "https://issuer", "arqon");
  long now = (long)time(NULL);
  char extra[256];
  struct {
    const char *body;
    const char *why;
  } cases[] = {
      {"{\"sub\":\"a\",\"tenant_id\":\"T1\",\"iss\":\"https://issuer\",\"aud\":\"arqon\"}", "token has no exp"},
      {"{\"sub\":\"a\",\"tenant_id\":\"T1\",\"exp\":\"soon\",\"iss\":\"https://issuer\",\"aud\":\"arqon\"}", "exp must be an integer"},
      {NULL, NULL},
  };
  for (int i = 0; cases[i].body; i++) {
    char *t = sign(JWT_ALG_HS256, "k", 1, cases[i].body);
    expect(a, t, cases[i].why);
    free(t);
  }
  snprintf(extra, sizeof extra, "\"iss\":\"https://issuer\",\"aud\":\"arqon\",\"nbf\":%ld", now + 100);
  char *t = sign(JWT_ALG_HS256, "k", 1, claims(extra));
  expect(a, t, "token not yet valid");
  free(t);
  t = sign(JWT_ALG_HS256, "k", 1, claims("\"iss\":\"https://evil\",\"aud\":\"arqon\""));
  expect(a, t, "wrong issuer");
  free(t);
  t = sign(JWT_ALG_HS256, "k", 1, claims("\"iss\":\"https://issuer\",\"aud\":[\"x\",\"arqon\"]"));
  expect(a, t, NULL); /* audience in a list */
  free(t);
  t = sign(JWT_ALG_HS256, "k", 1, claims("\"iss\":\"https://issuer\",\"aud\":\"arqonx\""));
  expect(a, t, "wrong audience");
  free(t);
  snprintf(extra, sizeof extra, "{\"sub\":\"a\",\"tenant_id\":\"T1\",\"exp\":%ld,\"iss\":\"https://issuer\",\"aud\":\"arqon\"}", now - 1);
  t = sign(JWT_ALG_HS256, "k", 1, extra);
  expect(a, t, "token expired");
  free(t);
  const char *bad_ids[] = {"\"tenant_id\":\"a.b\"", "\"tenant_id\":\"*\"", "\"tenant_id\":\">\"", NULL};
  for (int i = 0; bad_ids[i]; i++) {
    snprintf(extra, sizeof extra, "{\"sub\":\"a\",%s,\"exp\":%ld,\"iss\":\"https://issuer\",\"aud\":\"arqon\"}", bad_ids[i], now + 60);
    t = sign(JWT_ALG_HS256, "k", 1, extra);
    expect(a, t, "tenant_id missing or not a valid id");
    free(t);
  }
  t = sign(JWT_ALG_HS256, "k", 1, claims("\"iss\":\"https://issuer\",\"aud\":\"arqon\",\"rooms\":[\"a.b\"]"));
  expect(a, t, "rooms must be a list of room patterns");
  free(t);
  t = sign(JWT_ALG_HS256, "k", 1, claims("\"iss\":\"https://issuer\",\"aud\":\"arqon\",\"rooms\":\"lobby\""));
  expect(a, t, "rooms must be a list of room patterns");
  free(t);
  arq_auth_free(a);
}

static void rs256_es256_and_confusion(void **state) {
  char path[128];
  snprintf(path, sizeof path, "%s/rsa.pem", dir);
  char *rsa_priv = read_file(path);
  snprintf(path, sizeof path, "%s/rsa.pub", dir);
  char *rsa_pub = read_file(path);
  snprintf(path, sizeof path, "%s/ec.pem", dir);
  char *ec_priv = read_file(path);

  arq_auth_t *a = make_auth("hs-secret", (const char *[]){"HS256", "RS256", NULL}, "rsa.pub", NULL, NULL);
  char *t = sign(JWT_ALG_RS256, rsa_priv, strlen(rsa_priv), claims(""));
  expect(a, t, NULL);
  free(t);
  /* The classic confusion: HS256 signed with the public key as the HMAC secret. */
  t = sign(JWT_ALG_HS256, rsa_pub, strlen(rsa_pub), claims(""));
  expect(a, t, "invalid token");
  free(t);
  arq_auth_free(a);

  arq_auth_t *e = make_auth(NULL, (const char *[]){"ES256", NULL}, "ec.pub", NULL, NULL);
  t = sign(JWT_ALG_ES256, ec_priv, strlen(ec_priv), claims(""));
  expect(e, t, NULL);
  free(t);
  t = sign(JWT_ALG_RS256, rsa_priv, strlen(rsa_priv), claims("")); /* RS256 not configured */
  expect(e, t, "invalid token");
  free(t);
  arq_auth_free(e);
  free(rsa_priv);
  free(rsa_pub);
  free(ec_priv);
}

/* `rooms: []` allows no room; it must not read as "no claim" (which allows every room). */
static void empty_rooms_claim(void **state) {
  arq_auth_t *a = make_auth("k", (const char *[]){"HS256", NULL}, NULL, NULL, NULL);
  arq_identity_t id;
  const char *why;
  char *t = sign(JWT_ALG_HS256, "k", 1, claims("\"rooms\":[]"));
  assert_int_equal(arq_auth_verify(a, t, (int64_t)time(NULL), &id, &why), 0);
  assert_non_null(id.rooms); /* a claim is present */
  assert_int_equal(id.rooms_len, 0);
  assert_false(arq_identity_room_allowed(&id, "lobby"));
  assert_false(arq_identity_room_allowed(&id, ""));
  arq_identity_free(&id);
  free(t);
  t = sign(JWT_ALG_HS256, "k", 1, claims(""));
  assert_int_equal(arq_auth_verify(a, t, (int64_t)time(NULL), &id, &why), 0);
  assert_null(id.rooms); /* no claim at all */
  arq_identity_free(&id);
  free(t);
  arq_auth_free(a);
}

/* More entries than distinct algorithms, with repeats: each algorithm is set up once, and
 * nothing past the key table is written (the ASan build would report it; before, the
 * fourth entry overwrote the issuer, so every token read "wrong issuer"). */
static void repeated_algorithms(void **state) {
  char path[128];
  snprintf(path, sizeof path, "%s/rsa.pem", dir);
  char *rsa_priv = read_file(path);
  const char *algs[] = {"HS256", "RS256", "HS256", "ES256", "RS256", "HS256", "ES256", NULL};
  arq_auth_t *a = make_auth("s3cret", algs, "rsa.pub", "https://issuer", "arqon");
  assert_true(arq_auth_ready(a));
  const char *extra = "\"iss\":\"https://issuer\",\"aud\":\"arqon\"";
  char *t = sign(JWT_ALG_HS256, "s3cret", 6, claims(extra));
  expect(a, t, NULL);
  free(t);
  t = sign(JWT_ALG_RS256, rsa_priv, strlen(rsa_priv), claims(extra));
  expect(a, t, NULL);
  free(t);
  t = sign(JWT_ALG_HS256, "s3cret", 6, claims("\"iss\":\"https://evil\",\"aud\":\"arqon\""));
  expect(a, t, "wrong issuer"); /* the issuer is still the configured one */
  free(t);
  t = sign(JWT_ALG_HS256, "other", 5, claims(extra));
  expect(a, t, "invalid token");
  free(t);
  arq_auth_free(a);
  free(rsa_priv);
}

static void no_key_fails_closed(void **state) {
  arq_auth_t *a = make_auth(NULL, (const char *[]){"HS256", NULL}, NULL, NULL, NULL);
  assert_false(arq_auth_ready(a));
  char *t = sign(JWT_ALG_HS256, "x", 1, claims(""));
  expect(a, t, "authentication is not configured");
  free(t);
  arq_auth_free(a);
}

static void room_patterns(void **state) {
  assert_true(arq_room_pattern_match("*", "anything"));
  assert_true(arq_room_pattern_match("game-*", "game-"));
  assert_true(arq_room_pattern_match("game-*", "game-12"));
  assert_false(arq_room_pattern_match("game-*", "gam"));
  assert_true(arq_room_pattern_match("*-eu", "room-eu"));
  assert_false(arq_room_pattern_match("*-eu", "room-us"));
  assert_true(arq_room_pattern_match("a*b*c", "aXXbYYc"));
  assert_false(arq_room_pattern_match("a*b*c", "aXXbYY"));
  assert_true(arq_room_pattern_match("lobby", "lobby"));
  assert_false(arq_room_pattern_match("lobby", "lobby2"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hs256),
      cmocka_unit_test(times_and_claims),
      cmocka_unit_test(rs256_es256_and_confusion),
      cmocka_unit_test(no_key_fails_closed),
      cmocka_unit_test(empty_rooms_claim),
      cmocka_unit_test(repeated_algorithms),
      cmocka_unit_test(room_patterns),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
