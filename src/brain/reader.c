/* reader.c — a pull consumer shared by the partitions a Brain owns (see reader.h). */
#include "brain/reader.h"

#include <stdio.h>
#include <stdlib.h>

#include "brain/brain.h"
#include "brain/scripts.h"

void arq_reader_init(arq_reader_t *r, arq_pull_t *pull, uint32_t partitions, const char *ckpt_name) {
  r->pull = pull;
  r->ckpt_name = ckpt_name;
  r->partitions = partitions;
  r->ckpt = calloc(partitions, sizeof *r->ckpt);
  r->saved = calloc(partitions, sizeof *r->saved);
  r->active = calloc(partitions, sizeof *r->active);
  if (!r->ckpt || !r->saved || !r->active)
    arq_oom("reader");
  r->restart = true;
}

void arq_reader_free(arq_reader_t *r) {
  free(r->ckpt);
  free(r->saved);
  free(r->active);
}

/* The checkpoint of p from Redis: 0 when absent, -1 when Redis is unavailable. */
static int load(arq_reader_t *r, arq_store_t *store, uint32_t p, uint64_t *out) {
  redisReply *rep = arq_store_command(store, "GET arq:brain:part:%u:%s", p, r->ckpt_name);
  if (!rep)
    return -1;
  *out = rep->type == REDIS_REPLY_STRING ? strtoull(rep->str, NULL, 10) : 0;
  freeReplyObject(rep);
  return 0;
}

bool arq_reader_must_restart(arq_reader_t *r, uint64_t reconnects) {
  if (reconnects != r->reconnects || !arq_pull_running(r->pull) || arq_pull_broken(r->pull))
    r->restart = true;
  r->reconnects = reconnects;
  return r->restart;
}

int arq_reader_sync(arq_reader_t *r, const bool *owned, arq_store_t *store) {
  bool any = false;
  for (uint32_t p = 0; p < r->partitions; p++) {
    if (!owned[p]) {
      r->active[p] = false;
      continue;
    }
    any = true;
    if (!r->active[p]) {
      uint64_t c;
      if (load(r, store, p, &c))
        return -1;
      r->ckpt[p] = r->saved[p] = c;
      r->active[p] = true;
      r->restart = true;
    }
  }
  if (!any) {
    if (arq_pull_running(r->pull))
      arq_pull_stop(r->pull);
    r->restart = true;
    return -1;
  }
  if (!r->restart && arq_pull_running(r->pull) && !arq_pull_broken(r->pull))
    return 0;
  /* A restart usually follows a failure: read nothing until Redis answers again, rather
   * than read a batch only to fail it (and churn consumers) while it is away. */
  redisReply *ping = arq_store_command(store, "PING");
  if (!ping)
    return -1;
  freeReplyObject(ping);
  /* Redis is the truth, not memory: a Redis that failed over may have lost the last
   * commits, and the rooms' counters went back with the checkpoints (one script commits
   * both). Reading again from Redis's checkpoint numbers those messages again, each with
   * the seq it had; reading on from memory would give the next ones reused seqs. */
  for (uint32_t p = 0; p < r->partitions; p++) {
    uint64_t c;
    if (!r->active[p])
      continue;
    if (load(r, store, p, &c))
      return -1;
    r->ckpt[p] = r->saved[p] = c;
  }
  uint64_t start = UINT64_MAX;
  for (uint32_t p = 0; p < r->partitions; p++)
    if (r->active[p] && r->ckpt[p] < start)
      start = r->ckpt[p];
  if (arq_pull_start(r->pull, start + 1))
    return -1;
  r->restart = false;
  return 0;
}

void arq_reader_advance(arq_reader_t *r, uint64_t in_seq) {
  for (uint32_t p = 0; p < r->partitions; p++)
    if (r->active[p] && r->ckpt[p] < in_seq)
      r->ckpt[p] = in_seq;
}

void arq_reader_save(arq_reader_t *r, arq_store_t *store) {
  for (uint32_t p = 0; p < r->partitions; p++) {
    if (!r->active[p] || r->ckpt[p] == r->saved[p])
      continue;
    char key[64], val[24];
    snprintf(key, sizeof key, "arq:brain:part:%u:%s", p, r->ckpt_name);
    snprintf(val, sizeof val, "%llu", (unsigned long long)r->ckpt[p]);
    redisReply *rep = arq_store_command(store, "EVAL %s 1 %s %s", arq_brain_ckpt_script, key, val);
    if (!rep)
      return;
    r->saved[p] = r->ckpt[p];
    freeReplyObject(rep);
  }
}
