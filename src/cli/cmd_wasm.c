/* Placeholder until the WebAssembly engine lands: refuses clearly rather than pretending. */
#include <stdio.h>

#include "cli/commands.h"

int arq_cmd_wasm(int argc, char **argv) {
  fprintf(stderr, "arq wasm: the WebAssembly engine is not built yet\n");
  return 2;
}
