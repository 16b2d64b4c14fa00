/*
 * retired.h — subscriptions destroyed a while after they are unsubscribed.
 *
 * DESIGN
 *   nats.c 3.4's reader thread looks a subscription up in its table and only then locks
 *   it. A subscription destroyed right after natsSubscription_Unsubscribe can therefore be
 *   locked after it was freed, when a message for it (a late reply, a broadcast, a pull
 *   delivery) is being read at that moment: ASan showed it for the Brain's pull consumer.
 *   Retired subscriptions are unsubscribed at once and destroyed at least RETIRED_KEEP_MS
 *   later (by a later retirement, or by arq_sub_retired_flush once the connections are
 *   closed), long after any such lookup.
 */
#ifndef ARQ_SPINE_RETIRED_H
#define ARQ_SPINE_RETIRED_H

#include <nats/nats.h>

/** Unsubscribes `sub` now and destroys it later (NULL is ignored). Any thread. */
void arq_sub_retire(natsSubscription *sub);
/** Destroys every retired subscription. Call once the connections are closed. */
void arq_sub_retired_flush(void);

#endif
