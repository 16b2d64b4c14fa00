/*
 * reader.h — one pull consumer on a stream for all the partitions a Brain owns, with a
 * checkpoint per partition.
 *
 * DESIGN
 *   A Brain reads the ingress stream once, whatever number of partitions it holds (the
 *   earlier design ran one consumer per partition, each reading everything). Partition p's
 *   checkpoint is the stream sequence up to which every message of p is done; the consumer
 *   starts after the lowest checkpoint of the partitions owned, and a message of p at or
 *   below p's checkpoint is passed over. Taking a partition whose checkpoint lies behind the
 *   consumer restarts the consumer there; dropping one only stops its messages.
 *   Two readers exist: room events (ARQON_INGRESS, the sequencer's thread, checkpoints
 *   `ckpt`) and join / leave notices (ARQON_NOTICES, the control thread, checkpoints
 *   `nckpt`), so that a backlog of data never holds presence back.
 */
#ifndef ARQ_BRAIN_READER_H
#define ARQ_BRAIN_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "brain/pull.h"

struct arq_store;

typedef struct {
  arq_pull_t *pull;
  const char *ckpt_name; /* Redis key arq:brain:part:<p>:<ckpt_name>; absent: from the start */
  uint32_t partitions;
  uint64_t *ckpt;  /* [partitions]: done up to here (valid while active) */
  uint64_t *saved; /* [partitions]: what Redis holds */
  bool *active;    /* [partitions]: owned and read by this reader */
  bool restart;    /* restart the consumer at the next sync */
  uint64_t reconnects; /* the NATS reconnections seen: each one restarts the consumer */
} arq_reader_t;

void arq_reader_init(arq_reader_t *r, arq_pull_t *pull, uint32_t partitions, const char *ckpt_name);
void arq_reader_free(arq_reader_t *r);
/** Whether the consumer must start again: NATS reconnected (`reconnects`, the count so far,
 *  moved), the consumer is broken or not running, or `restart` was set. Sets `restart`. */
bool arq_reader_must_restart(arq_reader_t *r, uint64_t reconnects);
/** Brings the reader in line with `owned` ([partitions]): loads the checkpoints of newly
 *  owned partitions and restarts the consumer after the lowest one (also when it is
 *  broken or `restart` is set); stops reading partitions no longer owned. 0 when it may
 *  read; -1 when it cannot now (nothing owned, Redis or NATS unavailable). */
int arq_reader_sync(arq_reader_t *r, const bool *owned, struct arq_store *store);
/** Whether the message of partition p at stream sequence in_seq is still to be handled. */
static inline bool arq_reader_wants(const arq_reader_t *r, uint32_t p, uint64_t in_seq) {
  return r->active[p] && in_seq > r->ckpt[p];
}
/** Everything up to in_seq is handled, for every active partition. */
void arq_reader_advance(arq_reader_t *r, uint64_t in_seq);
/** Writes the checkpoints that moved (never lowering one). */
void arq_reader_save(arq_reader_t *r, struct arq_store *store);

#endif
