#include "shield/mirror.h"

#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "common/subject.h"

bool arq_mirror_decide(const arq_config_t *cfg, const char *subject, const char *key, size_t key_len) {
  if (!cfg->platform.mirroring.enabled)
    return false;
  size_t subject_len = strlen(subject);
  for (size_t i = 0; i < cfg->platform.mirroring.nrules; i++) {
    const arq_mirror_rule_t *r = &cfg->platform.mirroring.rules[i];
    if (!arq_subject_match(r->prefix, subject, subject_len))
      continue;
    uint64_t threshold = (uint64_t)lround(r->percent * 10000.0);
    return XXH64(key, key_len, 0) % 10000u < threshold;
  }
  return false;
}
