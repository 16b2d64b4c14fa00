/*
 * libFuzzer target for the schema registry (src/registry/schema.h), two modes chosen by
 * the first byte:
 *   bit 0 clear: the rest is a message, validated against one type of a fixed rich schema
 *     (the registry's test protos, compiled by protoc at build time); bit 1 turns on
 *     strict_unknown, bits 2-7 set a small depth limit; the second byte picks the type.
 *   bit 0 set: the rest is a descriptor set for the loader; whatever loads is then used to
 *     validate the same bytes against each of its first message types.
 * Beyond crashes and sanitizer reports, it checks that an accepted message is still
 * accepted when its limits are loosened, and that every refusal carries a named error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static arq_schema_t *rich;
static const arq_schema_message_t *types[8];
static size_t n_types;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  FILE *f = fopen(ARQ_FUZZ_SCHEMA, "rb");
  if (!f)
    abort();
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  arq_schema_error_t err;
  if (arq_schema_load(buf, n, 0, &rich, &err)) {
    fprintf(stderr, "%s\n", err.message);
    abort();
  }
  static const char *const names[] = {"arq.test.User",   "arq.common.Person", "arq.test.Repeated",
                                      "arq.test.Scalars", "arq.test.Node",     "arq.common.Contact",
                                      "arq.test.Address", "arq.common.Person.Item"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if ((types[n_types] = arq_schema_find_message(rich, names[i])))
      n_types++;
  if (n_types != sizeof names / sizeof names[0])
    abort();
  return 0;
}

static void validate(const arq_schema_t *s, const arq_schema_message_t *m, const uint8_t *data,
                     size_t size, const arq_schema_limits_t *lim) {
  arq_schema_error_t err;
  int rc = arq_schema_validate(s, m, data, size, lim, &err);
  if (rc != 0) {
    if (!err.code || !err.message[0] || err.offset > size)
      abort();
    return;
  }
  arq_schema_limits_t loose = {.max_depth = ARQ_SCHEMA_DEPTH_CEILING};
  if (arq_schema_validate(s, m, data, size, &loose, &err) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  uint8_t mode = data[0];
  if (!(mode & 1)) {
    arq_schema_limits_t lim = {.strict_unknown = (mode & 2) != 0, .max_depth = mode >> 2};
    validate(rich, types[data[1] % n_types], data + 2, size - 2, &lim);
    return 0;
  }
  arq_schema_t *s = NULL;
  arq_schema_error_t err;
  if (arq_schema_load(data + 1, size - 1, 1u << 20, &s, &err)) {
    if (!err.code)
      abort();
    return 0;
  }
  size_t n = arq_schema_message_count(s);
  for (size_t i = 0; i < n && i < 4; i++) {
    const arq_schema_message_t *m = arq_schema_message_at(s, i);
    if (arq_schema_find_message(s, arq_schema_message_name(m)) != m)
      abort();
    validate(s, m, data + 1, size - 1, NULL);
  }
  arq_schema_free(s);
  return 0;
}
