#include "brain/rules.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"

uint32_t arq_brain_partition(const char *tenant, const char *room, uint32_t partitions) {
  uint32_t h = 2166136261u;
  for (const char *p = tenant; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  h = (h ^ (uint8_t)'/') * 16777619u;
  for (const char *p = room; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return partitions ? h % partitions : 0;
}

static bool same(const char *a, const char *b) { return a && b && !strcmp(a, b); }

const char *arq_brain_check_stamp(const char *subject_tenant, const char *hdr_tenant,
                                  const char *hdr_sender, const char *env_tenant,
                                  const char *env_sender) {
  if (!hdr_tenant || !hdr_sender)
    return "missing x-arqon-tenant or x-arqon-sender header";
  if (!same(hdr_tenant, subject_tenant))
    return "x-arqon-tenant differs from the subject's tenant";
  if (!same(env_tenant, subject_tenant))
    return "envelope tenant_id differs from the subject's tenant";
  if (!same(env_sender, hdr_sender))
    return "envelope sender differs from x-arqon-sender";
  if (!*hdr_sender)
    return "empty sender";
  return NULL;
}

arq_room_order_t arq_room_order_resume(uint64_t seq, uint64_t in, bool has_pub, uint64_t pub) {
  arq_room_order_t o = {.seq = seq, .in = in};
  if (has_pub && pub < in && seq > 0) {
    o.seq--;
    o.in = pub;
  }
  return o;
}

bool arq_room_order_next(arq_room_order_t *o, uint64_t in_seq, uint64_t *seq) {
  if (in_seq <= o->in)
    return false;
  o->seq++;
  o->in = in_seq;
  *seq = o->seq;
  return true;
}

const char *arq_brain_check_room_event(const char *subject_room, const char *env_room,
                                       bool is_event) {
  if (env_room && *env_room && strcmp(env_room, subject_room))
    return "envelope room_id differs from the subject's room";
  if (!is_event)
    return "a room message must be an event";
  return NULL;
}

static int read_uint(const arq_json_value_t *obj, const char *key, uint64_t *out, char *err,
                     size_t errcap) {
  const arq_json_value_t *v = arq_json_object_get(obj, key, strlen(key));
  if (!v)
    return 1;
  if (arq_json_type(v) != ARQ_JSON_NUMBER || arq_json_uint64(v, out)) {
    snprintf(err, errcap, "%s must be a non-negative integer", key);
    return -1;
  }
  return 0;
}

int arq_brain_history_args(const uint8_t *data, size_t len, arq_brain_history_args_t *out,
                           char *err, size_t errcap) {
  out->since_seq = 0;
  out->limit = ARQ_BRAIN_HISTORY_CAP;
  if (len == 0)
    return 0;
  arq_json_limits_t limits = {0};
  limits.max_bytes = 4096;
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, &limits);
  int rc = -1;
  arq_json_error_t jerr;
  const arq_json_value_t *root = arq_json_parse(&doc, (const char *)data, len, &jerr);
  uint64_t limit = ARQ_BRAIN_HISTORY_CAP;
  if (!root) {
    char why[128];
    arq_json_error_format(&jerr, why, sizeof why);
    snprintf(err, errcap, "history data is not JSON: %s", why);
  } else if (arq_json_type(root) != ARQ_JSON_OBJECT) {
    snprintf(err, errcap, "history data must be a JSON object");
  } else if (read_uint(root, "since_seq", &out->since_seq, err, errcap) >= 0 &&
             read_uint(root, "limit", &limit, err, errcap) >= 0) {
    if (limit == 0) {
      snprintf(err, errcap, "limit must be at least 1");
    } else {
      out->limit = limit > ARQ_BRAIN_HISTORY_CAP ? ARQ_BRAIN_HISTORY_CAP : (uint32_t)limit;
      rc = 0;
    }
  }
  arq_json_doc_free(&doc);
  return rc;
}
