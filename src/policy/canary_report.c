/*
 * canary_report.c — a candidate policy's counts, as the Shields answer them and as the CLI
 * and the admin API add them up (canary_report.h).
 */
#include "policy/canary_report.h"

#include <stdio.h>
#include <string.h>

#include "common/deadline.h"
#include "protocol/subjects.h"

const char *const arq_canary_hook_names[ARQ_CANARY_HOOKS] = {"connect", "message"};
const char *const arq_canary_outcome_names[ARQ_CANARY_OUTCOMES] = {"allow", "deny", "error"};
const char *const arq_canary_cause_names[ARQ_CANARY_CAUSES] = {"trap", "fuel", "time", "unavailable",
                                                               "failed"};

uint64_t arq_canary_disagreements(const arq_canary_counts_t *c) {
  uint64_t n = 0;
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++)
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int k = 0; k < ARQ_CANARY_OUTCOMES; k++)
        if (a != k)
          n += c->verdicts[h][a][k];
  return n;
}

void arq_canary_counts_add(arq_canary_counts_t *sum, const arq_canary_counts_t *c) {
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++)
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int k = 0; k < ARQ_CANARY_OUTCOMES; k++)
        sum->verdicts[h][a][k] += c->verdicts[h][a][k];
  for (int i = 0; i < ARQ_CANARY_CAUSES; i++)
    sum->errors[i] += c->errors[i];
  sum->evaluations += c->evaluations;
  sum->ns_total += c->ns_total;
  if (c->ns_max > sum->ns_max)
    sum->ns_max = c->ns_max;
  sum->audit_published += c->audit_published;
  sum->audit_dropped += c->audit_dropped;
}

static void key(arq_json_writer_t *w, const char *k) { arq_json_w_key(w, k, strlen(k)); }

static void member_u64(arq_json_writer_t *w, const char *k, uint64_t v) {
  key(w, k);
  arq_json_w_uint64(w, v);
}

/* "verdicts":{"connect":{"allow":{"allow":N,...},...},...},"errors":{"trap":N,...} */
static void write_tables(arq_json_writer_t *w, const arq_canary_counts_t *c) {
  key(w, "verdicts");
  arq_json_w_object_begin(w);
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++) {
    key(w, arq_canary_hook_names[h]);
    arq_json_w_object_begin(w);
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++) {
      key(w, arq_canary_outcome_names[a]);
      arq_json_w_object_begin(w);
      for (int k = 0; k < ARQ_CANARY_OUTCOMES; k++)
        member_u64(w, arq_canary_outcome_names[k], c->verdicts[h][a][k]);
      arq_json_w_object_end(w);
    }
    arq_json_w_object_end(w);
  }
  arq_json_w_object_end(w);
  key(w, "errors");
  arq_json_w_object_begin(w);
  for (int i = 0; i < ARQ_CANARY_CAUSES; i++)
    member_u64(w, arq_canary_cause_names[i], c->errors[i]);
  arq_json_w_object_end(w);
}

void arq_canary_answer_write(arq_buf_t *b, const char *node, const char *k, uint64_t revision,
                             int64_t since_ms, const arq_canary_counts_t *c) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, b);
  arq_json_w_object_begin(&w);
  key(&w, "node");
  arq_json_w_string(&w, node, strlen(node));
  key(&w, "key");
  arq_json_w_string(&w, k, strlen(k));
  member_u64(&w, "revision", revision);
  if (revision) {
    key(&w, "since_ms");
    arq_json_w_int64(&w, since_ms);
    member_u64(&w, "evaluations", c->evaluations);
    member_u64(&w, "ns_total", c->ns_total);
    member_u64(&w, "ns_max", c->ns_max);
    member_u64(&w, "audit_published", c->audit_published);
    member_u64(&w, "audit_dropped", c->audit_dropped);
    write_tables(&w, c);
  }
  arq_json_w_object_end(&w);
}

/* The JSON accessors take a value, never NULL: a member that is absent reads as NULL here. */
static const arq_json_value_t *get(const arq_json_value_t *v, const char *k) {
  return v ? arq_json_object_get(v, k, strlen(k)) : NULL;
}

/* A missing number reads as 0; one that is there must be a uint64. */
static int read_u64(const arq_json_value_t *v, const char *k, uint64_t *out) {
  const arq_json_value_t *x = get(v, k);
  *out = 0;
  return x ? arq_json_uint64(x, out) : 0;
}

int arq_canary_answer_read(const arq_json_value_t *v, char node[ARQ_ID_MAX_LEN + 1], uint64_t *revision,
                           int64_t *since_ms, arq_canary_counts_t *c) {
  memset(c, 0, sizeof *c);
  *since_ms = 0;
  size_t len = 0;
  const arq_json_value_t *n = get(v, "node");
  const char *name = n ? arq_json_string(n, &len) : NULL;
  if (!name || !arq_id_valid(name, len) || !get(v, "revision") || read_u64(v, "revision", revision))
    return -1;
  memcpy(node, name, len);
  node[len] = '\0';
  if (!*revision)
    return 0;
  const arq_json_value_t *since = get(v, "since_ms");
  int rc = since ? arq_json_int64(since, since_ms) : 0;
  rc |= read_u64(v, "evaluations", &c->evaluations) | read_u64(v, "ns_total", &c->ns_total) |
        read_u64(v, "ns_max", &c->ns_max) | read_u64(v, "audit_published", &c->audit_published) |
        read_u64(v, "audit_dropped", &c->audit_dropped);
  const arq_json_value_t *verdicts = get(v, "verdicts"), *errors = get(v, "errors");
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++)
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int k = 0; k < ARQ_CANARY_OUTCOMES; k++)
        rc |= read_u64(get(get(verdicts, arq_canary_hook_names[h]), arq_canary_outcome_names[a]),
                       arq_canary_outcome_names[k], &c->verdicts[h][a][k]);
  for (int i = 0; i < ARQ_CANARY_CAUSES; i++)
    rc |= read_u64(errors, arq_canary_cause_names[i], &c->errors[i]);
  return rc ? -1 : 0;
}

void arq_canary_report_add_answer(arq_canary_report_t *r, const arq_json_value_t *v) {
  char node[ARQ_ID_MAX_LEN + 1];
  uint64_t revision;
  int64_t since;
  arq_canary_counts_t c;
  if (arq_canary_answer_read(v, node, &revision, &since, &c))
    return;
  if (r->answered < ARQ_CANARY_LISTED) {
    memcpy(r->shields[r->answered].node, node, sizeof node);
    r->shields[r->answered].revision = revision;
    r->shields[r->answered].since_ms = since;
  }
  r->answered++;
  if (revision && revision == r->candidate_revision) {
    arq_canary_counts_add(&r->sum, &c);
    r->counted++;
  }
}

int arq_canary_report_collect(natsConnection *nc, arq_canary_report_t *r, int64_t collect_ms,
                              char *err, size_t errcap) {
  char subject[ARQ_SUBJECT_CAP];
  arq_subject_canary_report(subject, sizeof subject, r->key);
  natsInbox *inbox = NULL;
  natsSubscription *sub = NULL;
  natsStatus st = natsInbox_Create(&inbox);
  if (st == NATS_OK)
    st = natsConnection_SubscribeSync(&sub, nc, (const char *)inbox);
  if (st == NATS_OK)
    st = natsConnection_PublishRequest(nc, subject, (const char *)inbox, NULL, 0);
  if (st == NATS_OK)
    st = natsConnection_Flush(nc);
  natsInbox_Destroy(inbox);
  if (st != NATS_OK) {
    snprintf(err, errcap, "cannot ask the Shields: %s", natsStatus_GetText(st));
    natsSubscription_Destroy(sub);
    return -1;
  }
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  int64_t deadline = arq_monotonic_ms() + collect_ms;
  for (int64_t left; (left = deadline - arq_monotonic_ms()) > 0;) {
    natsMsg *m = NULL;
    if (natsSubscription_NextMsg(&m, sub, left) != NATS_OK)
      break;
    const arq_json_value_t *v =
        arq_json_parse(&doc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), NULL);
    if (v)
      arq_canary_report_add_answer(r, v);
    natsMsg_Destroy(m);
  }
  arq_json_doc_free(&doc);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return 0;
}

void arq_canary_report_write(arq_buf_t *b, const arq_canary_report_t *r) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, b);
  arq_json_w_object_begin(&w);
  key(&w, "key");
  arq_json_w_string(&w, r->key, strlen(r->key));
  member_u64(&w, "candidate_revision", r->candidate_revision);
  key(&w, "active_revision");
  if (r->active_revision)
    arq_json_w_uint64(&w, r->active_revision);
  else
    arq_json_w_null(&w);
  key(&w, "shields");
  arq_json_w_array_begin(&w);
  for (size_t i = 0; i < r->answered && i < ARQ_CANARY_LISTED; i++) {
    arq_json_w_object_begin(&w);
    key(&w, "node");
    arq_json_w_string(&w, r->shields[i].node, strlen(r->shields[i].node));
    member_u64(&w, "revision", r->shields[i].revision);
    if (r->shields[i].revision) {
      key(&w, "since_ms");
      arq_json_w_int64(&w, r->shields[i].since_ms);
    }
    arq_json_w_object_end(&w);
  }
  arq_json_w_array_end(&w);
  member_u64(&w, "shields_answered", r->answered);
  member_u64(&w, "shields_counted", r->counted);
  member_u64(&w, "evaluations", r->sum.evaluations);
  member_u64(&w, "disagreements", arq_canary_disagreements(&r->sum));
  write_tables(&w, &r->sum);
  key(&w, "latency_us");
  arq_json_w_object_begin(&w);
  key(&w, "mean");
  arq_json_w_double(&w, r->sum.evaluations ? (double)r->sum.ns_total / (double)r->sum.evaluations / 1e3 : 0.0);
  key(&w, "max");
  arq_json_w_double(&w, (double)r->sum.ns_max / 1e3);
  arq_json_w_object_end(&w);
  key(&w, "audit");
  arq_json_w_object_begin(&w);
  member_u64(&w, "published", r->sum.audit_published);
  member_u64(&w, "dropped", r->sum.audit_dropped);
  arq_json_w_object_end(&w);
  arq_json_w_object_end(&w);
}
