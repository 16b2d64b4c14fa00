/*
 * arq policy canary T | promote T — what a candidate policy decided on live traffic, and
 * making it the active policy. The figures come from the Shields themselves: a request on
 * sys.shield.canary.report.T that every Shield answers, collected for [api] collect_ms
 * (policy/canary_report.h). So this works against any running stack the config reaches,
 * with the same NATS user as `arq policy push`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/policy_canary.h"
#include "policy/canary_report.h"
#include "policy/keys.h"
#include "policy/store.h"

static uint64_t revision_of(kvStore *kv, const char *key) {
  kvEntry *e = NULL;
  uint64_t rev = kvStore_Get(&e, kv, key) == NATS_OK ? kvEntry_Revision(e) : 0;
  kvEntry_Destroy(e);
  return rev;
}

static void print_table(const arq_canary_report_t *r) {
  const arq_canary_counts_t *c = &r->sum;
  printf("%-8s %-7s %-10s %s\n", "hook", "active", "candidate", "count");
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++)
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int k = 0; k < ARQ_CANARY_OUTCOMES; k++)
        if (c->verdicts[h][a][k])
          printf("%-8s %-7s %-10s %" PRIu64 "%s\n", arq_canary_hook_names[h], arq_canary_outcome_names[a],
                 arq_canary_outcome_names[k], c->verdicts[h][a][k], a != k ? "  disagreement" : "");
  uint64_t total = 0, disagree = arq_canary_disagreements(c);
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++)
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int k = 0; k < ARQ_CANARY_OUTCOMES; k++)
        total += c->verdicts[h][a][k];
  printf("compared: %" PRIu64 ", disagreements: %" PRIu64 " (%.2f%%)\n", total, disagree,
         total ? 100.0 * (double)disagree / (double)total : 0.0);
  printf("candidate errors:");
  for (int i = 0; i < ARQ_CANARY_CAUSES; i++)
    printf(" %s %" PRIu64, arq_canary_cause_names[i], c->errors[i]);
  printf("\ncandidate time: mean %.1f us, max %.1f us over %" PRIu64 " evaluations\n",
         c->evaluations ? (double)c->ns_total / (double)c->evaluations / 1e3 : 0.0, (double)c->ns_max / 1e3,
         c->evaluations);
  printf("audit records: %" PRIu64 " published, %" PRIu64 " dropped (over canary_audit_per_second)\n",
         c->audit_published, c->audit_dropped);
}

int arq_cli_policy_canary(arq_cli_kv_t *k, const char *base, bool json) {
  char key[ARQ_POLICY_KEY_CAP], err[256];
  arq_policy_canary_key(key, base);
  arq_canary_report_t r;
  memset(&r, 0, sizeof r);
  snprintf(r.key, sizeof r.key, "%s", base);
  if (!(r.candidate_revision = revision_of(k->kv, key))) {
    fprintf(stderr, "arq policy canary: %s has no candidate policy (%s)\n", base, key);
    return 1;
  }
  r.active_revision = revision_of(k->kv, base);
  if (arq_canary_report_collect(k->nc, &r, k->cfg.api.collect_ms, err, sizeof err)) {
    fprintf(stderr, "arq policy canary: %s\n", err);
    return 1;
  }
  if (!r.answered)
    fprintf(stderr, "arq policy canary: no Shield answered within %lld ms ([api] collect_ms)\n",
            (long long)k->cfg.api.collect_ms);
  if (json) {
    arq_buf_t b;
    arq_buf_init(&b);
    arq_canary_report_write(&b, &r);
    printf("%.*s\n", (int)b.len, b.data);
    arq_buf_free(&b);
    return 0;
  }
  printf("candidate %s revision %" PRIu64 ", active %s ", key, r.candidate_revision, base);
  if (r.active_revision)
    printf("revision %" PRIu64 "\n", r.active_revision);
  else
    printf("none (no module: allow)\n");
  printf("Shields: %zu answered, %zu counted (running revision %" PRIu64 ")\n", r.answered, r.counted,
         r.candidate_revision);
  for (size_t i = 0; i < r.answered && i < ARQ_CANARY_LISTED; i++) {
    if (r.shields[i].revision == r.candidate_revision)
      continue;
    printf("  %s: %s\n", r.shields[i].node, r.shields[i].revision ? "another revision, not counted"
                                                                     : "no candidate (not loaded, or refused)");
  }
  print_table(&r);
  return 0;
}

int arq_cli_policy_promote(arq_cli_kv_t *k, const char *base, uint64_t revision) {
  char err[512];
  arq_promotion_t p;
  arq_promote_status_t st = arq_policy_promote(k->js, k->kv, base, revision, &p, err, sizeof err);
  if (st != ARQ_PROMOTED) {
    fprintf(stderr, "arq policy promote: %s\n", err);
    return 1;
  }
  printf("promoted %s.canary revision %" PRIu64 " to %s revision %" PRIu64, base, p.candidate_revision, base,
         p.revision);
  if (p.previous_revision)
    printf(" (replacing revision %" PRIu64 ")", p.previous_revision);
  printf("\n");
  if (p.candidate_removed)
    printf("removed %s.canary\n", base);
  else
    fprintf(stderr, "arq policy promote: %s.canary stays: %s\n", base, p.candidate_kept);
  return 0;
}
