/*
 * audit.c — audit records of refusals (see audit.h).
 */
#include "shield/audit.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/trace.h"
#include "protocol/subjects.h"
#include "shield/nats_link.h"

static void field(arq_buf_t *b, const char *name, const char *value) {
  arq_buf_printf(b, ",\"%s\":\"", name);
  arq_buf_json_escape(b, value ? value : "", value ? strlen(value) : 0);
  arq_buf_putc(b, '"');
}

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
  arq_buf_printf(b, "{\"ts\":%lld,\"component\":\"shield\"", (long long)arq_wall_ms());
  field(b, "node", s->node_id);
  field(b, "action", action);
  arq_buf_printf(b, ",\"code\":%d", code);
  field(b, "reason", reason);
  field(b, "subject", subject);
  field(b, "tenant", c->id.tenant);
  field(b, "sender", c->id.sub);
  field(b, "conn", c->conn_id);
  field(b, "peer", c->peer);
  field(b, "trace_id", trace);
  arq_buf_putc(b, '}');
  char audit_subject[ARQ_SUBJECT_CAP];
  arq_subject_audit(audit_subject, sizeof audit_subject, c->id.tenant);
  arq_link_headers_t h = {trace, c->id.tenant, c->id.sub, c->conn_id, false, NULL, 0};
  if (arq_link_publish(s->link, audit_subject, NULL, b->data, b->len, &h) != ARQ_LINK_PUBLISHED)
    arq_counter_inc(s->m.audit_failures);
}
