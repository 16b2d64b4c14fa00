/*
 * scripts.h — the Lua scripts the Brain runs in Redis (see sequencer.c). Kept apart so
 * that a unit test can run them against a real redis-server (tests/unit/brain).
 */
#ifndef ARQ_BRAIN_SCRIPTS_H
#define ARQ_BRAIN_SCRIPTS_H

/**
 * Commits one sequenced batch, atomically: per partition, the fencing check, its
 * checkpoint and the state of its rooms the batch touched.
 *   ARGV[1] = number of partitions; then per partition: lease token, checkpoint, number
 *   of rooms n, then n pairs (room seq, ingress sequence of that seq's message).
 *   KEYS per partition, in the same order: its fence key, its checkpoint key, then per
 *   room: the seq key, the ingress key, the legacy "published" key (deleted).
 * A partition whose token is older than the newest one seen is left untouched. Otherwise
 * the newest token is recorded, the checkpoint raised, and each room's (seq, ingress) pair
 * written when its ingress sequence is higher than the stored one (a stale writer never
 * moves a room back). Returns the 0-based indexes of the partitions refused.
 */
extern const char arq_brain_commit_script[];

/** Raises a checkpoint (KEYS[1]) to ARGV[1]; never lowers it. */
extern const char arq_brain_ckpt_script[];

/** The SHA-1 of a script in lower-case hex, as Redis names it for EVALSHA. */
void arq_brain_script_sha1(const char *script, char hex[41]);

#endif
