/*
 * store.c — promotion of a candidate policy and revision-checked writes to the policy
 * bucket (store.h). The KV calls of nats.c cannot say "write only if this key is still at
 * revision N, or absent" and report a conflict apart from other failures, so these writes
 * are published here as nats.c's KV writes are (to $KV.<bucket>.<key>, a delete with the
 * KV-Operation header) with the stream's Nats-Expected-Last-Subject-Sequence check, whose
 * refusal JetStream names by code.
 */
#include "policy/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy/abi.h"
#include "policy/keys.h"

#define HEADER_EXPECT "Nats-Expected-Last-Subject-Sequence"
#define HEADER_OPERATION "KV-Operation"

/* Publishes `data` (or, with `del`, a delete marker) to `key` of the bucket, accepted only
 * while the key's last revision is `expect` (0: the key has never been written since the
 * bucket's history of it was purged). *revision: the new one. */
static natsStatus write_if(jsCtx *js, kvStore *kv, const char *key, const void *data, int len, bool del,
                           uint64_t expect, uint64_t *revision, bool *conflict, char *err, size_t errcap) {
  char subject[256], seq[24];
  snprintf(subject, sizeof subject, "$KV.%s.%s", kvStore_Bucket(kv), key);
  snprintf(seq, sizeof seq, "%" PRIu64, expect);
  natsMsg *m = NULL;
  jsPubAck *ack = NULL;
  jsErrCode jerr = 0;
  *conflict = false;
  natsStatus st = natsMsg_Create(&m, subject, NULL, data, len);
  if (st == NATS_OK)
    st = natsMsgHeader_Set(m, HEADER_EXPECT, seq);
  if (st == NATS_OK && del)
    st = natsMsgHeader_Set(m, HEADER_OPERATION, "DEL");
  if (st == NATS_OK)
    st = js_PublishMsg(&ack, js, m, NULL, &jerr);
  if (st == NATS_OK) {
    if (revision)
      *revision = ack->Sequence;
  } else {
    *conflict = jerr == JSStreamWrongLastSequenceErr;
    snprintf(err, errcap, "%s %s: %s", del ? "delete" : "put", key,
             *conflict ? "it changed meanwhile" : nats_GetLastError(NULL));
  }
  jsPubAck_Destroy(ack);
  natsMsg_Destroy(m);
  return st;
}

natsStatus arq_kv_put_if(jsCtx *js, kvStore *kv, const char *key, const void *data, int len, uint64_t expect,
                         uint64_t *revision, bool *conflict, char *err, size_t errcap) {
  return write_if(js, kv, key, data, len, false, expect, revision, conflict, err, errcap);
}

natsStatus arq_kv_delete_if(jsCtx *js, kvStore *kv, const char *key, uint64_t revision, bool *conflict,
                            char *err, size_t errcap) {
  return write_if(js, kv, key, NULL, 0, true, revision, NULL, conflict, err, errcap);
}

/* The last revision of `key`, a delete marker included (0: none), and whether it holds a
 * value. */
static natsStatus last_revision(jsCtx *js, kvStore *kv, const char *key, uint64_t *revision, bool *live) {
  char stream[128], subject[256];
  snprintf(stream, sizeof stream, "KV_%s", kvStore_Bucket(kv));
  snprintf(subject, sizeof subject, "$KV.%s.%s", kvStore_Bucket(kv), key);
  natsMsg *m = NULL;
  jsErrCode jerr = 0;
  *revision = 0;
  *live = false;
  natsStatus st = js_GetLastMsg(&m, js, stream, subject, NULL, &jerr);
  if (st == NATS_NOT_FOUND)
    return NATS_OK;
  if (st != NATS_OK)
    return st;
  const char *op = NULL;
  *revision = natsMsg_GetSequence(m);
  *live = natsMsgHeader_Get(m, HEADER_OPERATION, &op) != NATS_OK || !op ||
          (strcmp(op, "DEL") && strcmp(op, "PURGE"));
  natsMsg_Destroy(m);
  return NATS_OK;
}

arq_promote_status_t arq_policy_promote(jsCtx *js, kvStore *kv, const char *base, uint64_t expect_candidate,
                                        arq_promotion_t *out, char *err, size_t errcap) {
  memset(out, 0, sizeof *out);
  char canary[ARQ_POLICY_KEY_CAP];
  arq_policy_canary_key(canary, base);
  kvEntry *e = NULL;
  natsStatus st = kvStore_Get(&e, kv, canary);
  if (st == NATS_NOT_FOUND) {
    snprintf(err, errcap, "%s has no candidate policy (%s)", base, canary);
    return ARQ_PROMOTE_NO_CANDIDATE;
  }
  if (st != NATS_OK) {
    snprintf(err, errcap, "get %s: %s", canary, nats_GetLastError(NULL));
    return ARQ_PROMOTE_UNAVAILABLE;
  }
  arq_promote_status_t rc = ARQ_PROMOTED;
  const uint8_t *bytes = (const uint8_t *)kvEntry_Value(e);
  int len = kvEntry_ValueLen(e);
  const char *why = NULL;
  uint64_t active = 0;
  bool live = false, conflict = false;
  out->candidate_revision = kvEntry_Revision(e);
  if (expect_candidate && out->candidate_revision != expect_candidate) {
    snprintf(err, errcap, "the candidate of %s is revision %" PRIu64 " now, not %" PRIu64 "; nothing was changed",
             base, out->candidate_revision, expect_candidate);
    rc = ARQ_PROMOTE_CHANGED;
  } else if ((why = arq_policy_abi_check(bytes, (size_t)len))) {
    snprintf(err, errcap, "the candidate of %s is not a valid policy: %s", base, why);
    rc = ARQ_PROMOTE_INVALID;
  } else if (last_revision(js, kv, base, &active, &live) != NATS_OK) {
    snprintf(err, errcap, "read %s: %s", base, nats_GetLastError(NULL));
    rc = ARQ_PROMOTE_UNAVAILABLE;
  } else if (arq_kv_put_if(js, kv, base, bytes, len, active, &out->revision, &conflict, err, errcap) != NATS_OK) {
    if (conflict)
      snprintf(err, errcap, "the active policy of %s changed while it was being promoted; nothing was changed",
               base);
    rc = conflict ? ARQ_PROMOTE_CHANGED : ARQ_PROMOTE_UNAVAILABLE;
  } else {
    out->previous_revision = live ? active : 0;
    out->candidate_removed = arq_kv_delete_if(js, kv, canary, out->candidate_revision, &conflict,
                                              out->candidate_kept, sizeof out->candidate_kept) == NATS_OK;
  }
  kvEntry_Destroy(e);
  return rc;
}
