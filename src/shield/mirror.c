#include "shield/mirror.h"

#include <string.h>

#include "common/subject.h"
#include "shield/sample.h"

bool arq_mirror_decide(const arq_config_t *cfg, const char *subject, const char *key, size_t key_len) {
  if (!cfg->platform.mirroring.enabled)
    return false;
  size_t subject_len = strlen(subject);
  for (size_t i = 0; i < cfg->platform.mirroring.nrules; i++) {
    const arq_mirror_rule_t *r = &cfg->platform.mirroring.rules[i];
    if (arq_subject_match(r->prefix, subject, subject_len))
      return arq_sample_in(key, key_len, r->percent);
  }
  return false;
}
