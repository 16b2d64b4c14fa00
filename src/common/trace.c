#include "common/trace.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

bool arq_trace_id_valid(const char *t) {
  if (!t || strlen(t) != ARQ_TRACE_ID_LEN)
    return false;
  bool nonzero = false;
  for (int i = 0; i < ARQ_TRACE_ID_LEN; i++) {
    if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
      return false;
    nonzero |= t[i] != '0';
  }
  return nonzero;
}

void arq_trace_id_new(char out[ARQ_TRACE_ID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t rnd[ARQ_TRACE_ID_LEN / 2];
  /* getrandom on a small buffer does not fail once the pool is ready; if it ever does,
   * a fixed pattern still gives a valid (if not unique) id rather than garbage. */
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    memset(rnd, 0x5a, sizeof rnd);
  rnd[0] |= 1; /* never all zero */
  for (size_t i = 0; i < sizeof rnd; i++) {
    out[2 * i] = hex[rnd[i] >> 4];
    out[2 * i + 1] = hex[rnd[i] & 15];
  }
  out[ARQ_TRACE_ID_LEN] = '\0';
}
