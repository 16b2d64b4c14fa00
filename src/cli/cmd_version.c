#include <stdio.h>

#include "cli/commands.h"
#include "common/version.h"

int arq_cmd_version(int argc, char **argv) {
  printf("arq %s\n", ARQ_VERSION);
  return 0;
}
