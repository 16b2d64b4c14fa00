#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { KIND_NATS, KIND_REDIS };

#define MAX_SERVERS 32
static arq_test_server_t *live[MAX_SERVERS];
static int live_kind[MAX_SERVERS];
static bool atexit_registered;

static void stop_all(void) {
  for (int i = 0; i < MAX_SERVERS; i++)
    if (live[i])
      arq_test_server_stop(live[i]);
}

static void track(arq_test_server_t *s, int kind) {
  if (!atexit_registered) {
    atexit(stop_all);
    atexit_registered = true;
  }
  for (int i = 0; i < MAX_SERVERS; i++) {
    if (!live[i] || live[i] == s) {
      live[i] = s;
      live_kind[i] = kind;
      return;
    }
  }
}

static void untrack(arq_test_server_t *s) {
  for (int i = 0; i < MAX_SERVERS; i++)
    if (live[i] == s)
      live[i] = NULL;
}

static int kind_of(const arq_test_server_t *s) {
  for (int i = 0; i < MAX_SERVERS; i++)
    if (live[i] == s)
      return live_kind[i];
  return -1;
}

int arq_test_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connects, optionally sends `probe`, and waits for a reply starting with `expect`. */
static bool answers(int port, const char *probe, const char *expect) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = false;
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
    if (!probe || write(fd, probe, strlen(probe)) == (ssize_t)strlen(probe)) {
      struct pollfd p = {fd, POLLIN, 0};
      char buf[64] = {0};
      if (poll(&p, 1, 2000) == 1 && read(fd, buf, sizeof buf - 1) > 0)
        ok = !strncmp(buf, expect, strlen(expect));
    }
  }
  if (fd >= 0)
    close(fd);
  return ok;
}

static pid_t spawn(char *const argv[], const char *logpath) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);
  int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  execvp(argv[0], argv);
  fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static bool alive(pid_t pid) { return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0; }

static int make_dir(arq_test_server_t *s, const char *what) {
  const char *tmp = getenv("TMPDIR");
  snprintf(s->dir, sizeof s->dir, "%s/arq-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
  if (!mkdtemp(s->dir)) {
    fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
    return -1;
  }
  return 0;
}

static int write_nats_conf(const arq_test_server_t *s, const char *extra) {
  char path[300];
  snprintf(path, sizeof path, "%s/nats.conf", s->dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fprintf(f, "host: 127.0.0.1\nport: %d\njetstream { store_dir: \"%s/js\" }\n%s\n", s->port, s->dir,
          extra ? extra : "");
  return fclose(f);
}

/* Launches the server kind on s->port and waits until it answers. */
static int launch(arq_test_server_t *s, int kind) {
  char conf[300], log[300], port[16];
  snprintf(conf, sizeof conf, "%s/nats.conf", s->dir);
  snprintf(log, sizeof log, "%s/server.log", s->dir);
  snprintf(port, sizeof port, "%d", s->port);
  if (kind == KIND_NATS) {
    char *argv[] = {"nats-server", "-c", conf, NULL};
    s->pid = spawn(argv, log);
  } else {
    char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", s->dir, NULL};
    s->pid = spawn(argv, log);
  }
  if (s->pid < 0)
    return -1;
  double deadline = now_s() + 15.0;
  while (now_s() < deadline) {
    if (!alive(s->pid)) {
      s->pid = 0;
      return -1;
    }
    if (kind == KIND_NATS ? answers(s->port, NULL, "INFO ") : answers(s->port, "PING\r\n", "+PONG"))
      return 0;
    usleep(20000);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
  return -1;
}

static int start(arq_test_server_t *s, int kind, const char *extra) {
  memset(s, 0, sizeof *s);
  const char *name = kind == KIND_NATS ? "nats" : "redis";
  if (make_dir(s, name))
    return -1;
  for (int attempt = 0; attempt < 5; attempt++) {
    s->port = arq_test_free_port();
    if (kind == KIND_NATS && write_nats_conf(s, extra))
      break;
    if (launch(s, kind) == 0) {
      snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", name, s->port);
      track(s, kind);
      return 0;
    }
  }
  fprintf(stderr, "harness: %s-server did not start; its log is in %s/server.log\n", name, s->dir);
  return -1;
}

int arq_test_nats_start(arq_test_server_t *s, const char *extra_conf) {
  return start(s, KIND_NATS, extra_conf);
}

int arq_test_redis_start(arq_test_server_t *s) { return start(s, KIND_REDIS, NULL); }

static void terminate(arq_test_server_t *s) {
  if (s->pid <= 0)
    return;
  kill(s->pid, SIGTERM);
  for (int i = 0; i < 500 && alive(s->pid); i++)
    usleep(10000);
  if (alive(s->pid)) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
  }
  s->pid = 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  return remove(path);
}

void arq_test_server_stop(arq_test_server_t *s) {
  terminate(s);
  untrack(s);
  if (s->dir[0] && !getenv("ARQ_KEEP_TEST_DIRS"))
    nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  s->dir[0] = '\0';
}

int arq_test_server_restart(arq_test_server_t *s) {
  int kind = kind_of(s);
  if (kind < 0)
    return -1;
  terminate(s);
  return launch(s, kind);
}
