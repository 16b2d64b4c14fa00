/*
 * http_routes.c — the HTTP phase of a connection: the small endpoints and the WebSocket
 * upgrade with its checks, in the order that costs least first: method and headers,
 * origin, token, tenant cap. Every refusal is a JSON body {"error":...,"details":...}.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/trace.h"
#include "protocol/headers.h"
#include "protocol/payloads.h"
#include "shield/admin.h"
#include "shield/api.h"
#include "shield/audit.h"
#include "shield/demo_page.h"
#include "shield/nats_link.h"
#include "shield/shield.h"

#define MAX_TOKEN 8192

void arq_http_reply(arq_conn_t *c, int status, const char *content_type, const char *body,
                    size_t len, bool keep_alive, const char *extra_headers) {
  arq_buf_t *out = &c->w->scratch;
  arq_buf_reset(out);
  arq_http_write_response(out, status, content_type, body, len, keep_alive, extra_headers);
  arq_conn_send_bytes(c, out->data, out->len);
  if (!keep_alive)
    arq_conn_close(c, 1000, "");
}

void arq_http_reply_error(arq_conn_t *c, int status, const char *error, const char *details) {
  arq_buf_t body;
  arq_buf_init(&body);
  arq_payload_http_error(&body, error, details);
  const char *extra = status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL;
  arq_http_reply(c, status, "application/json", body.data, body.len, false, extra);
  arq_buf_free(&body);
}

static bool path_is(const arq_http_request_t *r, const char *path) {
  return r->path_len == strlen(path) && !memcmp(r->path, path, r->path_len);
}

static bool method_is(const arq_http_request_t *r, const char *m) {
  return r->method_len == strlen(m) && !memcmp(r->method, m, r->method_len);
}

static void reply_json(arq_conn_t *c, const arq_http_request_t *r, int status, const char *json) {
  arq_http_reply(c, status, "application/json", json, method_is(r, "HEAD") ? 0 : strlen(json),
                 r->keep_alive, NULL);
}

static void serve_metrics(arq_conn_t *c, const arq_http_request_t *r) {
  arq_buf_t body;
  arq_buf_init(&body);
  arq_metrics_write(c->w->shield->metrics, &body);
  arq_http_reply(c, 200, ARQ_METRICS_CONTENT_TYPE, body.data, method_is(r, "HEAD") ? 0 : body.len,
                 r->keep_alive, NULL);
  arq_buf_free(&body);
}

/* The demo page, its assets or the SDK for this path; NULL when none. */
static const arq_demo_asset_t *demo_asset(const arq_http_request_t *r) {
  for (size_t i = 0; i < arq_demo_assets_count; i++)
    if (path_is(r, arq_demo_assets[i].path))
      return &arq_demo_assets[i];
  return NULL;
}

/* Served with its ETag and no-cache: a browser revalidates every time (If-None-Match, answered
 * 304), so a rebuilt binary is never shadowed by an old copy. Every script comes from this
 * origin; the page speaks WebSocket only. */
static void serve_asset(arq_conn_t *c, const arq_http_request_t *r, const arq_demo_asset_t *a) {
  const arq_http_header_t *h = arq_http_header(r, "If-None-Match");
  /* weak comparison (RFC 9110 13.1.2): W/"x" and lists of tags match too */
  bool fresh = h && ((h->value_len == 1 && h->value[0] == '*') ||
                     memmem(h->value, h->value_len, a->etag, strlen(a->etag)));
  char headers[384];
  snprintf(headers, sizeof headers,
           "ETag: %s\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
           "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n", a->etag);
  arq_http_reply(c, fresh ? 304 : 200, a->content_type, (const char *)a->data,
                 fresh || method_is(r, "HEAD") ? 0 : a->len, r->keep_alive, headers);
}

static bool origin_allowed(const arq_config_t *cfg, const arq_http_header_t *origin) {
  if (!origin)
    return true; /* not a browser: Origin is a browser's statement, not an auth factor */
  for (size_t i = 0; i < cfg->shield.allowed_origins.len; i++) {
    const char *o = cfg->shield.allowed_origins.items[i];
    if (!strcmp(o, "*") || (strlen(o) == origin->value_len && !memcmp(o, origin->value, origin->value_len)))
      return true;
  }
  return false;
}

bool arq_http_credentials(const arq_http_request_t *r, const char *scheme, char *out, size_t cap) {
  out[0] = '\0';
  const arq_http_header_t *h = arq_http_header(r, "Authorization");
  size_t sl = strlen(scheme);
  if (!h || h->value_len <= sl + 1 || strncasecmp(h->value, scheme, sl) || h->value[sl] != ' ')
    return false;
  size_t n = h->value_len - sl - 1;
  if (n < cap) {
    memcpy(out, h->value + sl + 1, n);
    out[n] = '\0';
  }
  return true;
}

bool arq_http_bearer(const arq_http_request_t *r, char *out, size_t cap) {
  return arq_http_credentials(r, "Bearer", out, cap);
}

/* The token from `Authorization: Bearer` or `?token=`; "" when neither. */
static void find_token(const arq_http_request_t *r, char *out, size_t cap) {
  if (!arq_http_bearer(r, out, cap) &&
      arq_http_query_param(r->query, r->query_len, "token", out, cap) < 0)
    out[0] = '\0';
}

/* The client address: X-Forwarded-For's last hop, but only from a trusted proxy. */
static void client_address(arq_conn_t *c, const arq_http_request_t *r) {
  const arq_config_t *cfg = c->w->shield->cfg;
  const arq_http_header_t *xff = arq_http_header(r, "X-Forwarded-For");
  if (!xff)
    return;
  bool trusted = false;
  for (size_t i = 0; i < cfg->shield.trusted_proxies.len; i++)
    trusted |= !strcmp(cfg->shield.trusted_proxies.items[i], c->peer);
  if (!trusted)
    return;
  const char *last = xff->value;
  for (size_t i = 0; i < xff->value_len; i++)
    if (xff->value[i] == ',')
      last = xff->value + i + 1;
  while (*last == ' ')
    last++;
  size_t n = (size_t)(xff->value + xff->value_len - last);
  char addr[64];
  unsigned char bin[16];
  if (n && n < sizeof addr) {
    memcpy(addr, last, n);
    addr[n] = '\0';
    if (inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1)
      snprintf(c->peer, sizeof c->peer, "%s", addr);
  }
}

/* Keeps the request's headers (for policies now and when a new policy arrives later) and
 * runs the connect hooks. Refuses with 503 until the policies have been read once. */
static bool policy_allows(arq_conn_t *c, const arq_http_request_t *r) {
  arq_shield_t *s = c->w->shield;
  if (!arq_overseer_ready(s->overseer)) {
    arq_http_reply_error(c, 503, "Service Unavailable", "policies are not loaded yet");
    return false;
  }
  arq_buf_t blob;
  arq_buf_init(&blob);
  /* The client's address (after the trusted-proxy rule) for policies that filter on it. */
  arq_buf_append(&blob, ARQ_HEADER_PEER, sizeof ARQ_HEADER_PEER);
  arq_buf_append(&blob, c->peer, strlen(c->peer) + 1);
  for (size_t i = 0; i < r->nheaders; i++) {
    const arq_http_header_t *h = &r->headers[i];
    if (arq_header_reserved(h->name, h->name_len))
      continue; /* the server's names: a client does not get to say where it comes from */
    arq_buf_append(&blob, r->headers[i].name, r->headers[i].name_len);
    arq_buf_putc(&blob, '\0');
    arq_buf_append(&blob, r->headers[i].value, r->headers[i].value_len);
    arq_buf_putc(&blob, '\0');
  }
  c->http.policy_headers = blob.data;
  c->http.policy_headers_len = blob.len;
  /* The handshake's trace: the client's traceparent when it sends one, else a new one. It
   * decides whether a candidate policy sees this handshake (the canary's sampling key) and
   * ties the handshake's audit records together. */
  char trace[ARQ_TRACE_ID_LEN + 1];
  const arq_http_header_t *tp = arq_http_header(r, ARQ_HEADER_TRACEPARENT);
  char tp_value[64] = "";
  if (tp && tp->value_len < sizeof tp_value) {
    memcpy(tp_value, tp->value, tp->value_len);
    tp_value[tp->value_len] = '\0';
  }
  if (!arq_traceparent_trace_id(tp_value, trace))
    arq_trace_id_new(trace);
  arq_verdict_t v;
  arq_policy_headers_t h = {c->http.policy_headers, c->http.policy_headers_len};
  arq_canary_ctx_t canary = {trace, c};
  arq_overseer_check_connect(c->w, c->id.tenant, c->id.claims_json, h, &canary, &v);
  if (!v.denied)
    return true;
  ARQ_LOG(ARQ_LOG_INFO, "overseer", "handshake denied by policy", {"tenant_id", c->id.tenant},
          {"reason", v.reason}, {"peer", c->peer}, {"trace_id", trace});
  arq_audit(c, "policy_denied_connect", 403, v.reason, NULL, trace);
  arq_http_reply_error(c, 403, "Forbidden", v.reason);
  return false;
}

static int upgrade(arq_conn_t *c, const arq_http_request_t *r) {
  arq_shield_t *s = c->w->shield;
  const char *problem = NULL;
  int status = arq_ws_check_upgrade(r, &problem);
  if (status) {
    arq_http_reply_error(c, status, status == 426 ? "Upgrade Required" : arq_http_status_reason(status),
                         problem ? problem : "not a WebSocket upgrade");
    return -1;
  }
  if (atomic_load(&s->draining)) {
    arq_http_reply_error(c, 503, "Service Unavailable", "shutting down");
    return -1;
  }
  client_address(c, r);
  if (!origin_allowed(s->cfg, arq_http_header(r, "Origin"))) {
    arq_http_reply_error(c, 403, "Forbidden", "origin not allowed");
    return -1;
  }
  char token[MAX_TOKEN];
  find_token(r, token, sizeof token);
  const char *why = NULL;
  if (arq_auth_verify(s->auth, token, (int64_t)time(NULL), &c->id, &why)) {
    arq_counter_inc(s->m.auth_failures);
    ARQ_LOG(ARQ_LOG_INFO, "shield", "authentication failed", {"reason", why}, {"peer", c->peer});
    arq_http_reply_error(c, 401, "Unauthorized", why);
    return -1;
  }
  c->tenant = arq_tenant_acquire(s, c->id.tenant);
  if (!c->tenant) {
    ARQ_LOG(ARQ_LOG_WARN, "shield", "tenant connection cap reached", {"tenant_id", c->id.tenant});
    arq_http_reply_error(c, 429, "Too Many Requests", "tenant connection limit reached");
    return -1;
  }
  if (!arq_schemas_ready(s->schemas)) {
    arq_http_reply_error(c, 503, "Service Unavailable", "schemas are not loaded yet");
    arq_tenant_release(s, c->tenant);
    c->tenant = NULL;
    return -1;
  }
  if (s->overseer && !policy_allows(c, r)) {
    arq_tenant_release(s, c->tenant);
    c->tenant = NULL;
    return -1;
  }
  char encoding[16];
  c->prefers_text = !(arq_http_query_param(r->query, r->query_len, "encoding", encoding,
                                           sizeof encoding) > 0 && !strcmp(encoding, "binary"));
  const arq_http_header_t *key = arq_http_header(r, "Sec-WebSocket-Key");
  char accept[29];
  arq_ws_accept_key(key->value, key->value_len, accept);
  arq_ws_pmd_t pmd = {0};
  if (s->cfg->shield.permessage_deflate)
    arq_ws_pmd_negotiate(r, &pmd);
  char head[384];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n", accept,
                   pmd.accepted ? pmd.response : "");
  arq_conn_send_bytes(c, head, (size_t)n);
  c->deflate = pmd.accepted;
  c->deflate_window_bits = pmd.server_window_bits;
  arq_conn_start_ws(c);
  arq_session_open(c);
  return 0;
}

arq_http_api_t arq_http_api_of(const arq_conn_t *c, const arq_http_request_t *r) {
  if (c->w->shield->cfg->shield.admin_listen && !c->http.admin_port)
    return ARQ_HTTP_API_NONE; /* the APIs are on the admin listener */
  if (r->path_len >= 7 && !memcmp(r->path, "/admin/", 7))
    return ARQ_HTTP_API_ADMIN;
  if (r->path_len >= 5 && !memcmp(r->path, "/api/", 5))
    return ARQ_HTTP_API_SERVER;
  return ARQ_HTTP_API_NONE;
}

int arq_http_handle(arq_conn_t *c, const arq_http_request_t *r, const uint8_t *body,
                    size_t body_len) {
  const arq_config_t *cfg = c->w->shield->cfg;
  bool admin_elsewhere = cfg->shield.admin_listen && !c->http.admin_port;
  arq_http_api_t api = arq_http_api_of(c, r);
  if (api != ARQ_HTTP_API_NONE) {
    if (api == ARQ_HTTP_API_ADMIN)
      arq_admin_handle(c, r, body, body_len);
    else
      arq_api_handle(c, r, body, body_len);
    return c->state == CONN_CLOSED || c->out.close_after_flush ? -1 : 0;
  }
  if (r->content_length > 0) {
    arq_http_reply_error(c, 413, "Payload Too Large", "request bodies are not accepted here");
    return -1;
  }
  if (!c->http.admin_port && path_is(r, cfg->shield.ws_path))
    return upgrade(c, r);
  const arq_demo_asset_t *asset = c->http.admin_port ? NULL : demo_asset(r);
  bool known = asset || path_is(r, "/healthz") || path_is(r, "/readyz") ||
               (path_is(r, "/metrics") && !admin_elsewhere);
  if (!known) {
    arq_http_reply_error(c, 404, "Not Found", "no such endpoint");
    return -1;
  }
  if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
    static const char refusal[] = "{\"error\":\"Method Not Allowed\",\"details\":\"use GET\"}";
    arq_http_reply(c, 405, "application/json", refusal, sizeof refusal - 1, false, "Allow: GET, HEAD\r\n");
    return -1;
  }
  if (asset) {
    serve_asset(c, r, asset);
  } else if (path_is(r, "/healthz")) {
    reply_json(c, r, 200, "{\"status\":\"ok\"}");
  } else if (path_is(r, "/readyz")) {
    if (!arq_link_connected(c->w->shield->link))
      reply_json(c, r, 503, "{\"status\":\"not ready\",\"details\":\"NATS is not connected\"}");
    else if (!arq_overseer_ready(c->w->shield->overseer))
      reply_json(c, r, 503, "{\"status\":\"not ready\",\"details\":\"policies are not loaded yet\"}");
    else if (!arq_schemas_ready(c->w->shield->schemas))
      reply_json(c, r, 503, "{\"status\":\"not ready\",\"details\":\"schemas are not loaded yet\"}");
    else
      reply_json(c, r, 200, "{\"status\":\"ready\"}");
  } else {
    serve_metrics(c, r);
  }
  if (c->state == CONN_CLOSED || c->out.close_after_flush)
    return -1;
  /* keep-alive: the next request gets a fresh timeout */
  arq_timer_start(c->w->loop, &c->timer, (uint64_t)cfg->shield.handshake_timeout_ms);
  return 0;
}
