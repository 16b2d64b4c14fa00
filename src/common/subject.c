#include "common/subject.h"

#include <string.h>

static bool token_char(unsigned char c) { return c > ' ' && c != 0x7f && c != '.'; }

/* Checks every token; `wildcards` allows `*` tokens and a final `>` token. */
static bool check(const char *s, bool wildcards) {
  if (!s || !*s)
    return false;
  const char *tok = s;
  for (;;) {
    const char *end = tok;
    while (*end && *end != '.')
      end++;
    size_t n = (size_t)(end - tok);
    if (n == 0)
      return false;
    bool is_star = n == 1 && *tok == '*';
    bool is_rest = n == 1 && *tok == '>';
    if ((is_star || is_rest) && !wildcards)
      return false;
    if (is_rest && *end)
      return false;
    for (const char *p = tok; p < end; p++) {
      if (!token_char((unsigned char)*p))
        return false;
      if ((*p == '*' || *p == '>') && n > 1)
        return false;
    }
    if (!*end)
      return true;
    tok = end + 1;
  }
}

bool arq_subject_valid(const char *s) { return check(s, false); }

bool arq_subject_pattern_valid(const char *s) { return check(s, true); }

bool arq_subject_match(const char *pattern, const char *subject, size_t subject_len) {
  const char *p = pattern;
  const char *s = subject, *s_end = subject + subject_len;
  for (;;) {
    const char *p_end = strchr(p, '.');
    size_t pn = p_end ? (size_t)(p_end - p) : strlen(p);
    if (pn == 1 && *p == '>')
      return s < s_end; /* `>` needs at least one more token */
    if (s >= s_end)
      return false;
    const char *t_end = memchr(s, '.', (size_t)(s_end - s));
    size_t tn = t_end ? (size_t)(t_end - s) : (size_t)(s_end - s);
    if (!(pn == 1 && *p == '*') && (pn != tn || memcmp(p, s, tn)))
      return false;
    if (!p_end)
      return t_end == NULL;
    if (!t_end)
      return false;
    p = p_end + 1;
    s = t_end + 1;
  }
}
