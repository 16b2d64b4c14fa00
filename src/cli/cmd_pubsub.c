/*
 * cmd_pubsub.c — `arq pub` and `arq sub`: one WebSocket client of the Shield, as an
 * application would be, for trying a deployment out from a shell.
 *
 * DESIGN
 *   Both commands mint an HS256 token for (tenant, user) whose `rooms` claim is exactly the
 *   room, connect with the `arq bench` client (net/ws_client.c) on one arq_loop, and speak the
 *   proto3 JSON mapping on text frames (`encoding=json`), so that what `arq sub` prints is
 *   the envelope exactly as the Shield sent it.
 *
 *   pub sends its N events at once, each with its own id "<random>-<i>", and counts the
 *   replies whose id it recognises: the Shield answers every id exactly once, so the run
 *   ends when every id has its answer (or at the deadline).
 *
 *   sub joins the room (waiting for the join's ack), then prints every event delivered to
 *   it except `welcome`, acks and errors (errors go to stderr). SIGINT and SIGTERM arrive
 *   through a signalfd on the same loop, so stopping is an ordinary loop event.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "arqon/v1/envelope.pb-c.h"
#include "cli/commands.h"
#include "cli/input.h"
#include "cli/token.h"
#include "common/buf.h"
#include "common/ids.h"
#include "common/json.h"
#include "loadgen/metrics.h"
#include "net/loop.h"
#include "net/ws_client.h"
#include "protocol/envelope_json.h"

#define MAX_COUNT 1000000L
#define MAX_TIMEOUT_S 1e7
#define MAX_DATA_BYTES ((size_t)1 << 20)   /* the Shield's default max_message_bytes */
#define SUB_CONNECT_TIMEOUT_S 10.0         /* sub without --timeout: connecting and joining */
#define TOKEN_TTL_S 3600L

typedef struct {
  bool pub;
  const char *prog; /* "arq pub" / "arq sub" */
  const char *url, *tenant, *room, *user, *type, *secret, *config, *data;
  long count;
  bool count_set;
  double timeout_s;
  bool timeout_set;
} ps_args_t;

typedef struct {
  const ps_args_t *a;
  arq_loop_t *loop;
  arq_ws_client_t ws;
  arq_timer_t deadline;
  arq_io_t sigio;
  arq_envelope_arena_t arena;
  arq_json_doc_t doc;
  arq_buf_t scratch;
  const uint8_t *data;
  size_t data_len;
  char prefix[17]; /* of the ids this run sends */
  uint8_t *answered; /* pub: per id, whether its reply came */
  long replies, acked, delivered;
  bool joined, stray_error, done;
  int rc;
} ps_t;

static void pub_usage(FILE *out) {
  fprintf(out,
          "usage: arq pub --url ws://HOST:PORT/ws --tenant T --room R [--user U] [--type TYPE]\n"
          "               [--count N] [--timeout S] [--secret S | --config PATH] [--] DATA\n"
          "  Connects to the Shield with a fresh HS256 token for tenant T and user U (default\n"
          "  arq-cli) whose rooms claim is R, and sends N (default 1) events of type TYPE\n"
          "  (default message) with DATA as their data ('-': read it from stdin), each with\n"
          "  its own id. Prints one line per reply: 'ack ID' or 'error CODE REASON ID'.\n"
          "  Exit status: 0 when every event was acknowledged, 1 otherwise (an error reply, a\n"
          "  refused connection, or no reply within --timeout S, default 10), 2 on usage errors.\n"
          "  The secret comes from --secret, else ARQON_JWT_SECRET, else the config's\n"
          "  auth.jwt_secret / auth.jwt_secret_file.\n");
}

static void sub_usage(FILE *out) {
  fprintf(out,
          "usage: arq sub --url ws://HOST:PORT/ws --tenant T --room R [--user U] [--count N]\n"
          "               [--timeout S] [--secret S | --config PATH]\n"
          "  Connects to the Shield as user U (default arq-cli) of tenant T, joins room R and\n"
          "  prints every event delivered to the connection as one line of proto3 JSON (the\n"
          "  envelope as received), flushed line by line; welcome, acks and errors are not\n"
          "  printed (errors go to stderr). Stops after N events (exit 0), at --timeout S\n"
          "  (exit 1 when --count was given and not reached, else 0), or on SIGINT/SIGTERM\n"
          "  (exit 0). A refused connection or join exits 1; usage errors exit 2.\n"
          "  Without --timeout, connecting and joining must finish within 10 s.\n"
          "  The secret comes from --secret, else ARQON_JWT_SECRET, else the config's\n"
          "  auth.jwt_secret / auth.jwt_secret_file.\n");
}

static void usage(const ps_args_t *a, FILE *out) {
  if (a->pub)
    pub_usage(out);
  else
    sub_usage(out);
}

static int parse_count(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < 1 || v > MAX_COUNT)
    return -1;
  *out = v;
  return 0;
}

static int parse_seconds(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v > 0) || v > MAX_TIMEOUT_S)
    return -1;
  *out = v;
  return 0;
}

/* Returns 0, 1 after --help (printed), or -1 on a usage error (reported). */
static int parse_args(int argc, char **argv, ps_args_t *a) {
  int i = 1;
  for (; i < argc; i++) {
    const char *opt = argv[i];
    if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
      usage(a, stdout);
      return 1;
    }
    if (!strcmp(opt, "--")) {
      i++;
      break;
    }
    if (opt[0] != '-' || !strcmp(opt, "-"))
      break; /* the first operand */
    const char *const valued[] = {"--url", "--tenant", "--room", "--user", "--secret",
                                  "--config", "--count", "--timeout", "--type"};
    size_t nvalued = sizeof valued / sizeof valued[0] - (a->pub ? 0 : 1);
    bool known = false;
    for (size_t k = 0; k < nvalued; k++)
      known = known || !strcmp(opt, valued[k]);
    if (!known) {
      fprintf(stderr, "%s: unknown option '%s'\n", a->prog, opt);
      return -1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "%s: %s needs a value\n", a->prog, opt);
      return -1;
    }
    const char *v = argv[++i];
    if (!strcmp(opt, "--url")) a->url = v;
    else if (!strcmp(opt, "--tenant")) a->tenant = v;
    else if (!strcmp(opt, "--room")) a->room = v;
    else if (!strcmp(opt, "--user")) a->user = v;
    else if (!strcmp(opt, "--secret")) a->secret = v;
    else if (!strcmp(opt, "--config")) a->config = v;
    else if (!strcmp(opt, "--type")) a->type = v;
    else if (!strcmp(opt, "--count")) {
      if (parse_count(v, &a->count)) {
        fprintf(stderr, "%s: --count: expected a whole number from 1 to %ld, got '%s'\n",
                a->prog, MAX_COUNT, v);
        return -1;
      }
      a->count_set = true;
    } else {
      if (parse_seconds(v, &a->timeout_s)) {
        fprintf(stderr, "%s: --timeout: expected seconds (> 0), got '%s'\n", a->prog, v);
        return -1;
      }
      a->timeout_set = true;
    }
  }
  int operands = argc - i;
  if (a->pub && operands != 1) {
    fprintf(stderr, "%s: %s\n", a->prog,
            operands ? "expected exactly one DATA operand" : "DATA is required ('-' reads stdin)");
    return -1;
  }
  if (!a->pub && operands) {
    fprintf(stderr, "%s: unexpected operand '%s'\n", a->prog, argv[i]);
    return -1;
  }
  if (a->pub)
    a->data = argv[i];
  return 0;
}

static int check_args(const ps_args_t *a) {
  if (!a->url || !a->tenant || !a->room) {
    fprintf(stderr, "%s: --url, --tenant and --room are required\n", a->prog);
    return -1;
  }
  const char *what[] = {"--tenant", "--room", "--user"};
  const char *val[] = {a->tenant, a->room, a->user};
  for (int k = 0; k < 3; k++) {
    const char *problem = arq_id_problem(val[k]);
    if (problem) {
      fprintf(stderr, "%s: %s '%s': %s\n", a->prog, what[k], val[k], problem);
      return -1;
    }
  }
  char host[256];
  uint16_t port;
  const char *path;
  if (!strncmp(a->url, "wss://", 6)) {
    fprintf(stderr, "%s: --url: wss:// is not supported; use ws:// (a local or proxied Shield)\n",
            a->prog);
    return -1;
  }
  if (arq_url_split(a->url, "ws", host, sizeof host, &port, &path)) {
    fprintf(stderr, "%s: --url: expected ws://HOST:PORT/PATH, got '%s'\n", a->prog, a->url);
    return -1;
  }
  if (!*a->type) {
    fprintf(stderr, "%s: --type must not be empty\n", a->prog);
    return -1;
  }
  return 0;
}

/* ---- the run ---- */

static void finish(ps_t *s, int rc) {
  if (s->done)
    return;
  s->done = true;
  s->rc = rc;
  arq_timer_stop(s->loop, &s->deadline);
  arq_loop_stop(s->loop);
}

static void send_envelope(ps_t *s, const Arqon__V1__Envelope *e) {
  arq_buf_reset(&s->scratch);
  arq_envelope_to_json(e, &s->scratch);
  arq_ws_client_send(&s->ws, ARQ_WS_OP_TEXT, s->scratch.data, s->scratch.len);
}

static void on_open(arq_ws_client_t *c) {
  ps_t *s = c->data;
  const ps_args_t *a = s->a;
  char id[40];
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  e.room_id = (char *)a->room;
  e.id = id;
  if (!a->pub) {
    Arqon__V1__Command cmd = ARQON__V1__COMMAND__INIT;
    cmd.type = "join";
    snprintf(id, sizeof id, "%s-join", s->prefix);
    e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_CMD;
    e.cmd = &cmd;
    send_envelope(s, &e);
    return;
  }
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  ev.type = (char *)a->type;
  ev.data.data = (uint8_t *)s->data;
  ev.data.len = s->data_len;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  for (long i = 1; i <= a->count && c->state == ARQ_WS_CLIENT_OPEN; i++) {
    snprintf(id, sizeof id, "%s-%ld", s->prefix, i);
    send_envelope(s, &e);
  }
}

static void on_close(arq_ws_client_t *c, const char *why) {
  ps_t *s = c->data;
  if (s->done)
    return;
  fprintf(stderr, "%s: %s: %s\n", s->a->prog, s->a->url, why);
  finish(s, 1);
}

/* An error event's {"code":N,"reason":"..."}; code 0 and reason "?" when unreadable. */
static void error_of(ps_t *s, const Arqon__V1__Event *ev, long *code, const char **reason) {
  *code = 0;
  *reason = "?";
  const arq_json_value_t *root =
      arq_json_parse(&s->doc, ev->data.data ? (const char *)ev->data.data : "", ev->data.len, NULL);
  if (!root || arq_json_type(root) != ARQ_JSON_OBJECT)
    return;
  int64_t n;
  const arq_json_value_t *v = arq_json_object_get(root, "code", 4);
  if (v && !arq_json_int64(v, &n))
    *code = (long)n;
  v = arq_json_object_get(root, "reason", 6);
  if (v && arq_json_string(v, NULL))
    *reason = arq_json_string(v, NULL);
}

/* The index of one of this run's ids ("<prefix>-<i>"), or 0. */
static long our_index(const ps_t *s, const char *id) {
  size_t n = strlen(s->prefix);
  if (strncmp(id, s->prefix, n) || id[n] != '-')
    return 0;
  char *end;
  long i = strtol(id + n + 1, &end, 10);
  return *end || i < 1 || i > s->a->count ? 0 : i;
}

static void pub_message(ps_t *s, const Arqon__V1__Envelope *e) {
  if (e->payload_case != ARQON__V1__ENVELOPE__PAYLOAD_EVENT)
    return;
  const Arqon__V1__Event *ev = e->event;
  bool is_error = !strcmp(ev->type, "error");
  long i = our_index(s, e->id);
  if (!i) {
    if (is_error) { /* an answer to no id of ours: the run cannot count as a success */
      long code;
      const char *reason;
      error_of(s, ev, &code, &reason);
      fprintf(stderr, "%s: error %ld %s (without an id)\n", s->a->prog, code, reason);
      s->stray_error = true;
    }
    return; /* the welcome, or a delivery */
  }
  if (s->answered[i - 1])
    return;
  s->answered[i - 1] = 1;
  s->replies++;
  if (!strcmp(ev->type, "ack")) {
    s->acked++;
    printf("ack %s\n", e->id);
  } else {
    long code = 0;
    const char *reason = "?";
    if (is_error)
      error_of(s, ev, &code, &reason);
    else
      reason = ev->type; /* not a reply type the protocol has: shown as it came */
    printf("error %ld %s %s\n", code, reason, e->id);
  }
  fflush(stdout);
  if (s->replies == s->a->count)
    finish(s, s->acked == s->a->count && !s->stray_error ? 0 : 1);
}

static void sub_print(ps_t *s, const char *json, size_t len) {
  if (fwrite(json, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout)) {
    fprintf(stderr, "%s: writing stdout: %s\n", s->a->prog, strerror(errno));
    finish(s, 1);
    return;
  }
  s->delivered++;
  if (s->a->count_set && s->delivered >= s->a->count)
    finish(s, 0);
}

static void sub_message(ps_t *s, const Arqon__V1__Envelope *e, const char *json, size_t len) {
  const char *prog = s->a->prog;
  if (e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_SIGNAL) {
    fprintf(stderr, "%s: system signal %d from the Shield: %s\n", prog, (int)e->signal->type,
            e->signal->reason);
    return;
  }
  if (e->payload_case != ARQON__V1__ENVELOPE__PAYLOAD_EVENT)
    return;
  const Arqon__V1__Event *ev = e->event;
  bool is_error = !strcmp(ev->type, "error");
  long code;
  const char *reason;
  if (!s->joined && *e->id && !strncmp(e->id, s->prefix, strlen(s->prefix))) {
    if (is_error) {
      error_of(s, ev, &code, &reason);
      fprintf(stderr, "%s: join of room '%s' refused: error %ld %s\n", prog, s->a->room, code,
              reason);
      finish(s, 1);
      return;
    }
    s->joined = true;
    fprintf(stderr, "%s: joined room '%s' of tenant '%s'\n", prog, s->a->room, s->a->tenant);
    if (!s->a->timeout_set)
      arq_timer_stop(s->loop, &s->deadline);
    return;
  }
  if (is_error) {
    error_of(s, ev, &code, &reason);
    fprintf(stderr, "%s: error %ld %s\n", prog, code, reason);
    return;
  }
  if (!strcmp(ev->type, "welcome") || !strcmp(ev->type, "ack"))
    return;
  sub_print(s, json, len);
}

static void on_message(arq_ws_client_t *c, bool binary, const uint8_t *data, size_t len) {
  ps_t *s = c->data;
  if (s->done)
    return;
  Arqon__V1__Envelope decoded, *e = &decoded;
  char err[256];
  const char *json = (const char *)data;
  size_t jlen = len;
  if (binary) { /* not asked for, but the protocol allows it: printed in the JSON mapping */
    arq_envelope_arena_reset(&s->arena);
    ProtobufCAllocator alloc = arq_envelope_arena_allocator(&s->arena);
    e = arqon__v1__envelope__unpack(&alloc, len, data);
    if (!e) {
      fprintf(stderr, "%s: a binary frame that is not an Envelope was ignored\n", s->a->prog);
      return;
    }
    arq_buf_reset(&s->scratch);
    arq_envelope_to_json(e, &s->scratch);
    json = s->scratch.data;
    jlen = s->scratch.len;
  } else if (arq_envelope_from_json(json, len, e, &s->arena, err, sizeof err)) {
    fprintf(stderr, "%s: a text frame that is not an Envelope was ignored: %s\n", s->a->prog, err);
    return;
  }
  if (s->a->pub)
    pub_message(s, e);
  else
    sub_message(s, e, json, jlen);
}

static void deadline_cb(arq_loop_t *loop, arq_timer_t *t) {
  (void)loop;
  ps_t *s = t->data;
  const ps_args_t *a = s->a;
  if (a->pub) {
    fprintf(stderr, "%s: timed out after %g s: %ld of %ld replies received\n", a->prog,
            a->timeout_s, s->replies, a->count);
    finish(s, 1);
  } else if (!s->joined) {
    fprintf(stderr, "%s: timed out after %g s before the join of room '%s' was acknowledged\n",
            a->prog, a->timeout_set ? a->timeout_s : SUB_CONNECT_TIMEOUT_S, a->room);
    finish(s, 1);
  } else if (a->count_set) {
    fprintf(stderr, "%s: timed out after %g s: %ld of %ld events received\n", a->prog,
            a->timeout_s, s->delivered, a->count);
    finish(s, 1);
  } else {
    finish(s, 0);
  }
}

static void signal_cb(arq_loop_t *loop, arq_io_t *io, uint32_t events) {
  (void)loop, (void)events;
  ps_t *s = io->data;
  struct signalfd_siginfo si;
  if (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si)
    finish(s, 0);
}

static int resolve(const ps_args_t *a, struct sockaddr_storage *addr, socklen_t *alen,
                   char *hostport, size_t hpcap, const char **path) {
  char host[256];
  uint16_t port;
  if (arq_url_split(a->url, "ws", host, sizeof host, &port, path))
    return -1; /* check_args has seen the URL */
  snprintf(hostport, hpcap, "%s:%u", host, port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  int rc = getaddrinfo(host, ps, &hints, &ai);
  if (rc) {
    fprintf(stderr, "%s: --url: %s: %s\n", a->prog, host, gai_strerror(rc));
    return -1;
  }
  memcpy(addr, ai->ai_addr, ai->ai_addrlen);
  *alen = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

/* "<path>?token=...&encoding=json" into target: 0, or -1 (reported) without a token. */
static int make_target(const ps_args_t *a, const char *path, arq_buf_t *target) {
  char *secret = arq_token_secret(a->prog, a->secret, a->config);
  if (!secret)
    return -1;
  char rooms[100];
  snprintf(rooms, sizeof rooms, "{\"rooms\":[\"%s\"]}", a->room); /* ids need no escaping */
  arq_token_claims_t claims = {a->tenant, a->user, NULL, rooms, TOKEN_TTL_S};
  int jerr = 0;
  char *token = arq_token_mint(&claims, secret, &jerr);
  free(secret);
  if (!token) {
    fprintf(stderr, "%s: could not sign the token (libjwt error %d)\n", a->prog, jerr);
    return -1;
  }
  arq_buf_printf(target, "%s%ctoken=%s&encoding=json", path, strchr(path, '?') ? '&' : '?', token);
  free(token);
  return 0;
}

static const arq_ws_client_handlers_t handlers = {on_open, on_message, on_close};

/* Blocks SIGINT/SIGTERM and watches them through a signalfd: fd, or -1 (reported). */
static int watch_signals(ps_t *s) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int fd = -1;
  if (sigprocmask(SIG_BLOCK, &set, NULL) ||
      (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
      arq_io_start(s->loop, &s->sigio, fd, ARQ_IO_READ, signal_cb, s)) {
    fprintf(stderr, "%s: watching SIGINT/SIGTERM: %s\n", s->a->prog, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static int run(const ps_args_t *a, const uint8_t *data, size_t data_len) {
  struct sockaddr_storage addr;
  socklen_t alen;
  char hostport[300];
  const char *path;
  if (resolve(a, &addr, &alen, hostport, sizeof hostport, &path))
    return 1;
  arq_buf_t target;
  arq_buf_init(&target);
  if (make_target(a, path, &target)) {
    arq_buf_free(&target);
    return 1;
  }
  ps_t s = {.a = a, .data = data, .data_len = data_len, .rc = 1};
  s.sigio.fd = -1;
  s.loop = arq_loop_new();
  if (!s.loop) {
    fprintf(stderr, "%s: epoll: %s\n", a->prog, strerror(errno));
    arq_buf_free(&target);
    return 1;
  }
  arq_envelope_arena_init(&s.arena, NULL);
  arq_json_doc_init(&s.doc, NULL);
  arq_buf_init(&s.scratch);
  uint64_t r;
  if (getrandom(&r, sizeof r, 0) != sizeof r)
    r = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
  snprintf(s.prefix, sizeof s.prefix, "%016llx", (unsigned long long)r);
  if (a->pub && !(s.answered = calloc((size_t)a->count, 1)))
    arq_oom("arq pub");
  arq_timer_init(&s.deadline, deadline_cb, &s);
  double limit = a->timeout_set || a->pub ? a->timeout_s : SUB_CONNECT_TIMEOUT_S;
  arq_timer_start(s.loop, &s.deadline, (uint64_t)(limit * 1000));
  char err[256];
  int sigfd = a->pub ? -1 : watch_signals(&s);
  if (!a->pub && sigfd < 0) {
    /* reported */
  } else if (arq_ws_client_connect(&s.ws, s.loop, (struct sockaddr *)&addr, alen, NULL, 0, hostport,
                             target.data, &handlers, &s, err, sizeof err)) {
    fprintf(stderr, "%s: %s: %s\n", a->prog, a->url, err);
  } else if (arq_loop_run(s.loop)) {
    fprintf(stderr, "%s: the event loop failed\n", a->prog);
    s.rc = 1;
  }
  arq_ws_client_close(&s.ws, 1000, "done");
  arq_ws_client_free(&s.ws);
  arq_timer_stop(s.loop, &s.deadline);
  if (sigfd >= 0) {
    arq_io_stop(s.loop, &s.sigio);
    close(sigfd);
  }
  arq_loop_run_pending(s.loop);
  arq_loop_free(s.loop);
  arq_envelope_arena_free(&s.arena);
  arq_json_doc_free(&s.doc);
  arq_buf_free(&s.scratch);
  arq_buf_free(&target);
  free(s.answered);
  return s.rc;
}

static int pubsub_main(bool pub, int argc, char **argv) {
  ps_args_t a = {.pub = pub, .prog = pub ? "arq pub" : "arq sub", .user = "arq-cli",
                 .type = "message", .count = 1, .timeout_s = 10};
  int p = parse_args(argc, argv, &a);
  if (p > 0)
    return 0;
  if (p < 0 || check_args(&a)) {
    usage(&a, stderr);
    return 2;
  }
  arq_buf_t data;
  arq_buf_init(&data);
  if (pub && !strcmp(a.data, "-")) {
    if (arq_cli_read_stream(stdin, MAX_DATA_BYTES, &data) || data.len > MAX_DATA_BYTES) {
      fprintf(stderr, "%s: stdin: %s\n", a.prog, data.len > MAX_DATA_BYTES ? "more than 1 MiB"
                                                                           : strerror(errno));
      arq_buf_free(&data);
      return 1;
    }
  } else if (pub) {
    arq_buf_puts(&data, a.data);
  }
  int rc = run(&a, (const uint8_t *)data.data, data.len);
  arq_buf_free(&data);
  return rc;
}

int arq_cmd_pub(int argc, char **argv) { return pubsub_main(true, argc, argv); }
int arq_cmd_sub(int argc, char **argv) { return pubsub_main(false, argc, argv); }
