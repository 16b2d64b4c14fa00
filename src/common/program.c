#include "common/program.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/version.h"

static void usage(const arq_program_t *p, FILE *out) {
  fprintf(out,
          "usage: %s [--config PATH] [--check-config]\n"
          "  %s\n"
          "  --config PATH    TOML configuration (default: built-in defaults, as in config/arqon.toml)\n"
          "  --check-config   validate the configuration and exit\n"
          "  --version        print the version\n",
          p->name, p->description);
}

int arq_program_start(arq_program_t *p, int argc, char **argv, arq_config_t *cfg) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      p->config_path = argv[++i];
    } else if (!strncmp(argv[i], "--config=", 9)) {
      p->config_path = argv[i] + 9;
    } else if (!strcmp(argv[i], "--check-config")) {
      p->check_only = true;
    } else if (!strcmp(argv[i], "--version")) {
      printf("%s %s\n", p->name, ARQ_VERSION);
      return 0;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(p, stdout);
      return 0;
    } else {
      fprintf(stderr, "%s: unknown argument '%s'\n", p->name, argv[i]);
      usage(p, stderr);
      return 2;
    }
  }
  arq_config_defaults(cfg);
  char err[1024];
  if (p->config_path && arq_config_load(cfg, p->config_path, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", p->name, err);
    arq_config_free(cfg);
    return 2;
  }
  arq_log_level_t level;
  arq_log_format_t format;
  /* Both were validated by the loader. */
  arq_log_level_parse(cfg->log.level, &level);
  arq_log_format_parse(cfg->log.format, &format);
  arq_log_configure(level, format, 2);
  if (p->check_only) {
    printf("%s: configuration %s is valid\n", p->name, p->config_path ? p->config_path : "(defaults)");
    arq_config_free(cfg);
    return 0;
  }
  return -1;
}
