/* Publishing needs the claim role=writer; connecting does not. */
#include "arqon_policy.h"

ARQ_POLICY_EXPORT("arqon_on_message") int on_message(void) {
  char role[16];
  int n = host_get_claim("role", 4, role, sizeof role);
  if (n == 6 && arq_memeq(role, "writer", 6))
    return 0;
  ARQ_REJECT(403, "publishing needs role writer");
  return 403;
}
