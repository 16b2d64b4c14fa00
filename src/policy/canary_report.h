/*
 * canary_report.h — what a policy canary has counted, and how it is asked for.
 *
 * DESIGN
 *   Each Shield counts, for the candidate it runs for a key (a tenant id or _global), the
 *   pairs of verdicts (active, candidate) per hook since it installed that candidate's
 *   revision. Nobody stores these counts: `arq policy canary` and the admin API publish a
 *   request on sys.shield.canary.report.<key>; every Shield answers with its own counts
 *   as JSON, and the asker collects the answers for [api] collect_ms (how many Shields
 *   there are is not known to it), keeps those of the candidate revision the bucket holds,
 *   and adds them up. The figures are live, cost nothing per message beyond the counters
 *   and need no store; a restarted Shield counts again from zero (its answer says since
 *   when it counts).
 *
 *   This file owns both sides of the exchange (the answer's JSON, its reader, the sum
 *   and the summary's JSON) so that the CLI and the admin API say the same thing, and the
 *   names of hooks, outcomes and causes, which are also the Shield's metric labels.
 */
#ifndef ARQ_POLICY_CANARY_REPORT_H
#define ARQ_POLICY_CANARY_REPORT_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/ids.h"
#include "common/json.h"

typedef enum { ARQ_CANARY_CONNECT, ARQ_CANARY_MESSAGE, ARQ_CANARY_HOOKS } arq_canary_hook_t;

/* A verdict as the canary compares them: a policy that traps, runs out of fuel or time, or
 * cannot be instantiated is an error, whatever the active path then does with it (deny). */
typedef enum { ARQ_CANARY_ALLOW, ARQ_CANARY_DENY, ARQ_CANARY_ERROR, ARQ_CANARY_OUTCOMES } arq_canary_outcome_t;

/* Why a candidate's evaluation was an error. */
typedef enum {
  ARQ_CANARY_TRAP,
  ARQ_CANARY_FUEL,        /* over platform.overseer.canary_fuel_limit */
  ARQ_CANARY_TIME,        /* over platform.overseer.canary_time_budget_us */
  ARQ_CANARY_UNAVAILABLE, /* the module could not be instantiated */
  ARQ_CANARY_FAILED,      /* any other failure of the engine */
  ARQ_CANARY_CAUSES
} arq_canary_cause_t;

/** "connect", "message" */
extern const char *const arq_canary_hook_names[ARQ_CANARY_HOOKS];
/** "allow", "deny", "error" */
extern const char *const arq_canary_outcome_names[ARQ_CANARY_OUTCOMES];
/** "trap", "fuel", "time", "unavailable", "failed" */
extern const char *const arq_canary_cause_names[ARQ_CANARY_CAUSES];

/** One Shield's counts for one candidate revision, or their sum over Shields. */
typedef struct {
  uint64_t verdicts[ARQ_CANARY_HOOKS][ARQ_CANARY_OUTCOMES][ARQ_CANARY_OUTCOMES]; /* [hook][active][candidate] */
  uint64_t errors[ARQ_CANARY_CAUSES];
  uint64_t evaluations; /* of the candidate */
  uint64_t ns_total, ns_max; /* its evaluation time */
  uint64_t audit_published, audit_dropped; /* disagreement records */
} arq_canary_counts_t;

/** Evaluations whose two outcomes differ. */
uint64_t arq_canary_disagreements(const arq_canary_counts_t *c);
void arq_canary_counts_add(arq_canary_counts_t *sum, const arq_canary_counts_t *c);

/** A Shield's answer: {"node","key","revision","since_ms", then the counts}. `revision` 0:
 *  the Shield runs no candidate for the key (the counts are then left out). */
void arq_canary_answer_write(arq_buf_t *b, const char *node, const char *key, uint64_t revision,
                             int64_t since_ms, const arq_canary_counts_t *c);

/** Reads an answer; -1 when it is not one. */
int arq_canary_answer_read(const arq_json_value_t *v, char node[ARQ_ID_MAX_LEN + 1], uint64_t *revision,
                           int64_t *since_ms, arq_canary_counts_t *c);

/* Shields listed by name in a summary; more are counted, not named. */
#define ARQ_CANARY_LISTED 64

/** What the Shields said about one key's candidate. */
typedef struct {
  char key[ARQ_ID_MAX_LEN + 1];
  uint64_t candidate_revision; /* in the bucket: only the Shields running it are added up */
  uint64_t active_revision;    /* in the bucket; 0: no active policy */
  arq_canary_counts_t sum;
  size_t counted; /* Shields whose counts are in `sum` */
  size_t answered;
  struct {
    char node[ARQ_ID_MAX_LEN + 1];
    uint64_t revision; /* 0: no candidate installed there (yet, or refused as invalid) */
    int64_t since_ms;
  } shields[ARQ_CANARY_LISTED];
} arq_canary_report_t;

/** Asks every Shield about the candidate of `r->key` (sys.shield.canary.report.<key>) and
 *  adds up, for `collect_ms`, the answers of those that run r->candidate_revision. The
 *  caller sets key and both revisions. Returns 0, or -1 with the reason in err when the
 *  request could not be sent. No answer is not an error: r->answered is 0. */
int arq_canary_report_collect(natsConnection *nc, arq_canary_report_t *r, int64_t collect_ms,
                              char *err, size_t errcap);

/** One Shield's answer: listed (the first ARQ_CANARY_LISTED), and added up when it is of
 *  r->candidate_revision. Anything that is not an answer is ignored. */
void arq_canary_report_add_answer(arq_canary_report_t *r, const arq_json_value_t *answer);

/** The summary as JSON (docs/policies.md shows it). */
void arq_canary_report_write(arq_buf_t *b, const arq_canary_report_t *r);

#endif
