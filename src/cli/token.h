/*
 * token.h — HS256 tokens for the tools of `arq`: `arq auth gen` prints one, `arq bench`
 * mints one per connection, `arq pub` and `arq sub` one for their connection.
 */
#ifndef ARQ_CLI_TOKEN_H
#define ARQ_CLI_TOKEN_H

typedef struct {
  const char *tenant, *sub;
  const char *role;       /* NULL: no role claim */
  const char *rooms_json; /* a JSON object {"rooms":[...]} merged into the claims, or NULL */
  long ttl_s;
} arq_token_claims_t;

/** A signed HS256 JWT (free() it) with sub, tenant_id, iat, exp and the optional claims,
 *  or NULL with *lib_err set to libjwt's error. */
char *arq_token_mint(const arq_token_claims_t *c, const char *secret, int *lib_err);

/** The HS256 secret (free() it): `secret` when not NULL (it must not be empty), else
 *  ARQON_JWT_SECRET, else auth.jwt_secret / auth.jwt_secret_file of the config at
 *  `config_path` (when not NULL). On failure prints "prog: reason" and returns NULL. */
char *arq_token_secret(const char *prog, const char *secret, const char *config_path);

#endif
