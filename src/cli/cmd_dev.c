/*
 * arq dev up | down — the local development stack that `make run` starts.
 *
 * `up` runs the project's scripts/run.sh (found from ARQON_HOME, or next to this binary:
 * <repo>/build/bin/arq) in the foreground: NATS with the strict users of deploy/nats,
 * Redis, the Brain and the Shield, until Ctrl-C. `down` stops a stack started elsewhere by
 * signalling the script whose pid it wrote in the state directory, and waits for it.
 * Both honour ARQON_STATE_DIR (default .arqon) and the ARQON_*_PORT variables of run.sh.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"

static void usage(FILE *out) {
  fprintf(out, "usage: arq dev up [--config PATH]  start the local stack in the foreground\n"
               "                                   (Ctrl-C stops it)\n"
               "       arq dev down                stop a stack started by `arq dev up` or `make run`\n"
               "  --config PATH: the programs' configuration, the stack setting only its ports and\n"
               "  NATS users over it (default: config/arqon.toml; the same as ARQON_CONFIG)\n"
               "  environment: ARQON_HOME (the repository), ARQON_STATE_DIR (default .arqon),\n"
               "  ARQON_NATS_PORT, ARQON_REDIS_PORT, ARQON_SHIELD_PORT, ARQON_BRAIN_METRICS_PORT\n");
}

/* The repository: ARQON_HOME, or two levels above the directory of this executable. */
static int find_home(char *out, size_t cap) {
  const char *env = getenv("ARQON_HOME");
  if (env && *env) {
    snprintf(out, cap, "%s", env);
    return 0;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return -1;
  exe[n] = '\0';
  for (int up = 0; up < 3; up++) { /* .../build/bin/arq -> ... */
    char *slash = strrchr(exe, '/');
    if (!slash)
      return -1;
    *slash = '\0';
  }
  snprintf(out, cap, "%s", exe);
  return 0;
}

static int up(const char *config) {
  char home[PATH_MAX], script[PATH_MAX + 32], config_abs[PATH_MAX];
  if (config) { /* the script runs from the repository: the path must not depend on ours */
    if (!realpath(config, config_abs)) {
      fprintf(stderr, "arq dev up: --config %s: %s\n", config, strerror(errno));
      return 2;
    }
    setenv("ARQON_CONFIG", config_abs, 1);
  }
  if (find_home(home, sizeof home)) {
    fprintf(stderr, "arq dev up: cannot find the repository; set ARQON_HOME\n");
    return 1;
  }
  snprintf(script, sizeof script, "%s/scripts/run.sh", home);
  if (access(script, X_OK)) {
    fprintf(stderr, "arq dev up: %s: %s (set ARQON_HOME to the repository)\n", script, strerror(errno));
    return 1;
  }
  execl("/bin/bash", "bash", script, (char *)NULL);
  fprintf(stderr, "arq dev up: cannot run %s: %s\n", script, strerror(errno));
  return 1;
}

static int down(void) {
  const char *state = getenv("ARQON_STATE_DIR");
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/run.pid", state && *state ? state : ".arqon");
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
    if (f)
      fclose(f);
    fprintf(stderr, "arq dev down: no stack is running (no %s)\n", path);
    return 1;
  }
  fclose(f);
  if (kill((pid_t)pid, SIGTERM)) {
    fprintf(stderr, "arq dev down: pid %ld from %s: %s\n", pid, path, strerror(errno));
    return 1;
  }
  /* The script stops its parts and then removes the pid file: that file going away is
   * the signal (the process itself may linger as a zombie of whoever started it). */
  for (int i = 0; i < 300; i++) {
    if (access(path, F_OK) || (kill((pid_t)pid, 0) && errno == ESRCH)) {
      printf("stopped (pid %ld)\n", pid);
      return 0;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "arq dev down: pid %ld still running after 15 s\n", pid);
  return 1;
}

int arq_cmd_dev(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "up"))
    return up(NULL);
  if (argc == 4 && !strcmp(argv[1], "up") && !strcmp(argv[2], "--config"))
    return up(argv[3]);
  if (argc == 2 && !strcmp(argv[1], "down"))
    return down();
  usage(argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr);
  return 2;
}
