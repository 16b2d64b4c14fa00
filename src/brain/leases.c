/*
 * leases.c — which Brain sequences which partition: leases in the NATS KV bucket
 * ARQON_BRAIN, whose keys expire lease_ttl_s after their last write (the bucket's TTL).
 *
 * DESIGN
 *   Keys: `brain.<id>` says a Brain is alive; `part.<p>` holds the id of partition p's
 *   owner. Every third of the TTL a Brain rewrites its `brain.` key, renews each lease
 *   with compare-and-set on the revision it last wrote (kvStore_Update: a failure means
 *   someone else holds the key now, and the partition is dropped at once), counts the live
 *   Brains (live_brains: without the meta leader) and aims at ceil(P / live) partitions.
 *   Above it, it hands partitions back: taken from the sequencer between two batches under
 *   own_lock, once it committed what it had in flight, so its last commit is the
 *   checkpoint; notice checkpoint saved; the key emptied by compare-and-set (the next owner
 *   continues exactly there). Below it, it takes free `part.` keys: absent ones with
 *   kvStore_Create (fails when the key exists), emptied ones with kvStore_Update on the
 *   revision it read, so two Brains never both win. The revision of the creating write is
 *   the partition's fencing token: later owners always have larger ones, and the sequencing
 *   script refuses an older token.
 *   A tick stops at the first write the bucket does not answer in time (a failover): every
 *   further call would hold the control worker, which answers requests, as long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "brain/rules.h"
#include "common/log.h"

static void log_partition(const char *msg, uint32_t p, const char *brain) {
  char ps[16];
  snprintf(ps, sizeof ps, "%u", p);
  ARQ_LOG(ARQ_LOG_INFO, "brain", msg, {"partition", ps}, {"brain", brain});
}

static void drop(arq_brain_t *b, uint32_t p, const char *msg) {
  arq_notices_save(b);
  /* Waits for the sequencer's batch in progress, then for its batches in flight to be
   * committed: after this, it leaves p alone and p's checkpoint is its last commit. */
  pthread_mutex_lock(&b->own_lock);
  b->part[p].owned = false;
  atomic_store(&b->part[p].fenced, false);
  b->own_epoch++;
  pthread_mutex_unlock(&b->own_lock);
  arq_sequencer_follow(b);
  arq_gauge_set(b->m.partition_owned[p], 0);
  arq_counter_inc(b->m.ownership_changes);
  log_partition(msg, p, b->id);
}

static void release(arq_brain_t *b, uint32_t p) {
  uint64_t lease_rev = b->part[p].lease_rev;
  drop(b, p, "partition released");
  char key[32];
  snprintf(key, sizeof key, "part.%u", p);
  /* Compare-and-set to an empty value (free) rather than a delete: if the lease lapsed
   * and another Brain holds the key now, this write fails and leaves its lease alone. */
  uint64_t rev;
  kvStore_UpdateString(&rev, b->kv, key, "", lease_rev);
}

/* Takes partition p if it is free. false when the bucket did not answer in time: the
 * tick stops there, since every further call would block the worker as long. */
static bool acquire(arq_brain_t *b, uint32_t p) {
  char key[32];
  snprintf(key, sizeof key, "part.%u", p);
  redisReply *ping = arq_store_command(&b->store, "PING");
  if (!ping)
    return true; /* without Redis the partition cannot be worked on: leave it to others */
  freeReplyObject(ping);
  /* Free means absent (expired, never taken) or emptied by a release; both are taken with
   * a compare-and-set write, so two Brains never both win. */
  uint64_t rev = 0;
  kvEntry *entry = NULL;
  natsStatus st = kvStore_Get(&entry, b->kv, key);
  if (st == NATS_NOT_FOUND) {
    st = kvStore_CreateString(&rev, b->kv, key, b->id);
  } else if (st == NATS_OK) {
    /* Free, or still naming this Brain (its renewal failed while NATS was away): take
     * it with a new revision, which is also a new, larger fencing token. */
    bool free_slot = kvEntry_ValueLen(entry) == 0 || !strcmp(kvEntry_ValueString(entry), b->id);
    uint64_t last = kvEntry_Revision(entry);
    st = free_slot ? kvStore_UpdateString(&rev, b->kv, key, b->id, last) : NATS_ERR;
  }
  kvEntry_Destroy(entry);
  if (st != NATS_OK)
    return st != NATS_TIMEOUT;
  arq_partition_t *pt = &b->part[p];
  pthread_mutex_lock(&b->own_lock);
  pt->owned = true;
  pt->fence = rev;
  b->own_epoch++;
  pthread_mutex_unlock(&b->own_lock);
  pt->lease_rev = rev;
  arq_gauge_set(b->m.partition_owned[p], 1);
  arq_counter_inc(b->m.ownership_changes);
  log_partition("partition acquired", p, b->id);
  return true;
}

void arq_leases_check_fenced(arq_brain_t *b) {
  for (uint32_t p = 0; p < b->partitions; p++)
    if (b->part[p].owned && atomic_load(&b->part[p].fenced))
      drop(b, p, "partition fenced: a newer owner exists");
}

/* How many `brain.` keys the bucket holds: the subjects of its stream, from the stream's
 * leader. (kvStore_Keys would create a consumer, a request to the meta leader, which a
 * node's failure can keep from answering for many seconds.) Expired keys are gone from
 * the stream (its max age is the TTL), and a Brain that stops purges its key rather than
 * deleting it, so no delete marker counts. -1 when the stream does not answer. */
static int live_brains(arq_brain_t *b) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.SubjectsFilter = "$KV." ARQ_BRAIN_BUCKET ".brain.*";
  jsStreamInfo *si = NULL;
  if (js_GetStreamInfo(&si, b->js, "KV_" ARQ_BRAIN_BUCKET, &o, NULL) != NATS_OK) {
    arq_counter_inc(b->m.nats_errors);
    return -1;
  }
  int live = si->State.Subjects ? si->State.Subjects->Count : 0;
  jsStreamInfo_Destroy(si);
  return live;
}

void arq_leases_tick(arq_brain_t *b, int64_t now) {
  if (now < b->lease_due_ms)
    return;
  int64_t period = b->cfg->brain.lease_ttl_s * 1000 / 3;
  b->lease_due_ms = now + (period < ARQ_BRAIN_TICK_MS ? ARQ_BRAIN_TICK_MS : period);
  /* While NATS is away every KV call would block the worker for its timeout; the leases
   * cannot be renewed anyway (after a long outage the renewals fail and the partitions
   * are taken again, see acquire()). */
  if (natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED)
    return;

  char self[40];
  snprintf(self, sizeof self, "brain.%s", b->id);
  uint64_t rev;
  if (kvStore_PutString(&rev, b->kv, self, "alive") != NATS_OK) {
    arq_counter_inc(b->m.nats_errors);
    return; /* cannot reach the bucket: leases will lapse, consumers stop below on renewal */
  }
  uint32_t owned = 0;
  for (uint32_t p = 0; p < b->partitions; p++) {
    arq_partition_t *pt = &b->part[p];
    if (!pt->owned)
      continue;
    char key[32];
    snprintf(key, sizeof key, "part.%u", p);
    natsStatus st = kvStore_UpdateString(&rev, b->kv, key, b->id, pt->lease_rev);
    if (st == NATS_OK) {
      pt->lease_rev = rev;
      owned++;
      continue;
    }
    drop(b, p, "partition lease lost");
    if (st == NATS_TIMEOUT) {
      /* The bucket is electing a leader (a failover): the other leases are renewed on the
       * next tick, well within their TTL, rather than each blocking the worker as long. */
      arq_counter_inc(b->m.nats_errors);
      for (uint32_t q = p + 1; q < b->partitions; q++)
        owned += b->part[q].owned;
      arq_gauge_set(b->m.partitions_owned, owned);
      return;
    }
  }

  int live = live_brains(b);
  if (live < 0) {
    arq_gauge_set(b->m.partitions_owned, owned);
    return;
  }
  if (live == 0)
    live = 1;
  uint32_t want = (b->partitions + (uint32_t)live - 1) / (uint32_t)live;

  for (uint32_t p = b->partitions; p-- > 0 && owned > want;) {
    if (b->part[p].owned) {
      release(b, p);
      owned--;
    }
  }
  /* Start at a place that depends on the id, so that Brains starting together do not all
   * race for partition 0 first. */
  uint32_t start = arq_brain_partition(b->id, "", b->partitions);
  for (uint32_t i = 0; i < b->partitions && owned < want; i++) {
    uint32_t p = (start + i) % b->partitions;
    if (!b->part[p].owned) {
      if (!acquire(b, p))
        break;
      if (b->part[p].owned)
        owned++;
    }
  }
  arq_gauge_set(b->m.partitions_owned, owned);
}

void arq_leases_release_all(arq_brain_t *b) {
  if (!b->kv)
    return;
  /* Without NATS each KV write would wait for its timeout: just stop, the leases lapse. */
  bool connected = natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
  for (uint32_t p = 0; p < b->partitions; p++) {
    if (b->part[p].owned && connected)
      release(b, p);
    else if (b->part[p].owned)
      drop(b, p, "partition left to lapse");
  }
  if (!connected)
    return;
  /* Purged, not deleted: a delete marker would stay among the stream's subjects, and the
   * other Brains would count this one as live until the TTL (live_brains). Only this Brain
   * ever writes its own key. */
  char self[64];
  snprintf(self, sizeof self, "$KV.%s.brain.%s", ARQ_BRAIN_BUCKET, b->id);
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = self;
  js_PurgeStream(b->js, "KV_" ARQ_BRAIN_BUCKET, &o, NULL);
}

bool arq_leases_owns_room(const arq_brain_t *b, const char *tenant, const char *room) {
  return b->part[arq_brain_partition(tenant, room, b->partitions)].owned;
}
