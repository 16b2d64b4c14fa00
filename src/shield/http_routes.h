/*
 * http_routes.h — the HTTP phase of a connection (http_routes.c): routes and answers.
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_HTTP_ROUTES_H
#define ARQ_SHIELD_HTTP_ROUTES_H

#include "shield/shield.h"

/** The API a request is for: /admin/ (the admin API) and /api/ (the server API) on the
 *  admin listener, or on the client port when there is none; NONE for anything else. */
typedef enum { ARQ_HTTP_API_NONE, ARQ_HTTP_API_ADMIN, ARQ_HTTP_API_SERVER } arq_http_api_t;
arq_http_api_t arq_http_api_of(const arq_conn_t *c, const arq_http_request_t *r);

/** Handles one complete request head; returns 0, or -1 when the connection was closed. */
int arq_http_handle(arq_conn_t *c, const arq_http_request_t *req, const uint8_t *body,
                    size_t body_len);
void arq_http_reply(arq_conn_t *c, int status, const char *content_type, const char *body,
                    size_t len, bool keep_alive, const char *extra_headers);
void arq_http_reply_error(arq_conn_t *c, int status, const char *error, const char *details);
/** The credentials of an `Authorization: <scheme> <credentials>` header (scheme compared
 *  case-insensitively) into out ("" when longer than cap). False without such a header. */
bool arq_http_credentials(const arq_http_request_t *r, const char *scheme, char *out, size_t cap);
/** The token of an `Authorization: Bearer` header into out ("" when longer than cap).
 *  False when the request has no such header. */
bool arq_http_bearer(const arq_http_request_t *r, char *out, size_t cap);

#endif
