/*
 * store.h — changes to the policy bucket that take more than one KV call, shared by
 * `arq policy` and the admin API so that both do them the same way.
 *
 * DESIGN
 *   Promotion makes a tenant's candidate (<key>.canary) its active policy (<key>). Two
 *   keys cannot change in one KV operation, so the order carries the guarantees:
 *     1. read the candidate (its bytes and revision R; refused when the caller expected
 *        another revision: someone pushed a newer candidate since it was reviewed);
 *     2. check the bytes as every Shield will (a candidate written around the CLI could
 *        be garbage; it must not become the active policy);
 *     3. write them to <key> with a revision check: an update that expects the revision
 *        of <key> read just before (or a create when there is none), so a concurrent
 *        change of the active policy makes the promotion fail and change nothing;
 *     4. delete <key>.canary only if it is still revision R (a delete marker published
 *        with Nats-Expected-Last-Subject-Sequence), so a candidate pushed meanwhile stays.
 *   Step 3 is the promotion: every Shield swaps to the new module as for any push. Between
 *   3 and 4 the Shields compare the module with itself, which disagrees on nothing.
 */
#ifndef ARQ_POLICY_STORE_H
#define ARQ_POLICY_STORE_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Why a promotion did not happen; the HTTP status the admin API answers with. */
typedef enum {
  ARQ_PROMOTED = 0,
  ARQ_PROMOTE_NO_CANDIDATE = 404, /* no <key>.canary in the bucket */
  ARQ_PROMOTE_INVALID = 400,      /* the candidate's bytes are not a policy a Shield would run */
  ARQ_PROMOTE_CHANGED = 409,      /* the candidate or the active policy changed meanwhile */
  ARQ_PROMOTE_UNAVAILABLE = 503,  /* NATS did not answer or refused */
} arq_promote_status_t;

typedef struct {
  uint64_t candidate_revision; /* the candidate promoted */
  uint64_t previous_revision;  /* the active policy replaced; 0: there was none */
  uint64_t revision;           /* <key>'s new revision */
  bool candidate_removed;      /* false: the candidate key stays, for the reason below */
  char candidate_kept[200];    /* why (a newer candidate arrived meanwhile, or NATS failed) */
} arq_promotion_t;

/** Promotes the candidate of `base` (a tenant id or _global) in `kv`, opened through `js`.
 *  `expect_candidate`: the candidate revision the caller means, 0 for whichever is there.
 *  On failure `err` says why. */
arq_promote_status_t arq_policy_promote(jsCtx *js, kvStore *kv, const char *base, uint64_t expect_candidate,
                                        arq_promotion_t *out, char *err, size_t errcap);

/** Puts `len` bytes as `key` only while the key's last revision, a delete marker included,
 *  is `expect` (0: the key has none). NATS_OK and the new *revision; otherwise the reason
 *  in err, and *conflict set when the reason is that check (the key has moved on). */
natsStatus arq_kv_put_if(jsCtx *js, kvStore *kv, const char *key, const void *data, int len, uint64_t expect,
                         uint64_t *revision, bool *conflict, char *err, size_t errcap);

/** Deletes `key` only while its last revision is `revision`: a delete marker, as
 *  kvStore_Delete writes, under the same check as arq_kv_put_if. */
natsStatus arq_kv_delete_if(jsCtx *js, kvStore *kv, const char *key, uint64_t revision, bool *conflict,
                            char *err, size_t errcap);

#endif
