/*
 * rules.h — the pure decisions of the Brain: which partition a room belongs to, whether
 * an envelope agrees with the headers the Shield stamped, and how a history request reads
 * (subjects and connection ids are read by src/protocol).
 * No I/O here, so every rule is unit-tested on its own (tests/unit/brain).
 */
#ifndef ARQ_BRAIN_RULES_H
#define ARQ_BRAIN_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ids.h"
#include "protocol/payloads.h"

#define ARQ_BRAIN_HISTORY_CAP ARQ_HISTORY_PAGE_MAX

/** The partition of a room: FNV-1a 32 over "tenant/room", modulo `partitions`. Every
 *  Brain must compute the same value, so the function is fixed forever (tests pin it). */
uint32_t arq_brain_partition(const char *tenant, const char *room, uint32_t partitions);

/** What the Shield stamped, compared with what the message claims. NULL when they agree,
 *  or the reason to drop it (a constant string, for the audit record). */
const char *arq_brain_check_stamp(const char *subject_tenant, const char *hdr_tenant,
                                  const char *hdr_sender, const char *env_tenant,
                                  const char *env_sender);

/** A room's order as the sequencer keeps it: the seq and the ingress stream sequence of
 *  the room's last numbered message. */
typedef struct {
  uint64_t seq, in;
} arq_room_order_t;

/** The order to continue from, given what Redis holds for the room: its seq and in, and
 *  `pub` when `has_pub` (the earlier design's "known published" mark). A room whose last
 *  message was numbered but not known published (pub < in) continues from the message
 *  before, so that message is numbered again with the same seq. */
arq_room_order_t arq_room_order_resume(uint64_t seq, uint64_t in, bool has_pub, uint64_t pub);

/** Numbers the room's message at ingress sequence in_seq: true with *seq its number (the
 *  order moves on), or false when that message was numbered before (a replay: in_seq at or
 *  below the last numbered one; the order stays). */
bool arq_room_order_next(arq_room_order_t *o, uint64_t in_seq, uint64_t *seq);

/** Whether a room event may be numbered, beyond the stamp: the envelope's room_id, when
 *  set, is the subject's room, and its payload is an event. NULL, or the reason to drop. */
const char *arq_brain_check_room_event(const char *subject_room, const char *env_room,
                                       bool is_event);

typedef struct {
  uint64_t since_seq;
  uint32_t limit; /* 1 .. ARQ_BRAIN_HISTORY_CAP */
} arq_brain_history_args_t;

/** Reads cmd.data of a history command: JSON {"since_seq":N,"limit":M}, both optional
 *  (0 and the cap); an empty body means the defaults. A limit above the cap is lowered to
 *  it. Returns 0, or -1 with a reason in err for anything else. */
int arq_brain_history_args(const uint8_t *data, size_t len, arq_brain_history_args_t *out,
                           char *err, size_t errcap);

#endif
