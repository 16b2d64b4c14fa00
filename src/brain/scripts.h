/*
 * scripts.h — the Lua scripts the sequencer runs in Redis (see sequencer.c). Kept apart
 * so that a unit test can run them against a real redis-server (tests/unit/brain).
 */
#ifndef ARQ_BRAIN_SCRIPTS_H
#define ARQ_BRAIN_SCRIPTS_H

/**
 * Assigns a room seq to one ingress message, atomically.
 *   KEYS: room seq counter, room last ingress seq, partition fence, room last published
 *         ingress seq.
 *   ARGV: the message's ingress stream sequence, the caller's lease token.
 * Returns {code, seq}: 0 a new seq; 1 the message already has `seq` and is not known to be
 * published (publish it again); 2 already handled (skip); -1 the token is older than the
 * newest one seen for the partition (the caller lost its lease).
 */
extern const char arq_brain_assign_script[];

/** Raises a checkpoint (KEYS[1]) to ARGV[1]; never lowers it. */
extern const char arq_brain_ckpt_script[];

#endif
