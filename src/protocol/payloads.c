#include "protocol/payloads.h"

#include <string.h>

#include "common/json.h"

#define ERROR_REASON_MAX 512

bool arq_event_type_reserved(const char *type) {
  static const char *const reserved[] = {"ack", "error", "welcome", "pong", "history"};
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
    if (!strcmp(type, reserved[i]))
      return true;
  return !strncmp(type, "presence.", 9);
}

void arq_payload_error(arq_buf_t *b, int code, const char *reason) {
  size_t len = strlen(reason);
  if (len > ERROR_REASON_MAX) {
    len = ERROR_REASON_MAX;
    while (len && ((unsigned char)reason[len] & 0xc0) == 0x80)
      len--; /* not in the middle of a character */
  }
  arq_buf_puts(b, "{\"code\":");
  arq_json_write_int64(b, code);
  arq_buf_puts(b, ",\"reason\":");
  arq_json_write_string(b, reason, len);
  arq_buf_putc(b, '}');
}

static void member_string(arq_json_writer_t *w, const char *key, const char *value) {
  arq_json_w_key(w, key, strlen(key));
  arq_json_w_string(w, value, strlen(value));
}

void arq_payload_http_error(arq_buf_t *b, const char *error, const char *details) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, b);
  arq_json_w_object_begin(&w);
  member_string(&w, "error", error);
  member_string(&w, "details", details);
  arq_json_w_object_end(&w);
}

void arq_payload_welcome(arq_buf_t *b, const arq_welcome_t *in) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, b);
  arq_json_w_object_begin(&w);
  member_string(&w, "conn_id", in->conn_id);
  member_string(&w, "node", in->node);
  member_string(&w, "tenant_id", in->tenant);
  member_string(&w, "user", in->user);
  member_string(&w, "version", in->version);
  arq_json_w_key(&w, "limits", 6);
  arq_json_w_raw(&w, in->limits_json, strlen(in->limits_json));
  arq_json_w_object_end(&w);
}

void arq_payload_audit(arq_buf_t *b, int64_t ts_ms, const char *component, int code,
                       const char *const pairs[][2], size_t npairs) {
  arq_payload_audit_headers(b, ts_ms, component, code, pairs, npairs, NULL, 0);
}

void arq_payload_audit_headers(arq_buf_t *b, int64_t ts_ms, const char *component, int code,
                               const char *const pairs[][2], size_t npairs,
                               const char *const headers[][2], size_t nheaders) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, b);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "ts", 2);
  arq_json_w_int64(&w, ts_ms);
  member_string(&w, "component", component);
  if (code >= 0) {
    arq_json_w_key(&w, "code", 4);
    arq_json_w_int64(&w, code);
  }
  for (size_t i = 0; i < npairs; i++)
    if (pairs[i][1])
      member_string(&w, pairs[i][0], pairs[i][1]);
  if (headers) {
    arq_json_w_key(&w, "headers", 7);
    arq_json_w_object_begin(&w);
    for (size_t i = 0; i < nheaders; i++)
      member_string(&w, headers[i][0], headers[i][1]);
    arq_json_w_object_end(&w);
  }
  arq_json_w_object_end(&w);
}

void arq_payload_heartbeat(arq_buf_t *b, const char *node, const char *instance,
                           int64_t connections, int64_t ts_ms) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, b);
  arq_json_w_object_begin(&w);
  member_string(&w, "node", node);
  member_string(&w, "instance", instance);
  arq_json_w_key(&w, "connections", 11);
  arq_json_w_int64(&w, connections);
  arq_json_w_key(&w, "ts", 2);
  arq_json_w_int64(&w, ts_ms);
  arq_json_w_object_end(&w);
}
