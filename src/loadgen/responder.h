/*
 * responder.h — stands in for the Brain during `arq bench`: a nats.c connection that
 * takes every client event the Shield publishes on in.t.<tenant>.r.<room> and republishes
 * the same bytes on out.t.<tenant>.r.<room>, so that they come back to the room's members.
 * It runs on nats.c's own threads, apart from the load generator's loop.
 */
#ifndef ARQ_LOADGEN_RESPONDER_H
#define ARQ_LOADGEN_RESPONDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct arq_responder arq_responder_t;

/** Connects to url and subscribes in.t.<tenant>.r.> (flushed: the server has the
 *  subscription when this returns). NULL with a message in err. */
arq_responder_t *arq_responder_start(const char *url, const char *tenant, char *err, size_t errcap);
/** Messages republished so far. */
uint64_t arq_responder_forwarded(const arq_responder_t *r);
void arq_responder_stop(arq_responder_t *r);

#endif
