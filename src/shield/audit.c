/*
 * audit.c — audit records of refusals (see audit.h).
 */
#include "shield/audit.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/trace.h"
#include "protocol/payloads.h"
#include "protocol/subjects.h"
#include "shield/nats_link.h"

/* The record of `action` with the members every Shield record has, then `extra` and, when
 * `headers` is not NULL, the headers object. */
static void publish(arq_conn_t *c, const char *action, int code, const char *reason, const char *subject,
                    const char *trace_id, const char *const extra[][2], size_t nextra,
                    const char *const headers[][2], size_t nheaders) {
  arq_shield_t *s = c->w->shield;
  char trace[33];
  if (trace_id && arq_trace_id_valid(trace_id)) {
    memcpy(trace, trace_id, sizeof trace);
  } else {
    arq_trace_id_new(trace);
  }
  arq_buf_t *b = &c->w->audit;
  arq_buf_reset(b);
  const char *fields[9 + ARQ_AUDIT_MAX_EXTRA][2] = {
      {"node", s->node_id}, {"action", action}, {"reason", reason ? reason : ""},
      {"subject", subject ? subject : ""}, {"tenant", c->id.tenant}, {"sender", c->id.sub},
      {"conn", c->conn_id}, {"peer", c->peer}, {"trace_id", trace}};
  size_t n = 9;
  for (size_t i = 0; i < nextra && i < ARQ_AUDIT_MAX_EXTRA; i++, n++) {
    fields[n][0] = extra[i][0];
    fields[n][1] = extra[i][1];
  }
  arq_payload_audit_headers(b, arq_wall_ms(), "shield", code, (const char *const(*)[2])fields, n, headers,
                            nheaders);
  char audit_subject[ARQ_SUBJECT_CAP];
  arq_subject_audit(audit_subject, sizeof audit_subject, c->id.tenant);
  arq_link_headers_t h = {trace, c->id.tenant, c->id.sub, c->conn_id, false, NULL, 0};
  if (arq_link_publish(s->link, audit_subject, NULL, b->data, b->len, &h) != ARQ_LINK_PUBLISHED)
    arq_counter_inc(s->m.audit_failures);
}

void arq_audit(arq_conn_t *c, const char *action, int code, const char *reason,
               const char *subject, const char *trace_id) {
  publish(c, action, code, reason, subject, trace_id, NULL, 0, NULL, 0);
}

void arq_audit_with(arq_conn_t *c, const char *action, const char *reason, const char *subject,
                    const char *trace_id, const char *const extra[][2], size_t nextra,
                    const char *const headers[][2], size_t nheaders) {
  publish(c, action, -1, reason, subject, trace_id, extra, nextra, headers, nheaders);
}
