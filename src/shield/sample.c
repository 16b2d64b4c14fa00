#include "shield/sample.h"

#include <math.h>
#include <stdint.h>
#include <xxhash.h>

bool arq_sample_in(const char *key, size_t len, double fraction) {
  uint64_t threshold = (uint64_t)lround(fraction * 10000.0);
  if (threshold >= 10000u)
    return true; /* every key: no hash needed */
  if (!threshold)
    return false;
  return XXH64(key, len, 0) % 10000u < threshold;
}
