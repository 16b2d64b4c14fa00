/*
 * program.h — the start-up every ArqonBus daemon shares: --config PATH, --check-config,
 * --version, --help; the config loaded (defaults when no file is given) and logging set
 * up from its [log] section.
 */
#ifndef ARQ_COMMON_PROGRAM_H
#define ARQ_COMMON_PROGRAM_H

#include <stdbool.h>

#include "common/config.h"

typedef struct {
  const char *name;        /* "arqon-shield" */
  const char *description; /* one line for --help */
  const char *config_path; /* NULL: built-in defaults */
  bool check_only;         /* --check-config: validate and exit */
} arq_program_t;

/** Parses argv and loads the config into `cfg`. Returns -1 to continue, or an exit
 *  status (0 after --help/--version/--check-config, 2 on a usage or config error, with
 *  the reason on stderr). */
int arq_program_start(arq_program_t *p, int argc, char **argv, arq_config_t *cfg);

#endif
