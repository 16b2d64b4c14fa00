#include "shield/auth.h"

#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define MAX_KEY_BYTES (64 * 1024)
#define MAX_ROOM_PATTERNS 64
#define MAX_CLAIMS_JSON 8192
/* HS256, RS256 and ES256 (the config accepts nothing else): one key per distinct algorithm. */
#define MAX_ALGORITHMS 3

typedef struct {
  jwt_alg_t alg;
  unsigned char *key;
  int key_len;
} alg_key_t;

struct arq_auth {
  alg_key_t keys[MAX_ALGORITHMS];
  size_t nkeys;
  char *issuer;
  char *audience;
  int64_t leeway_s;
};

static unsigned char *read_key_file(const char *path, int *len, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  unsigned char *buf = malloc(MAX_KEY_BYTES + 1);
  if (!buf)
    arq_oom("key");
  size_t n = fread(buf, 1, MAX_KEY_BYTES + 1, f);
  fclose(f);
  if (n == 0 || n > MAX_KEY_BYTES) {
    snprintf(err, errcap, "%s: %s", path, n ? "too large for a key" : "empty");
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = (int)n;
  return buf;
}

static char *dup_opt(const char *s) {
  if (!s)
    return NULL;
  char *p = strdup(s);
  if (!p)
    arq_oom("auth");
  return p;
}

arq_auth_t *arq_auth_new(const arq_config_t *cfg, char *err, size_t errcap) {
  arq_auth_t *a = calloc(1, sizeof *a);
  if (!a)
    arq_oom("auth");
  a->issuer = dup_opt(cfg->auth.issuer);
  a->audience = dup_opt(cfg->auth.audience);
  a->leeway_s = cfg->auth.leeway_s;
  /* The list may repeat an algorithm ("HS256", "HS256", ...): each is set up once, so the
   * keys never outnumber the distinct algorithms, however long the list. */
  jwt_alg_t seen[MAX_ALGORITHMS];
  size_t nseen = 0;
  for (size_t i = 0; i < cfg->auth.algorithms.len; i++) {
    jwt_alg_t alg = jwt_str_alg(cfg->auth.algorithms.items[i]);
    bool repeated = false;
    for (size_t j = 0; j < nseen; j++)
      repeated |= seen[j] == alg;
    if (repeated)
      continue;
    if (alg == JWT_ALG_INVAL || nseen == MAX_ALGORITHMS) {
      /* the config admits only three names; a fourth distinct one is a bug there */
      snprintf(err, errcap, "auth.algorithms: unsupported algorithm %s", cfg->auth.algorithms.items[i]);
      arq_auth_free(a);
      return NULL;
    }
    seen[nseen++] = alg;
    alg_key_t *k = &a->keys[a->nkeys];
    k->alg = alg;
    if (k->alg == JWT_ALG_HS256) {
      char why[256];
      char *secret = arq_config_jwt_secret(cfg, why, sizeof why);
      if (!secret)
        continue; /* no secret: HS256 tokens are refused (fail closed) */
      k->key = (unsigned char *)secret;
      k->key_len = (int)strlen(secret);
    } else if (cfg->auth.jwt_public_key_file) {
      k->key = read_key_file(cfg->auth.jwt_public_key_file, &k->key_len, err, errcap);
      if (!k->key) {
        arq_auth_free(a);
        return NULL;
      }
    } else {
      continue;
    }
    a->nkeys++;
  }
  return a;
}

void arq_auth_free(arq_auth_t *a) {
  if (!a)
    return;
  for (size_t i = 0; i < a->nkeys; i++)
    free(a->keys[i].key);
  free(a->issuer);
  free(a->audience);
  free(a);
}

bool arq_auth_ready(const arq_auth_t *a) { return a && a->nkeys > 0; }

void arq_identity_free(arq_identity_t *id) {
  free(id->rooms);
  free(id->claims_json);
  id->rooms = NULL;
  id->claims_json = NULL;
  id->rooms_len = 0;
}

/* Room patterns: `*` plus the id characters; anything else (escapes included) is refused. */
static bool pattern_char(char c) { return c == '*' || arq_id_valid(&c, 1); }

/* Reads ["p1","p2*"] into back-to-back NUL-terminated strings. */
static int parse_rooms(const char *json, arq_identity_t *id) {
  arq_buf_t out;
  arq_buf_init(&out);
  const char *p = json;
  size_t count = 0;
  while (*p == ' ')
    p++;
  if (*p++ != '[')
    goto bad;
  for (;;) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == ']')
      break;
    if (*p++ != '"')
      goto bad;
    const char *start = p;
    while (pattern_char(*p))
      p++;
    size_t n = (size_t)(p - start);
    if (*p++ != '"' || n == 0 || n > ARQ_ID_MAX_LEN || ++count > MAX_ROOM_PATTERNS)
      goto bad;
    arq_buf_append(&out, start, n);
    arq_buf_putc(&out, '\0');
  }
  if (!out.data) /* `rooms: []` is a claim that allows no room, not an absent claim */
    arq_buf_reserve(&out, 0);
  id->rooms = out.data;
  id->rooms_len = out.len;
  return 0;
bad:
  arq_buf_free(&out);
  return -1;
}

static int copy_id(char *dst, const char *value) {
  if (!arq_id_valid_str(value))
    return -1;
  strcpy(dst, value);
  return 0;
}

/* An integer time claim: 1 present, 0 absent, -1 not an integer. Read from the claim's
 * JSON text, because libjwt's integer getter cannot tell a string from a zero. */
static int time_claim(jwt_t *jwt, const char *name, int64_t *out) {
  char *json = jwt_get_grants_json(jwt, name);
  if (!json)
    return 0;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(json, &end, 10);
  int rc = (end != json && *end == '\0' && !errno && (json[0] == '-' || (json[0] >= '0' && json[0] <= '9'))) ? 1 : -1;
  free(json);
  if (rc == 1)
    *out = (int64_t)v;
  return rc;
}

static bool audience_matches(jwt_t *jwt, const char *want) {
  const char *s = jwt_get_grant(jwt, "aud");
  if (s)
    return !strcmp(s, want);
  char *json = jwt_get_grants_json(jwt, "aud");
  bool found = false;
  if (json) {
    char quoted[300];
    snprintf(quoted, sizeof quoted, "\"%s\"", want);
    found = json[0] == '[' && strstr(json, quoted) != NULL;
    free(json);
  }
  return found;
}

static int check_claims(const arq_auth_t *a, jwt_t *jwt, int64_t now, arq_identity_t *id,
                        const char **why) {
  int64_t t;
  int r = time_claim(jwt, "exp", &id->exp);
  if (r <= 0)
    return *why = r ? "exp must be an integer" : "token has no exp", -1;
  if (now > id->exp + a->leeway_s)
    return *why = "token expired", -1;
  if ((r = time_claim(jwt, "nbf", &t)) < 0)
    return *why = "nbf must be an integer", -1;
  if (r && now + a->leeway_s < t)
    return *why = "token not yet valid", -1;
  if (time_claim(jwt, "iat", &t) < 0)
    return *why = "iat must be an integer", -1;
  if (a->issuer && (!jwt_get_grant(jwt, "iss") || strcmp(jwt_get_grant(jwt, "iss"), a->issuer)))
    return *why = "wrong issuer", -1;
  if (a->audience && !audience_matches(jwt, a->audience))
    return *why = "wrong audience", -1;
  if (copy_id(id->sub, jwt_get_grant(jwt, "sub")))
    return *why = "sub missing or not a valid id", -1;
  if (copy_id(id->tenant, jwt_get_grant(jwt, "tenant_id")))
    return *why = "tenant_id missing or not a valid id", -1;
  const char *role = jwt_get_grant(jwt, "role");
  if (role && copy_id(id->role, role))
    return *why = "role is not a valid id", -1;
  char *rooms = jwt_get_grants_json(jwt, "rooms");
  if (rooms) {
    int bad = parse_rooms(rooms, id);
    free(rooms);
    if (bad)
      return *why = "rooms must be a list of room patterns", -1;
  }
  id->claims_json = jwt_get_grants_json(jwt, NULL);
  if (!id->claims_json || strlen(id->claims_json) > MAX_CLAIMS_JSON)
    return *why = "claims too large", -1;
  return 0;
}

int arq_auth_verify(const arq_auth_t *a, const char *token, int64_t now, arq_identity_t *id,
                    const char **why) {
  memset(id, 0, sizeof *id);
  if (!arq_auth_ready(a))
    return *why = "authentication is not configured", -1;
  if (!token || !*token)
    return *why = "missing token", -1;
  for (size_t i = 0; i < a->nkeys; i++) {
    jwt_t *jwt = NULL;
    const alg_key_t *k = &a->keys[i];
    if (jwt_decode(&jwt, token, k->key, k->key_len) != 0 || !jwt)
      continue;
    if (jwt_get_alg(jwt) != k->alg) { /* never trust the token's own choice */
      jwt_free(jwt);
      continue;
    }
    int rc = check_claims(a, jwt, now, id, why);
    jwt_free(jwt);
    if (rc)
      arq_identity_free(id);
    return rc;
  }
  return *why = "invalid token", -1;
}

bool arq_room_pattern_match(const char *p, const char *s) {
  const char *star = NULL, *resume = NULL;
  while (*s) {
    if (*p == '*') {
      star = p++;
      resume = s;
    } else if (*p == *s) {
      p++;
      s++;
    } else if (star) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (*p == '*')
    p++;
  return !*p;
}

bool arq_identity_room_allowed(const arq_identity_t *id, const char *room) {
  for (size_t off = 0; off < id->rooms_len; off += strlen(id->rooms + off) + 1)
    if (arq_room_pattern_match(id->rooms + off, room))
      return true;
  return false;
}
