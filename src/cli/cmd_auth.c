/* arq auth gen: mints an HS256 token from the configured secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/token.h"
#include "common/buf.h"
#include "common/ids.h"
#include "common/json.h"

#define MAX_TTL_S (10L * 365 * 86400)

static void auth_usage(FILE *out) {
  fprintf(out,
          "usage: arq auth gen --tenant T --sub U [--role R] [--ttl SECONDS] [--rooms P1,P2]\n"
          "                    [--secret S | --config PATH]\n"
          "  Prints an HS256 JWT with claims sub, tenant_id, iat, exp (and role, rooms).\n"
          "  The secret comes from --secret, else ARQON_JWT_SECRET, else the config's\n"
          "  auth.jwt_secret / auth.jwt_secret_file.\n");
}

typedef struct {
  const char *tenant, *sub, *role, *rooms, *secret, *config;
  long ttl;
} gen_args_t;

static int parse_ttl(const char *s, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v <= 0 || v > MAX_TTL_S)
    return -1;
  *out = v;
  return 0;
}

static int parse_gen_args(int argc, char **argv, gen_args_t *a) {
  a->ttl = 3600;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
      auth_usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "arq auth gen: %s needs a value\n", opt);
      return -1;
    }
    const char *val = argv[++i];
    if (!strcmp(opt, "--tenant")) a->tenant = val;
    else if (!strcmp(opt, "--sub")) a->sub = val;
    else if (!strcmp(opt, "--role")) a->role = val;
    else if (!strcmp(opt, "--rooms")) a->rooms = val;
    else if (!strcmp(opt, "--secret")) a->secret = val;
    else if (!strcmp(opt, "--config")) a->config = val;
    else if (!strcmp(opt, "--ttl")) {
      if (parse_ttl(val, &a->ttl)) {
        fprintf(stderr, "arq auth gen: --ttl: expected seconds between 1 and %ld, got '%s'\n",
                MAX_TTL_S, val);
        return -1;
      }
    } else {
      fprintf(stderr, "arq auth gen: unknown option '%s'\n", opt);
      return -1;
    }
  }
  return 0;
}

static int check_id(const char *what, const char *v) {
  const char *problem = arq_id_problem(v);
  if (!problem)
    return 0;
  fprintf(stderr, "arq auth gen: %s '%s': %s\n", what, v ? v : "", problem);
  return -1;
}

/* Room patterns: ids where '*' may stand for any run of characters. */
static int rooms_json(const char *list, arq_buf_t *out) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, out);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "rooms", 5);
  arq_json_w_array_begin(&w);
  const char *p = list;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    bool ok = len > 0 && len <= ARQ_ID_MAX_LEN;
    for (size_t i = 0; ok && i < len; i++)
      ok = p[i] == '*' || arq_id_valid(p + i, 1);
    if (!ok) {
      fprintf(stderr, "arq auth gen: --rooms: '%.*s' is not a room pattern "
                      "(A-Z, a-z, 0-9, '_', '-', '*'; 1 to 64 characters)\n", (int)len, p);
      return -1;
    }
    arq_json_w_string(&w, p, len);
    if (!comma)
      break;
    p = comma + 1;
  }
  arq_json_w_array_end(&w);
  arq_json_w_object_end(&w);
  return 0;
}

static int mint(const gen_args_t *a, const char *secret, const char *rooms) {
  arq_token_claims_t claims = {a->tenant, a->sub, a->role, rooms, a->ttl};
  int rc = 0;
  char *token = arq_token_mint(&claims, secret, &rc);
  if (!token) {
    fprintf(stderr, "arq auth gen: could not sign the token (libjwt error %d)\n", rc);
    return 1;
  }
  printf("%s\n", token);
  free(token);
  return 0;
}

static int auth_gen(int argc, char **argv) {
  gen_args_t a = {0};
  if (parse_gen_args(argc, argv, &a))
    return 2;
  if (!a.tenant || !a.sub) {
    fprintf(stderr, "arq auth gen: --tenant and --sub are required\n");
    auth_usage(stderr);
    return 2;
  }
  if (check_id("tenant", a.tenant) || check_id("sub", a.sub) || (a.role && check_id("role", a.role)))
    return 2;
  arq_buf_t rooms;
  arq_buf_init(&rooms);
  if (a.rooms && rooms_json(a.rooms, &rooms)) {
    arq_buf_free(&rooms);
    return 2;
  }
  char *secret = arq_token_secret("arq auth gen", a.secret, a.config);
  int rc = secret ? mint(&a, secret, rooms.data) : 1;
  free(secret);
  arq_buf_free(&rooms);
  return rc;
}

int arq_cmd_auth(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "gen"))
    return auth_gen(argc - 1, argv + 1);
  auth_usage(argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr);
  return 2;
}
