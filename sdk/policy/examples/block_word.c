/* Messages whose data contains the word "forbidden" are refused. */
#include "arqon_policy.h"

static char payload[64 * 1024];

ARQ_POLICY_EXPORT("arqon_on_message") int on_message(void) {
  static const char word[] = "forbidden";
  const int w = (int)sizeof word - 1;
  int n = host_get_payload(payload, (int)sizeof payload);
  if (n > (int)sizeof payload)
    n = (int)sizeof payload; /* only what fits is scanned */
  for (int i = 0; i + w <= n; i++)
    if (arq_memeq(payload + i, word, w)) {
      ARQ_REJECT(403, "message contains a blocked word");
      return 403;
    }
  return 0;
}
