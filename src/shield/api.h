/*
 * api.h — the server API: what an application's backend asks of the bus over HTTP
 * (docs/server-api.md). POST, JSON, under /api/ on the admin listener (the client port
 * when admin_listen is not set), authenticated with `Authorization: apikey <key>`
 * (api_keys.h):
 *
 *   /api/publish     {tenant, room, type, data, headers?}  sequenced like a client's
 *                    message; answered once the ingress stream acknowledged it
 *   /api/broadcast   {tenant, rooms, type, data, headers?}  the same, room by room
 *   /api/send_user   {tenant, user, type, data, headers?}  every connection of the user
 *   /api/disconnect  {tenant, user, reason?}   closes them with 4000 on every Shield
 *   /api/presence    {tenant, room}            the Brain's member list
 *   /api/history     {tenant, room, since_seq?, limit?}    the Brain's history page
 *   /api/rooms       {tenant}                  rooms with members (the Brain)
 *   /api/info        {}                        Brains and Shields alive (every Brain answers)
 *
 * Every request is checked whole (ids by the clients' rules, types, sizes, the key's
 * tenant) before anything is sent, so a refused request has done nothing. What the API
 * sends carries sender "api", a fresh trace id, and the stamped headers with
 * x-arqon-origin: api; every write is audited on sys.audit.<tenant>.
 *
 * DESIGN
 *   Parsing and checks run on the worker; the NATS work (JetStream publishes awaiting
 *   their acknowledgement, requests to the Brain, the disconnect round) runs on the API's
 *   job thread with a NATS connection of its own (http_jobs.h), bounded by
 *   [api] max_queued. Keys are swapped whole under a lock on SIGHUP.
 */
#ifndef ARQ_SHIELD_API_H
#define ARQ_SHIELD_API_H

#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

typedef struct arq_api arq_api_t;
typedef struct arq_shield arq_shield_t;
typedef struct arq_conn arq_conn_t;

/** Loads [api] keys_file (when set) and starts the job thread. NULL with the reason in
 *  err when the keys file cannot be used. */
arq_api_t *arq_api_start(arq_shield_t *s, char *err, size_t errcap);
void arq_api_stop(arq_api_t *a);
/** Reads the keys file again (SIGHUP); on a problem the keys in force stay, and the log
 *  says why. */
void arq_api_reload_keys(arq_api_t *a);

/** Whether the request's key is valid, from the head alone, so that a refused request's
 *  body is never read: 0, or 401 with the reason in `why`. */
int arq_api_authorize_head(arq_api_t *a, const arq_http_request_t *r, const char **why);
/** Serves one /api/ request (on the connection's worker). */
void arq_api_handle(arq_conn_t *c, const arq_http_request_t *r, const uint8_t *body, size_t len);

#endif
