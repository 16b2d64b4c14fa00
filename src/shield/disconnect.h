/*
 * disconnect.h — closing every connection of a user on this node, on request of the
 * server API (`/api/disconnect`, published to sys.shield.disconnect.<tenant>.<user>).
 */
#ifndef ARQ_SHIELD_DISCONNECT_H
#define ARQ_SHIELD_DISCONNECT_H

#include <stddef.h>

typedef struct arq_shield arq_shield_t;

/** Closes each connection of tenant/user on every worker with close code 4000 and the
 *  reason (the message's bytes, cut to what a close frame holds on a character
 *  boundary); when `reply` is not NULL, answers it {"node":...,"closed":N} once every
 *  worker has. Called on a nats.c thread. */
void arq_disconnect_user(arq_shield_t *s, const char *tenant, const char *user, const void *reason,
                         size_t reason_len, const char *reply);

#endif
