/*
 * streams.h — the JetStream streams of the product: their names and settings, in one place
 * for whoever creates them. The Brain creates all of them and brings existing ones to its
 * configuration; a Shield creates ARQON_INGRESS when it is missing (confirm.h of the
 * Shield: a room event is acknowledged once that stream stored it), so that events sent
 * before any Brain started wait there for it.
 */
#ifndef ARQ_SPINE_STREAMS_H
#define ARQ_SPINE_STREAMS_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

#define ARQ_STREAM_INGRESS "ARQON_INGRESS" /* room events as the Shields published them */
#define ARQ_STREAM_NOTICES "ARQON_NOTICES" /* join and leave notices */
#define ARQ_STREAM_ROOMS "ARQON_ROOMS"     /* sequenced room broadcasts: the history */
#define ARQ_STREAM_AUDIT "ARQON_AUDIT"

typedef enum { ARQ_STREAM_ID_INGRESS, ARQ_STREAM_ID_NOTICES, ARQ_STREAM_ID_ROOMS, ARQ_STREAM_ID_AUDIT, ARQ_STREAM_IDS } arq_stream_id_t;

/** Fills `sc` (initialised here) with the settings of stream `id` under `cfg`; the
 *  strings it points to are constants. */
void arq_stream_config(const arq_config_t *cfg, arq_stream_id_t id, jsStreamConfig *sc);

/** Creates the stream when it does not exist; an existing stream is left as it is.
 *  NATS_OK (with *created saying which), or a status and a message in err. */
natsStatus arq_stream_create_if_absent(jsCtx *js, const jsStreamConfig *sc, bool *created, char *err,
                                       size_t errcap);

#endif
