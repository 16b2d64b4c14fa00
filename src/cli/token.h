/*
 * token.h — HS256 tokens for the tools of `arq`: `arq auth gen` prints one, `arq bench`
 * mints one per connection.
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

#endif
