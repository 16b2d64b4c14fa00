/* HS256 token minting shared by `arq auth gen`, `arq bench`, `arq pub` and `arq sub`. */
#include "cli/token.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"

char *arq_token_mint(const arq_token_claims_t *c, const char *secret, int *lib_err) {
  jwt_t *jwt = NULL;
  long now = (long)time(NULL);
  int rc = jwt_new(&jwt);
  if (!rc) rc = jwt_add_grant(jwt, "sub", c->sub);
  if (!rc) rc = jwt_add_grant(jwt, "tenant_id", c->tenant);
  if (!rc) rc = jwt_add_grant_int(jwt, "iat", now);
  if (!rc) rc = jwt_add_grant_int(jwt, "exp", now + c->ttl_s);
  if (!rc && c->role) rc = jwt_add_grant(jwt, "role", c->role);
  if (!rc && c->rooms_json) rc = jwt_add_grants_json(jwt, c->rooms_json);
  if (!rc) rc = jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
  char *token = rc ? NULL : jwt_encode_str(jwt);
  jwt_free(jwt);
  if (lib_err)
    *lib_err = rc;
  return token;
}

char *arq_token_secret(const char *prog, const char *secret, const char *config_path) {
  if (secret) {
    if (!*secret) {
      fprintf(stderr, "%s: --secret must not be empty\n", prog);
      return NULL;
    }
    return strdup(secret);
  }
  arq_config_t cfg;
  char err[512];
  arq_config_defaults(&cfg);
  if (config_path && arq_config_load(&cfg, config_path, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", prog, err);
    arq_config_free(&cfg);
    return NULL;
  }
  char *found = arq_config_jwt_secret(&cfg, err, sizeof err);
  if (!found)
    fprintf(stderr, "%s: %s\n", prog, err);
  arq_config_free(&cfg);
  return found;
}
