/* arqon-brain — the ArqonBus state service: presence, rooms, history. */
#include <stdio.h>

#include "common/config.h"
#include "common/program.h"

int main(int argc, char **argv) {
  arq_program_t program = {.name = "arqon-brain", .description = "the ArqonBus state service: presence, rooms, history"};
  arq_config_t cfg;
  int rc = arq_program_start(&program, argc, argv, &cfg);
  if (rc >= 0)
    return rc;
  /* The server itself is not built yet: refuse clearly instead of pretending to run. */
  fprintf(stderr, "arqon-brain: the server is not implemented yet (only --check-config works)\n");
  arq_config_free(&cfg);
  return 3;
}
