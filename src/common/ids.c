#include "common/ids.h"

#include <string.h>

static bool id_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool arq_id_valid(const char *s, size_t len) {
  if (!s || len == 0 || len > ARQ_ID_MAX_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!id_char((unsigned char)s[i]))
      return false;
  return true;
}

bool arq_id_valid_str(const char *s) { return s && arq_id_valid(s, strlen(s)); }

const char *arq_id_problem(const char *s) {
  if (!s || !*s)
    return "must not be empty";
  size_t len = strlen(s);
  if (len > ARQ_ID_MAX_LEN)
    return "must be at most 64 characters";
  if (!arq_id_valid(s, len))
    return "may contain only A-Z, a-z, 0-9, '_' and '-'";
  return NULL;
}
