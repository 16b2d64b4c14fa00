#include "protocol/headers.h"

#include <string.h>
#include <strings.h>

#include "common/trace.h"

bool arq_header_reserved(const char *name, size_t len) {
  return (len >= 8 && !strncasecmp(name, "x-arqon-", 8)) ||
         (len == 11 && !strncasecmp(name, "traceparent", 11)) ||
         (len >= 5 && !strncasecmp(name, "nats-", 5));
}

static const char hex[] = "0123456789abcdef";

void arq_traceparent_format(char out[ARQ_TRACEPARENT_LEN + 1], const char *trace_id,
                            uint64_t span) {
  memcpy(out, "00-", 3);
  memcpy(out + 3, trace_id, 32);
  out[35] = '-';
  for (int i = 15; i >= 0; i--, span >>= 4)
    out[36 + i] = hex[span & 15];
  memcpy(out + 52, "-01", 4);
}

bool arq_traceparent_trace_id(const char *tp, char out[33]) {
  if (!tp || strlen(tp) != ARQ_TRACEPARENT_LEN || strncmp(tp, "00-", 3))
    return false;
  const char *span = tp + 36;
  if (span[-1] != '-' || span[16] != '-')
    return false;
  bool span_nonzero = false;
  for (int i = 0; i < 16 + 3; i++) {
    char c = span[i];
    if (i == 16)
      continue;
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
    if (i < 16)
      span_nonzero |= c != '0';
  }
  memcpy(out, tp + 3, 32);
  out[32] = '\0';
  return span_nonzero && arq_trace_id_valid(out);
}
