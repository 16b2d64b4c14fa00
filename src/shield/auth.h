/*
 * auth.h — who a connection is: JWT verification at the handshake (SPEC section 3).
 *
 * DESIGN
 *   libjwt 1.10 verifies signatures but checks neither exp/nbf nor the algorithm: with a
 *   NULL key it even accepts `alg: none`, and a token naming HS256 would be verified with
 *   whatever key bytes we pass (the RS256/HS256 confusion). So each configured algorithm
 *   is tried with its own key only, and a decode counts only when libjwt reports exactly
 *   that algorithm; the times, issuer, audience and identifiers are checked here. No
 *   secret and no public key configured means every token is refused (fail closed).
 */
#ifndef ARQ_SHIELD_AUTH_H
#define ARQ_SHIELD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/ids.h"

typedef struct arq_auth arq_auth_t;

typedef struct {
  char sub[ARQ_ID_MAX_LEN + 1];
  char tenant[ARQ_ID_MAX_LEN + 1];
  char role[ARQ_ID_MAX_LEN + 1]; /* "" when absent */
  /* Allowed room patterns, each NUL-terminated, back to back. NULL: the token has no
   * `rooms` claim (every room); non-NULL with rooms_len 0: `rooms: []` (no room). */
  char *rooms;
  size_t rooms_len;    /* bytes in `rooms` */
  int64_t exp;
  char *claims_json;   /* every claim as JSON, for policies */
} arq_identity_t;

/** Builds the verifier from [auth]. Returns NULL with the reason in err when a configured
 *  key cannot be read. A config without any key gives a verifier that refuses everything. */
arq_auth_t *arq_auth_new(const arq_config_t *cfg, char *err, size_t errcap);
void arq_auth_free(arq_auth_t *a);
/** True when at least one key is configured. */
bool arq_auth_ready(const arq_auth_t *a);

/** Verifies `token` at time `now` (seconds). Returns 0 and fills `id`, or -1 with a short
 *  reason (suitable for the 401 body) in `why`. */
int arq_auth_verify(const arq_auth_t *a, const char *token, int64_t now, arq_identity_t *id,
                    const char **why);
void arq_identity_free(arq_identity_t *id);

/** True when `room` is covered by one of the identity's room patterns (`*` matches any
 *  run of characters). */
bool arq_identity_room_allowed(const arq_identity_t *id, const char *room);

/** Glob match where `*` matches any run of characters (room patterns). */
bool arq_room_pattern_match(const char *pattern, const char *room);

#endif
