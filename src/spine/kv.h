/*
 * kv.h — NATS helpers shared by the Shield, the Brain and `arq`: a plain connection from
 * the [nats] config section, and opening (or creating) a JetStream KeyValue bucket.
 */
#ifndef ARQ_SPINE_KV_H
#define ARQ_SPINE_KV_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/** Options for nats.url, nats.user and the password (env, config or file), named `name`;
 *  the caller adds what is particular to it and destroys them. NATS_OK, or a status with a
 *  message in err. */
natsStatus arq_nats_options(const arq_config_t *cfg, const char *name, natsOptions **opts,
                            char *err, size_t errcap);

/** Connects with arq_nats_options() and a timeout. Returns NATS_OK, or a status with a
 *  message in err. */
/** Where the config says NATS is, for messages: the url, or the servers joined by ",". */
const char *arq_nats_where(const arq_config_t *cfg, char *buf, size_t cap);

natsStatus arq_nats_connect(const arq_config_t *cfg, const char *name, int timeout_ms,
                            natsConnection **nc, char *err, size_t errcap);

/** Binds to bucket `name`, creating it (history 1, file storage, `replicas` replicas) when
 *  absent and `create` is set. An existing bucket with another number of replicas is an
 *  error that says so ([nats] stream_replicas and the bucket disagree). On success *js and
 *  *kv are the caller's to destroy (kvStore_Destroy first). */
natsStatus arq_kv_open(natsConnection *nc, const char *name, bool create, int64_t replicas, jsCtx **js,
                       kvStore **kv, char *err, size_t errcap);

#endif
