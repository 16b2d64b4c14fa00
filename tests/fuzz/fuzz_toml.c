/* libFuzzer target for the TOML parser: parse, write the tagged JSON of what was
 * accepted (so the writer sees every shape the parser can build), free. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *sink; /* opened once: a file per input would dominate the run time */
  if (!sink)
    sink = fopen("/dev/null", "w");
  char err[128];
  arq_toml_value_t *root = arq_toml_parse((const char *)data, size, err, sizeof err);
  if (root && sink)
    arq_toml_write_tagged_json(root, sink);
  arq_toml_free(root);
  return 0;
}
