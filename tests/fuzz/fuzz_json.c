/* libFuzzer target for the JSON parser and writer. An accepted document is written back
 * compactly; that text must parse again and write back to the very same bytes (the DOM
 * loses nothing the writer needs). Docs are reused across inputs, as a server reuses
 * them, so stale state from a previous parse would show up here. A second doc with tight
 * limits checks that limits refuse documents only for their own reasons. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every accessor on every value, so the sanitizers see each read. */
static size_t walk(const arq_json_value_t *v, unsigned depth) {
  size_t n = 0, count = 1;
  int64_t i;
  uint64_t u;
  switch (arq_json_type(v)) {
  case ARQ_JSON_NUMBER:
    if (!arq_json_number_text(v, &n) || n == 0)
      abort();
    (void)arq_json_number(v);
    if (arq_json_int64(v, &i) == 0 && arq_json_uint64(v, &u) == 0 && i >= 0 && (uint64_t)i != u)
      abort();
    break;
  case ARQ_JSON_STRING:
    if (!arq_json_string(v, &n) || arq_json_string(v, NULL)[n] != '\0')
      abort();
    break;
  case ARQ_JSON_ARRAY:
    for (size_t k = 0; k < arq_json_len(v); k++)
      count += walk(arq_json_array_get(v, k), depth + 1);
    if (arq_json_array_get(v, arq_json_len(v)))
      abort();
    break;
  case ARQ_JSON_OBJECT:
    for (size_t k = 0; k < arq_json_len(v); k++) {
      const arq_json_value_t *key = arq_json_object_key(v, k);
      size_t kn;
      const char *ks = arq_json_string(key, &kn);
      if (!ks || arq_json_object_get(v, ks, kn) != arq_json_object_value(v, k))
        abort(); /* keys are unique, so lookup finds this very member */
      count += 1 + walk(arq_json_object_value(v, k), depth + 1);
    }
    break;
  default: break;
  }
  if (depth > ARQ_JSON_DEFAULT_MAX_DEPTH)
    abort();
  return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static arq_json_doc_t doc, again, tight;
  static arq_buf_t first, second;
  static int ready;
  if (!ready) {
    arq_json_doc_init(&doc, NULL);
    arq_json_doc_init(&again, NULL);
    arq_json_limits_t lim = {.max_bytes = 512, .max_depth = 3, .max_values = 24};
    arq_json_doc_init(&tight, &lim);
    arq_buf_init(&first);
    arq_buf_init(&second);
    ready = 1;
  }
  arq_json_error_t err, tight_err;
  const arq_json_value_t *root = arq_json_parse(&doc, (const char *)data, size, &err);
  /* Limits only ever take documents away: what the tight doc accepts, the default one must,
   * and a limit is the only new reason the tight one may give. */
  const arq_json_value_t *small = arq_json_parse(&tight, (const char *)data, size, &tight_err);
  if (small && !root)
    abort();
  if (!small && root && tight_err.code != ARQ_JSON_E_TOO_LARGE &&
      tight_err.code != ARQ_JSON_E_TOO_DEEP && tight_err.code != ARQ_JSON_E_TOO_MANY)
    abort();
  if (!root) {
    if (err.offset > size || err.code == ARQ_JSON_E_OK)
      abort();
    return 0;
  }
  walk(root, 0);
  arq_buf_reset(&first);
  arq_json_write_value(&first, root);
  const arq_json_value_t *root2 = arq_json_parse(&again, first.data, first.len, &err);
  if (!root2) {
    fprintf(stderr, "rewritten document rejected: byte %zu: %s\n%s\n", err.offset, err.msg,
            first.data);
    abort();
  }
  arq_buf_reset(&second);
  arq_json_write_value(&second, root2);
  if (first.len != second.len || memcmp(first.data, second.data, first.len)) {
    fprintf(stderr, "rewrite is not stable:\n%s\n%s\n", first.data, second.data);
    abort();
  }
  return 0;
}
