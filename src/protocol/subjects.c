#include "protocol/subjects.h"

#include <stdio.h>
#include <string.h>

int arq_subject_ingress(char *out, size_t cap, const char *tenant, const char *room) {
  return snprintf(out, cap, "in.t.%s.r.%s", tenant, room);
}

int arq_subject_room(char *out, size_t cap, const char *tenant, const char *room) {
  return snprintf(out, cap, "out.t.%s.r.%s", tenant, room);
}

int arq_subject_brain(char *out, size_t cap, const char *tenant, const char *command) {
  return snprintf(out, cap, "sys.brain.%s.%s", tenant, command);
}

int arq_subject_heartbeat(char *out, size_t cap, const char *node) {
  return snprintf(out, cap, "sys.shield.%s.hb", node);
}

int arq_subject_audit(char *out, size_t cap, const char *tenant) {
  return snprintf(out, cap, "sys.audit.%s", tenant);
}

int arq_subject_user(char *out, size_t cap, const char *tenant, const char *user) {
  return snprintf(out, cap, "out.t.%s.u.%s", tenant, user);
}

int arq_subject_disconnect(char *out, size_t cap, const char *tenant, const char *user) {
  return snprintf(out, cap, "sys.shield.disconnect.%s.%s", tenant, user);
}

int arq_subject_canary_report(char *out, size_t cap, const char *key) {
  return snprintf(out, cap, "sys.shield.canary.report.%s", key);
}

int arq_subject_shadow(char *out, size_t cap, const char *subject) {
  return snprintf(out, cap, "shadow.%s", subject);
}

int arq_subject_node_conns(char *out, size_t cap, const char *node) {
  return snprintf(out, cap, "out.t.*.c.%s.*", node);
}

/* Copies the token at s, up to `stop` ('\0': the end), when it is a valid id; returns
 * where the token ends, or NULL. */
static const char *take_id(const char *s, char stop, char *out) {
  const char *end = stop ? strchr(s, stop) : s + strlen(s);
  if (!end)
    return NULL;
  size_t n = (size_t)(end - s);
  if (!arq_id_valid(s, n))
    return NULL;
  if (out) {
    memcpy(out, s, n);
    out[n] = '\0';
  }
  return end;
}

static const char *after(const char *s, const char *prefix) {
  size_t n = strlen(prefix);
  return strncmp(s, prefix, n) ? NULL : s + n;
}

bool arq_subject_parse_ingress(const char *subject, char *tenant, char *room) {
  const char *p = after(subject, "in.t.");
  if (!p || !(p = take_id(p, '.', tenant)) || !(p = after(p, ".r.")))
    return false;
  return take_id(p, '\0', room) != NULL;
}

bool arq_subject_parse_brain(const char *subject, char *tenant, char *command) {
  const char *p = after(subject, "sys.brain.");
  if (!p || !(p = take_id(p, '.', tenant)))
    return false;
  return take_id(p + 1, '\0', command) != NULL;
}

bool arq_subject_parse_heartbeat(const char *subject, char *node) {
  const char *p = after(subject, "sys.shield.");
  if (!p || !(p = take_id(p, '.', node)))
    return false;
  return !strcmp(p, ".hb");
}

bool arq_subject_parse_disconnect(const char *subject, char *tenant, char *user) {
  const char *p = after(subject, "sys.shield.disconnect.");
  if (!p || !(p = take_id(p, '.', tenant)))
    return false;
  return take_id(p + 1, '\0', user) != NULL;
}

bool arq_subject_parse_canary_report(const char *subject, char *key) {
  const char *p = after(subject, "sys.shield.canary.report.");
  return p && take_id(p, '\0', key) != NULL;
}

bool arq_subject_parse_egress(const char *subject, arq_egress_kind_t *kind, char *tenant,
                              char *node, char *name) {
  const char *p = after(subject, "out.t.");
  if (!p || !(p = take_id(p, '.', tenant)))
    return false;
  const char *rest;
  if ((rest = after(p, ".r."))) {
    *kind = ARQ_EGRESS_ROOM;
  } else if ((rest = after(p, ".u."))) {
    *kind = ARQ_EGRESS_USER;
  } else if ((rest = after(p, ".c."))) {
    *kind = ARQ_EGRESS_CONN;
    if (!(rest = take_id(rest, '.', node)))
      return false;
    rest++;
  } else {
    return false;
  }
  return take_id(rest, '\0', name) != NULL;
}
