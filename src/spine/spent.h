/*
 * spent.h — destroys NATS messages in groups.
 *
 * DESIGN
 *   nats.c frees every message on a collector thread of its own: natsMsg_Destroy appends
 *   the message to the collector's list and wakes the thread when it was idle. On a busy
 *   node the thread is idle between almost every two messages, so each message costs a
 *   wake-up and two context switches (measured: a fifth of the Shield's CPU, 8 000 wake-ups
 *   a second at 10 000 room messages a second). Messages handed here are destroyed
 *   SPENT_GROUP at a time, by whichever thread completes a group: one wake-up per group.
 *   At most a group's worth of spent messages (a few KiB) waits to be freed.
 */
#ifndef ARQ_SPINE_SPENT_H
#define ARQ_SPINE_SPENT_H

#include <nats/nats.h>

/** Hands over a message that is no longer used (NULL is ignored). Any thread. */
void arq_spent_msg(natsMsg *m);
/** Destroys what is held now. Call before nats_Close, once no more messages arrive. */
void arq_spent_flush(void);

#endif
