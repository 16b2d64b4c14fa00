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

void arq_audit(arq_conn_t *c, const char *action, int code, const char *reason,
               const char *subject, const char *trace_id) {
  arq_shield_t *s = c->w->shield;
  char trace[33];
  if (trace_id && arq_trace_id_valid(trace_id)) {
    memcpy(trace, trace_id, sizeof trace);
  } else {
    arq_trace_id_new(trace);
  }
  arq_buf_t *b = &c->w->audit;
  arq_buf_reset(b);
  const char *const fields[][2] = {{"node", s->node_id}, {"action", action}, {"reason", reason ? reason : ""},
                                   {"subject", subject ? subject : ""}, {"tenant", c->id.tenant},
                                   {"sender", c->id.sub}, {"conn", c->conn_id}, {"peer", c->peer},
                                   {"trace_id", trace}};
  arq_payload_audit(b, arq_wall_ms(), "shield", code, fields, sizeof fields / sizeof fields[0]);
  char audit_subject[ARQ_SUBJECT_CAP];
  arq_subject_audit(audit_subject, sizeof audit_subject, c->id.tenant);
  arq_link_headers_t h = {trace, c->id.tenant, c->id.sub, c->conn_id, false, NULL, 0};
  if (arq_link_publish(s->link, audit_subject, NULL, b->data, b->len, &h) != ARQ_LINK_PUBLISHED)
    arq_counter_inc(s->m.audit_failures);
}
