#include "policy/keys.h"

#include <stdio.h>
#include <string.h>

bool arq_policy_base_valid(const char *base) {
  return base && (!strcmp(base, ARQ_POLICY_GLOBAL) || arq_id_valid_str(base));
}

bool arq_policy_key_parse(const char *key, char *base, bool *canary) {
  if (!key)
    return false;
  size_t len = strlen(key), suffix = sizeof ARQ_POLICY_CANARY_SUFFIX - 1;
  *canary = len > suffix && !strcmp(key + len - suffix, ARQ_POLICY_CANARY_SUFFIX);
  if (*canary)
    len -= suffix;
  if (len > ARQ_ID_MAX_LEN)
    return false;
  memcpy(base, key, len);
  base[len] = '\0';
  return arq_policy_base_valid(base);
}

void arq_policy_canary_key(char *out, const char *base) {
  snprintf(out, ARQ_POLICY_KEY_CAP, "%s%s", base, ARQ_POLICY_CANARY_SUFFIX);
}
