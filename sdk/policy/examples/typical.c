/* A typical message policy: requires a client header, reads the payload and refuses
 * payloads that are not JSON objects. It is also the policy of the per-message overhead
 * benchmark (bench/policy_eval.c), the SPEC's "reading a header and 1 KiB payload". */
#include "arqon_policy.h"

static char payload[4096];

ARQ_POLICY_EXPORT("arqon_on_message") int on_message(void) {
  char client[64];
  if (host_get_header("x-client", 8, client, sizeof client) < 0) {
    ARQ_REJECT(400, "x-client header required");
    return 400;
  }
  int n = host_get_payload(payload, (int)sizeof payload);
  if (n > (int)sizeof payload) {
    ARQ_REJECT(413, "payload larger than 4 KiB");
    return 413;
  }
  if (n < 2 || payload[0] != '{' || payload[n - 1] != '}') {
    ARQ_REJECT(400, "payload must be a JSON object");
    return 400;
  }
  return 0;
}
