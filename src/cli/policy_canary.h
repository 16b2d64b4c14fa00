/* `arq policy canary` and `arq policy promote` (cmd_policy_canary.c), reached through
 * arq_cmd_policy with the policy bucket open. Each returns the exit status. */
#ifndef ARQ_CLI_POLICY_CANARY_H
#define ARQ_CLI_POLICY_CANARY_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/kv_cli.h"

/** Asks the Shields about the candidate of `base` and prints the comparison (a table, or
 *  with `json` the summary of policy/canary_report.h). 1 when there is no candidate. */
int arq_cli_policy_canary(arq_cli_kv_t *k, const char *base, bool json);

/** Promotes the candidate of `base` (policy/store.h); `revision` 0: whichever is there. */
int arq_cli_policy_promote(arq_cli_kv_t *k, const char *base, uint64_t revision);

#endif
