/*
 * audit.h — the Shield's audit trail (SPEC §4: sys.audit.<tenant>, captured by the
 * ARQON_AUDIT stream the Brain creates).
 *
 * One JSON record per refusal that matters to a tenant's security review: a policy or
 * permission denial, a schema violation, a message too large for the spine, a connection
 * closed for abuse or by a policy; and, refusing nothing, the disagreements of a candidate
 * policy with the active one (rate-bounded by the canary, overseer_canary.c). Not for rate-limited messages (their count is in
 * shield_rate_limited_total; auditing each would let a flood double itself) nor for
 * outages (503). A record that cannot be published is counted
 * (shield_audit_failures_total), never retried: the client's answer does not wait on it.
 */
#ifndef ARQ_SHIELD_AUDIT_H
#define ARQ_SHIELD_AUDIT_H

#include "shield/shield.h"

/** Publishes {"ts","component":"shield","node","action","code","reason","subject",
 *  "tenant","sender","conn","peer","trace_id"} on sys.audit.<tenant> with the SPEC
 *  headers. `subject` and `trace_id` may be NULL or empty (a new trace id is made then).
 *  Worker thread only: it formats into the worker's own buffer. */
void arq_audit(arq_conn_t *c, const char *action, int code, const char *reason,
               const char *subject, const char *trace_id);

/* More members than arq_audit_with() adds to a record are left out. */
#define ARQ_AUDIT_MAX_EXTRA 8

/** A record without a code, with the members above, then the (key, value) pairs of `extra`
 *  (a NULL value leaves its key out) and, unless `headers` is NULL, "headers": an object of
 *  its (name, value) pairs. For records about something other than a refusal: a policy
 *  canary's disagreement (docs/policies.md). Worker thread only. */
void arq_audit_with(arq_conn_t *c, const char *action, const char *reason, const char *subject,
                    const char *trace_id, const char *const extra[][2], size_t nextra,
                    const char *const headers[][2], size_t nheaders);

#endif
