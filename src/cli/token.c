/* HS256 token minting shared by `arq auth gen` and `arq bench`. */
#include "cli/token.h"

#include <jwt.h>
#include <string.h>
#include <time.h>

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
