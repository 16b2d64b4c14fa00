/* arq bench: a load generator for the Shield, and for nats-server's WebSocket listener to
 * compare against (SPEC section 9). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/token.h"
#include "common/buf.h"
#include "common/ids.h"
#include "common/json.h"
#include "loadgen/histogram.h"
#include "loadgen/metrics.h"
#include "loadgen/responder.h"
#include "loadgen/run.h"

#define ROUTE_METRIC "shield_route_duration_seconds"
#define FDS_SPARE 64 /* stdio, epoll, NATS, the metrics scrape */
#define TOKEN_TTL_S 86400

static void bench_usage(FILE *out) {
  fprintf(out,
    "usage: arq bench --url ws://HOST:PORT/PATH [--target shield|nats-ws]\n"
    "                 [--mode ack|roundtrip|fanout|idle|rooms] [--connections N]\n"
    "                 [--rate MSG_PER_S] [--duration S] [--size BYTES]\n"
    "                 [--secret S | --config PATH] [--tenant T] [--room R] [--rooms R]\n"
    "                 [--members M] [--burst-rate MSG_PER_S --burst-s S] [--acks-only]\n"
    "                 [--no-join] [--nats URL] [--publishers K] [--metrics URL | --no-metrics]\n"
    "                 [--pid PID] [--drain-ms MS] [--connect-timeout S] [--concurrency N]\n"
    "                 [--source ADDR] [--json] [--quiet]\n"
    "  Opens N WebSocket clients, publishes RATE messages per second in total for S seconds\n"
    "  and reports throughput and latency percentiles (log-linear histogram, < 1.6 %% error).\n"
    "  modes:\n"
    "    ack        latency = send -> the Shield's ack (all clients publish to one room)\n"
    "    roundtrip  each client its own room (or subject); latency = send -> delivery back to\n"
    "               the sender. With the Shield, a responder on --nats republishes\n"
    "               in.t.<tenant>.r.<room> to out.t.<tenant>.r.<room> in place of the Brain\n"
    "    fanout     every client joins one room (subject); K publishers; every member receives\n"
    "    idle       connect, hold S seconds; with --pid, the server's VmRSS before and after\n"
    "    rooms      --rooms R rooms <room>-0..<room>-(R-1) (nats-ws: subjects <room>.0 ...), each\n"
    "               with --members M members and one publisher that is a member too (so\n"
    "               --connections is R*(M+1)); RATE is over all rooms. The data of each message\n"
    "               is its send time, a per-room counter and a run tag (48 bytes), then SIZE\n"
    "               bytes. Every receiver checks its room's counters (lost, duplicates, out of\n"
    "               order) and, from the Shield, the Brain's seq (gaps, repeats, members that\n"
    "               disagree on a message's seq); presence events and acks are not counted.\n"
    "               Needs the Brain behind the Shield (no responder is started). With\n"
    "               --burst-rate X --burst-s S: X msg/s from duration/3 on for S seconds.\n"
    "               Reports the drain: from the last send to the last delivery; \"lost\"\n"
    "               is what had not arrived when the drain ended. --acks-only (Shield): the\n"
    "               drain ends once every message is acked or refused and deliveries are\n"
    "               not checked, for publishing while nothing delivers (the Brain stopped).\n"
    "  --target nats-ws speaks the NATS protocol over nats-server's WebSocket listener\n"
    "  (websocket { no_tls: true }), publishing to and subscribing its own subjects.\n"
    "  The Shield's " ROUTE_METRIC " histogram is read from /metrics before and after\n"
    "  (default: the --url host and port) and its p50/p99 for the run reported.\n"
    "  --source ADDR connects from that local address (each one has its own ~28 000\n"
    "  ephemeral ports per server address: several clients, 127.0.0.2, 127.0.0.3, ...).\n"
    "  Defaults: --target shield --mode ack --connections 10 --rate 1000 --duration 5\n"
    "  --size 64 --tenant bench --room bench --nats nats://127.0.0.1:4222 --publishers 1\n"
    "  --drain-ms 3000 (rooms: 10000; it ends once everything arrived) --connect-timeout 60\n"
    "  --concurrency 200 --rooms 10 --members 10; the token secret: --secret,\n"
    "  else ARQON_JWT_SECRET, else [auth] of --config PATH (as arq auth gen).\n");
}

typedef struct {
  arq_bench_opts_t o;
  const char *nats_url, *metrics_url, *config;
  const char *secret; /* --secret, else the owned one below */
  char *found_secret; /* owned, when found in the environment or --config */
  bool no_metrics, json, drain_set, connections_set;
  long pid;
} bench_args_t;

static int num(const char *opt, const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (!*v || *end || errno || !(d >= lo && d <= hi)) {
    fprintf(stderr, "arq bench: %s: expected a number from %g to %g, got '%s'\n", opt, lo, hi, v);
    return -1;
  }
  *out = d;
  return 0;
}

static int integer(const char *opt, const char *v, long lo, long hi, long *out) {
  double d;
  if (num(opt, v, (double)lo, (double)hi, &d))
    return -1;
  if (d != floor(d)) {
    fprintf(stderr, "arq bench: %s: expected a whole number, got '%s'\n", opt, v);
    return -1;
  }
  *out = (long)d;
  return 0;
}

static int parse_args(int argc, char **argv, bench_args_t *a) {
  arq_bench_opts_t *o = &a->o;
  *o = (arq_bench_opts_t){.target = ARQ_BENCH_SHIELD, .mode = ARQ_BENCH_ACK, .tenant = "bench",
                          .room = "bench", .join = true, .connections = 10, .publishers = 1,
                          .concurrency = 200, .rate = 1000, .duration_s = 5, .size = 64,
                          .drain_ms = 3000, .connect_timeout_ms = 60000, .rooms = 10,
                          .members = 10};
  a->nats_url = "nats://127.0.0.1:4222";
  double secs;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
      bench_usage(stdout);
      exit(0);
    }
    if (!strcmp(opt, "--no-join")) { o->join = false; continue; }
    if (!strcmp(opt, "--no-metrics")) { a->no_metrics = true; continue; }
    if (!strcmp(opt, "--json")) { a->json = true; continue; }
    if (!strcmp(opt, "--quiet")) { o->quiet = true; continue; }
    if (!strcmp(opt, "--acks-only")) { o->acks_only = true; continue; }
    if (strncmp(opt, "--", 2)) {
      fprintf(stderr, "arq bench: unexpected argument '%s'\n", opt);
      return -1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "arq bench: %s needs a value\n", opt);
      return -1;
    }
    const char *v = argv[++i];
    int rc = 0;
    if (!strcmp(opt, "--url")) o->url = v;
    else if (!strcmp(opt, "--source")) o->source = v;
    else if (!strcmp(opt, "--secret")) a->secret = v;
    else if (!strcmp(opt, "--config")) a->config = v;
    else if (!strcmp(opt, "--tenant")) o->tenant = v;
    else if (!strcmp(opt, "--room")) o->room = v;
    else if (!strcmp(opt, "--nats")) a->nats_url = v;
    else if (!strcmp(opt, "--metrics")) a->metrics_url = v;
    else if (!strcmp(opt, "--target")) {
      if (!strcmp(v, "shield")) o->target = ARQ_BENCH_SHIELD;
      else if (!strcmp(v, "nats-ws")) o->target = ARQ_BENCH_NATS_WS;
      else {
        fprintf(stderr, "arq bench: --target: expected shield or nats-ws, got '%s'\n", v);
        return -1;
      }
    } else if (!strcmp(opt, "--mode")) {
      if (!strcmp(v, "ack")) o->mode = ARQ_BENCH_ACK;
      else if (!strcmp(v, "roundtrip")) o->mode = ARQ_BENCH_ROUNDTRIP;
      else if (!strcmp(v, "fanout")) o->mode = ARQ_BENCH_FANOUT;
      else if (!strcmp(v, "idle")) o->mode = ARQ_BENCH_IDLE;
      else if (!strcmp(v, "rooms")) o->mode = ARQ_BENCH_ROOMS;
      else {
        fprintf(stderr, "arq bench: --mode: expected ack, roundtrip, fanout, idle or rooms, "
                        "got '%s'\n", v);
        return -1;
      }
    }
    else if (!strcmp(opt, "--connections")) {
      rc = integer(opt, v, 1, 200000, &o->connections);
      a->connections_set = true;
    }
    else if (!strcmp(opt, "--rooms")) rc = integer(opt, v, 1, 100000, &o->rooms);
    else if (!strcmp(opt, "--members")) rc = integer(opt, v, 0, 100000, &o->members);
    else if (!strcmp(opt, "--burst-rate")) rc = num(opt, v, 1, 1e6, &o->burst_rate);
    else if (!strcmp(opt, "--burst-s")) rc = num(opt, v, 0.1, 3600, &o->burst_s);
    else if (!strcmp(opt, "--publishers")) rc = integer(opt, v, 1, 200000, &o->publishers);
    else if (!strcmp(opt, "--concurrency")) rc = integer(opt, v, 1, 10000, &o->concurrency);
    else if (!strcmp(opt, "--rate")) rc = num(opt, v, 1, 1e6, &o->rate);
    else if (!strcmp(opt, "--duration")) rc = num(opt, v, 0.1, 3600, &o->duration_s);
    else if (!strcmp(opt, "--size")) rc = integer(opt, v, 0, 1 << 20, &o->size);
    else if (!strcmp(opt, "--drain-ms")) {
      rc = integer(opt, v, 0, 600000, &o->drain_ms);
      a->drain_set = true;
    }
    else if (!strcmp(opt, "--pid")) rc = integer(opt, v, 1, 1L << 30, &a->pid);
    else if (!strcmp(opt, "--connect-timeout")) {
      rc = num(opt, v, 1, 600, &secs);
      o->connect_timeout_ms = (long)(secs * 1000);
    } else {
      fprintf(stderr, "arq bench: unknown option '%s'\n", opt);
      return -1;
    }
    if (rc)
      return -1;
  }
  return 0;
}

static int check_args(bench_args_t *a) {
  arq_bench_opts_t *o = &a->o;
  if (!o->url) {
    fprintf(stderr, "arq bench: --url is required\n");
    return -1;
  }
  if (o->target == ARQ_BENCH_SHIELD) {
    if (!a->secret) {
      if (!getenv("ARQON_JWT_SECRET") && !a->config) {
        fprintf(stderr, "arq bench: --secret, ARQON_JWT_SECRET or --config is required for the "
                        "Shield\n");
        return -1;
      }
      if (!(a->found_secret = arq_token_secret("arq bench", NULL, a->config)))
        return -1;
      a->secret = a->found_secret;
    }
    const char *p = arq_id_problem(o->tenant);
    if (p) {
      fprintf(stderr, "arq bench: --tenant '%s': %s\n", o->tenant, p);
      return -1;
    }
    /* Rooms get "-<index>" appended in roundtrip mode and must stay valid ids. */
    if ((p = arq_id_problem(o->room)) || strlen(o->room) > 56) {
      fprintf(stderr, "arq bench: --room '%s': %s\n", o->room, p ? p : "at most 56 characters");
      return -1;
    }
  } else if (o->mode == ARQ_BENCH_ACK) {
    fprintf(stderr, "arq bench: --mode ack needs --target shield (NATS core has no acks)\n");
    return -1;
  }
  if (o->mode == ARQ_BENCH_ROOMS) {
    if (a->connections_set) {
      fprintf(stderr, "arq bench: --mode rooms: --connections is --rooms * (--members + 1)\n");
      return -1;
    }
    if ((double)o->rooms * (double)(o->members + 1) > 200000) {
      fprintf(stderr, "arq bench: --rooms %ld * (--members %ld + 1) is more than 200000 "
                      "connections\n", o->rooms, o->members);
      return -1;
    }
    o->connections = o->rooms * (o->members + 1);
    if (!a->drain_set)
      o->drain_ms = 10000;
    if (o->target == ARQ_BENCH_NATS_WS && strpbrk(o->room, " \t\r\n*>")) {
      fprintf(stderr, "arq bench: --room '%s': not a NATS subject token\n", o->room);
      return -1;
    }
    if (o->acks_only && o->target != ARQ_BENCH_SHIELD) {
      fprintf(stderr, "arq bench: --acks-only needs --target shield (NATS core has no acks)\n");
      return -1;
    }
  } else if (o->burst_rate > 0 || o->burst_s > 0 || o->acks_only) {
    fprintf(stderr, "arq bench: --burst-rate, --burst-s and --acks-only are for --mode rooms\n");
    return -1;
  }
  if ((o->burst_rate > 0) != (o->burst_s > 0)) {
    fprintf(stderr, "arq bench: --burst-rate and --burst-s go together\n");
    return -1;
  }
  if (o->publishers > o->connections) {
    fprintf(stderr, "arq bench: --publishers %ld is more than --connections %ld\n", o->publishers,
            o->connections);
    return -1;
  }
  if (!o->join && o->mode != ARQ_BENCH_ACK && o->mode != ARQ_BENCH_IDLE) {
    fprintf(stderr, "arq bench: --no-join: deliveries need members; only with ack or idle\n");
    return -1;
  }
  if (o->mode == ARQ_BENCH_IDLE && !a->pid)
    fprintf(stderr, "arq bench: note: without --pid the idle mode reports no memory figures\n");
  return 0;
}

/* Each client is a descriptor: raise the soft limit to what is needed, or say why not. */
static int ensure_fds(long connections) {
  struct rlimit rl;
  rlim_t need = (rlim_t)connections + FDS_SPARE;
  if (getrlimit(RLIMIT_NOFILE, &rl))
    return 0;
  if (rl.rlim_cur >= need)
    return 0;
  if (rl.rlim_max >= need) {
    rl.rlim_cur = need;
    if (!setrlimit(RLIMIT_NOFILE, &rl))
      return 0;
  }
  fprintf(stderr, "arq bench: --connections %ld needs %llu file descriptors; the limit is %llu "
                  "(raise it with ulimit -n)\n", connections, (unsigned long long)need,
          (unsigned long long)rl.rlim_max);
  return -1;
}

/* ---- measurements around the run ---- */

typedef struct {
  bench_args_t *a;
  char host[256];
  uint16_t port;
  const char *path;
  bool scrape;
  arq_prom_hist_t before, after;
  bool have_before, have_after;
  char scrape_error[300];
  long rss_before, rss_after, rss_connected;
  double cpu_connected, cpu_after; /* the server's CPU seconds, around the load */
  struct rusage self_connected, self_after;
} around_t;

static void scrape(around_t *m, arq_prom_hist_t *h, bool *ok) {
  if (!m->scrape)
    return;
  char err[256];
  int status = 0;
  arq_buf_t body;
  arq_buf_init(&body);
  if (arq_cli_http_get(m->host, m->port, m->path, 5000, &status, &body, err, sizeof err))
    snprintf(m->scrape_error, sizeof m->scrape_error, "%s", err);
  else if (status != 200)
    snprintf(m->scrape_error, sizeof m->scrape_error, "GET http://%s:%u%s: answer is not 200 OK",
             m->host, m->port, m->path);
  else if (arq_prom_hist_parse(body.data, ROUTE_METRIC, h))
    snprintf(m->scrape_error, sizeof m->scrape_error, "no histogram %s in the metrics", ROUTE_METRIC);
  else
    *ok = true;
  arq_buf_free(&body);
}

static void on_connected(void *ud) {
  around_t *m = ud;
  scrape(m, &m->before, &m->have_before);
  getrusage(RUSAGE_SELF, &m->self_connected);
  if (m->a->pid) {
    m->rss_connected = arq_proc_rss_kib(m->a->pid);
    m->cpu_connected = arq_proc_cpu_s(m->a->pid);
  }
}

static void on_finished(void *ud) {
  around_t *m = ud;
  getrusage(RUSAGE_SELF, &m->self_after);
  if (m->a->pid) {
    m->rss_after = arq_proc_rss_kib(m->a->pid);
    m->cpu_after = arq_proc_cpu_s(m->a->pid);
  }
  scrape(m, &m->after, &m->have_after);
}

static int setup_scrape(around_t *m) {
  bench_args_t *a = m->a;
  if (a->no_metrics || (a->o.target != ARQ_BENCH_SHIELD && !a->metrics_url))
    return 0;
  if (a->metrics_url) {
    if (arq_url_split(a->metrics_url, "http", m->host, sizeof m->host, &m->port, &m->path)) {
      fprintf(stderr, "arq bench: --metrics: expected http://HOST:PORT/PATH, got '%s'\n",
              a->metrics_url);
      return -1;
    }
  } else {
    const char *ignored;
    if (arq_url_split(a->o.url, "ws", m->host, sizeof m->host, &m->port, &ignored))
      return 0; /* the run reports the bad --url */
    m->path = "/metrics";
  }
  m->scrape = true;
  return 0;
}

/* ---- report ---- */

static const char *target_name(arq_bench_target_t t) { return t == ARQ_BENCH_SHIELD ? "shield" : "nats-ws"; }

static const char *mode_name(arq_bench_mode_t m) {
  static const char *const names[] = {"ack", "roundtrip", "fanout", "idle", "rooms"};
  return names[m];
}

static double us(uint64_t ns) { return (double)ns / 1e3; }

/* ---- --json: one object, built with the JSON writer; numbers keep the fixed decimals the
 * report has always had ---- */

static void w_key(arq_json_writer_t *w, const char *key) { arq_json_w_key(w, key, strlen(key)); }

static void w_fixed(arq_json_writer_t *w, const char *key, int decimals, double v) {
  w_key(w, key);
  char text[64];
  int n = snprintf(text, sizeof text, "%.*f", decimals, v);
  if (isfinite(v) && n > 0 && (size_t)n < sizeof text)
    arq_json_w_raw(w, text, (size_t)n);
  else
    arq_json_w_null(w);
}

static void w_u64(arq_json_writer_t *w, const char *key, uint64_t v) {
  w_key(w, key);
  arq_json_w_uint64(w, v);
}

static void w_i64(arq_json_writer_t *w, const char *key, long v) {
  w_key(w, key);
  arq_json_w_int64(w, v);
}

static void w_bool(arq_json_writer_t *w, const char *key, bool v) {
  w_key(w, key);
  arq_json_w_bool(w, v);
}

static void w_str(arq_json_writer_t *w, const char *key, const char *v) {
  w_key(w, key);
  arq_json_w_string(w, v, strlen(v));
}

static void json_hist(arq_json_writer_t *w, const char *name, const arq_hist_t *h) {
  w_key(w, name);
  arq_json_w_object_begin(w);
  w_u64(w, "count", h->count);
  w_fixed(w, "p50", 1, us(arq_hist_percentile(h, 50)));
  w_fixed(w, "p90", 1, us(arq_hist_percentile(h, 90)));
  w_fixed(w, "p99", 1, us(arq_hist_percentile(h, 99)));
  w_fixed(w, "p999", 1, us(arq_hist_percentile(h, 99.9)));
  w_fixed(w, "max", 1, us(h->count ? h->max : 0));
  w_fixed(w, "mean", 1, arq_hist_mean(h) / 1e3);
  arq_json_w_object_end(w);
}

static void text_hist(FILE *f, const char *name, const arq_hist_t *h) {
  if (!h->count)
    return;
  fprintf(f, "%-22s n=%llu p50 %.1f µs  p90 %.1f µs  p99 %.1f µs  p99.9 %.1f µs  max %.1f µs  "
             "mean %.1f µs\n",
          name, (unsigned long long)h->count, us(arq_hist_percentile(h, 50)),
          us(arq_hist_percentile(h, 90)), us(arq_hist_percentile(h, 99)),
          us(arq_hist_percentile(h, 99.9)), us(h->max), arq_hist_mean(h) / 1e3);
}

static double per_s(uint64_t n, double s) { return s > 0 ? (double)n / s : 0; }

static const char *const phase_names[3] = {"before_burst", "burst", "after_burst"};

static void json_rooms(arq_json_writer_t *w, const arq_bench_opts_t *o,
                       const arq_bench_result_t *r) {
  w_key(w, "rooms");
  arq_json_w_object_begin(w);
  w_i64(w, "rooms", o->rooms);
  w_i64(w, "members", o->members);
  w_i64(w, "receivers_per_room", o->members + 1);
  w_fixed(w, "offered", 0, r->rooms.offered);
  w_fixed(w, "offered_rate", 1, o->duration_s > 0 ? r->rooms.offered / o->duration_s : 0);
  w_fixed(w, "burst_rate", 1, o->burst_rate);
  w_fixed(w, "burst_s", 3, o->burst_s);
  w_u64(w, "refused", r->rooms.refused);
  w_u64(w, "lost", r->rooms.lost);
  w_u64(w, "duplicates", r->rooms.duplicates);
  w_u64(w, "out_of_order", r->rooms.out_of_order);
  w_bool(w, "seq_checked", o->target == ARQ_BENCH_SHIELD);
  w_u64(w, "seq_gaps", r->rooms.seq_gaps);
  w_u64(w, "seq_gap_missing", r->rooms.seq_gap_missing);
  w_u64(w, "seq_repeats", r->rooms.seq_repeats);
  w_u64(w, "seq_mismatches", r->rooms.seq_mismatches);
  w_u64(w, "seq_missing", r->rooms.seq_missing);
  w_u64(w, "foreign", r->rooms.foreign);
  w_fixed(w, "drain_s", 3, r->rooms.drain_s);
  w_bool(w, "acks_only", o->acks_only);
  if (r->rooms.phase[0]) {
    w_fixed(w, "burst_drain_s", 3, r->rooms.burst_drain_s);
    for (int i = 0; i < 3; i++)
      json_hist(w, phase_names[i], r->rooms.phase[i]);
  }
  arq_json_w_object_end(w);
}

static void text_rooms(FILE *f, const arq_bench_opts_t *o, const arq_bench_result_t *r) {
  fprintf(f, "rooms: %ld rooms x (%ld members + 1 publisher); offered %.0f messages (%.0f/s)",
          o->rooms, o->members, r->rooms.offered,
          o->duration_s > 0 ? r->rooms.offered / o->duration_s : 0);
  if (o->burst_rate > 0)
    fprintf(f, ", burst %.0f/s for %.1f s from %.1f s", o->burst_rate, o->burst_s,
            o->duration_s / 3);
  if (o->acks_only)
    fprintf(f, " (--acks-only: deliveries not checked)");
  fprintf(f, "\n  refused %llu, lost %llu, duplicates %llu, out of order %llu",
          (unsigned long long)r->rooms.refused, (unsigned long long)r->rooms.lost,
          (unsigned long long)r->rooms.duplicates, (unsigned long long)r->rooms.out_of_order);
  if (o->target == ARQ_BENCH_SHIELD)
    fprintf(f, "; seq gaps %llu (%llu seqs skipped), repeats %llu, mismatches %llu, missing %llu",
            (unsigned long long)r->rooms.seq_gaps, (unsigned long long)r->rooms.seq_gap_missing,
            (unsigned long long)r->rooms.seq_repeats, (unsigned long long)r->rooms.seq_mismatches,
            (unsigned long long)r->rooms.seq_missing);
  if (r->rooms.foreign)
    fprintf(f, "; %llu deliveries of another run or malformed",
            (unsigned long long)r->rooms.foreign);
  fprintf(f, "\n  drain: last delivery %.3f s after the last send\n", r->rooms.drain_s);
  if (r->rooms.phase[0]) {
    fprintf(f, "  the last delivery of a burst message %.3f s after the burst\n", r->rooms.burst_drain_s);
    static const char *const labels[3] = {"  sent before the burst", "  sent in the burst",
                                          "  sent after the burst"};
    for (int i = 0; i < 3; i++)
      text_hist(f, labels[i], r->rooms.phase[i]);
  }
}

static double tv_s(struct timeval a, struct timeval b) {
  return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

/* CPU seconds this process (clients and responder) used while the load ran. */
static double self_cpu_s(const around_t *m) {
  return tv_s(m->self_connected.ru_utime, m->self_after.ru_utime) +
         tv_s(m->self_connected.ru_stime, m->self_after.ru_stime);
}

static void report(const bench_args_t *a, const arq_bench_result_t *r, const around_t *m,
                   const arq_responder_t *resp) {
  const arq_bench_opts_t *o = &a->o;
  bool route = m->have_before && m->have_after;
  arq_prom_hist_t d;
  bool open50 = false, open99 = false;
  double q50 = NAN, q99 = NAN;
  if (route && !arq_prom_hist_delta(&m->after, &m->before, &d)) {
    q50 = arq_prom_hist_quantile(&d, 0.5, &open50) * 1e6;
    q99 = arq_prom_hist_quantile(&d, 0.99, &open99) * 1e6;
  } else {
    route = false;
  }
  long rss_base = m->rss_before, rss_top = m->rss_after > 0 ? m->rss_after : m->rss_connected;
  double per_conn = r->ready && rss_base > 0 && rss_top > 0
                        ? (double)(rss_top - rss_base) * 1024.0 / (double)r->ready : NAN;
  uint64_t lost_acks = o->target == ARQ_BENCH_SHIELD && o->mode != ARQ_BENCH_IDLE &&
                               r->sent > r->acked + r->errors ? r->sent - r->acked - r->errors : 0;
  uint64_t lost_dl = r->delivered_expected > r->delivered ? r->delivered_expected - r->delivered : 0;
  double t = r->run_s;
  double rx = r->rx_s > t ? r->rx_s : t; /* answers may keep coming after the last send */
  if (a->json) {
    arq_buf_t out;
    arq_buf_init(&out);
    arq_json_writer_t w;
    arq_json_writer_init(&w, &out);
    arq_json_w_object_begin(&w);
    w_str(&w, "target", target_name(o->target));
    w_str(&w, "mode", mode_name(o->mode));
    w_i64(&w, "connections", o->connections);
    w_i64(&w, "ready", r->ready);
    w_i64(&w, "connect_failed", r->connect_failed);
    w_i64(&w, "closed_during_run", r->closed_during_run);
    w_fixed(&w, "connect_s", 3, r->connect_s);
    w_fixed(&w, "rate_target", 1, o->mode == ARQ_BENCH_IDLE ? 0 : o->rate);
    w_fixed(&w, "run_s", 3, t);
    w_fixed(&w, "rx_s", 3, rx);
    w_i64(&w, "payload_bytes", o->size);
    w_u64(&w, "sent", r->sent);
    w_fixed(&w, "send_rate", 1, per_s(r->sent, t));
    w_u64(&w, "acked", r->acked);
    w_fixed(&w, "ack_rate", 1, per_s(r->acked, rx));
    w_u64(&w, "delivered", r->delivered);
    w_u64(&w, "delivered_expected", r->delivered_expected);
    w_fixed(&w, "delivery_rate", 1, per_s(r->delivered, rx));
    w_u64(&w, "errors", r->errors);
    w_u64(&w, "lost_acks", lost_acks);
    w_u64(&w, "lost_deliveries", lost_dl);
    w_u64(&w, "other", r->other);
    w_key(&w, "error_codes");
    arq_json_w_object_begin(&w);
    for (int i = 0; i < ARQ_BENCH_MAX_CODES && r->codes[i].count; i++) {
      char code[16];
      snprintf(code, sizeof code, "%d", r->codes[i].code);
      w_u64(&w, code, r->codes[i].count);
    }
    arq_json_w_object_end(&w);
    json_hist(&w, "ack_latency_us", r->ack);
    json_hist(&w, "rt_latency_us", r->rt);
    if (o->mode == ARQ_BENCH_ROOMS)
      json_rooms(&w, o, r);
    if (route && d.count > 0) {
      w_key(&w, "shield_route_us");
      arq_json_w_object_begin(&w);
      w_fixed(&w, "count", 0, d.count);
      w_fixed(&w, "p50", 2, q50);
      w_fixed(&w, "p99", 2, q99);
      w_bool(&w, "p50_open", open50);
      w_bool(&w, "p99_open", open99);
      w_fixed(&w, "mean", 2, d.sum / d.count * 1e6);
      arq_json_w_object_end(&w);
    }
    if (resp)
      w_u64(&w, "responder_forwarded", arq_responder_forwarded(resp));
    if (a->pid) {
      w_i64(&w, "rss_before_kib", m->rss_before);
      w_i64(&w, "rss_connected_kib", m->rss_connected);
      w_i64(&w, "rss_after_kib", m->rss_after);
      w_fixed(&w, "server_cpu_s", 2, m->cpu_after - m->cpu_connected);
    }
    w_fixed(&w, "client_cpu_s", 2, self_cpu_s(m));
    if (!isnan(per_conn))
      w_fixed(&w, "bytes_per_conn", 0, per_conn);
    w_str(&w, "first_failure", r->first_failure);
    w_str(&w, "first_error", r->first_error);
    arq_json_w_object_end(&w);
    arq_buf_putc(&out, '\n');
    fwrite(out.data, 1, out.len, stdout);
    arq_buf_free(&out);
    return;
  }
  FILE *f = stdout;
  fprintf(f, "target %s, mode %s, %ld connections (%ld ready, %ld failed, %ld closed during the run), "
             "connected in %.2f s\n",
          target_name(o->target), mode_name(o->mode), o->connections, r->ready, r->connect_failed,
          r->closed_during_run, r->connect_s);
  if (o->mode != ARQ_BENCH_IDLE) {
    double offered = o->mode == ARQ_BENCH_ROOMS && o->duration_s > 0
                         ? r->rooms.offered / o->duration_s : o->rate;
    fprintf(f, "offered %.0f msg/s for %.2f s, payload %ld B: sent %llu (%.0f/s)", offered, t,
            o->size, (unsigned long long)r->sent, per_s(r->sent, t));
    if (o->target == ARQ_BENCH_SHIELD)
      fprintf(f, ", acked %llu (%.0f/s)", (unsigned long long)r->acked, per_s(r->acked, rx));
    if (o->mode != ARQ_BENCH_ACK)
      fprintf(f, ", delivered %llu of %llu (%.0f/s)", (unsigned long long)r->delivered,
              (unsigned long long)r->delivered_expected, per_s(r->delivered, rx));
    fprintf(f, ", errors %llu\n", (unsigned long long)r->errors);
    for (int i = 0; i < ARQ_BENCH_MAX_CODES && r->codes[i].count; i++)
      fprintf(f, "  error code %d: %llu\n", r->codes[i].code, (unsigned long long)r->codes[i].count);
    if (lost_acks || lost_dl)
      fprintf(f, "unanswered after the drain: %llu acks, %llu deliveries\n",
              (unsigned long long)lost_acks, (unsigned long long)lost_dl);
    text_hist(f, "ack latency", r->ack);
    text_hist(f, o->mode == ARQ_BENCH_FANOUT || o->mode == ARQ_BENCH_ROOMS ? "delivery latency"
                                                                           : "round-trip latency",
              r->rt);
    if (o->mode == ARQ_BENCH_ROOMS)
      text_rooms(f, o, r);
  }
  if (route && d.count > 0)
    fprintf(f, "shield routing (%s)  n=%.0f p50 %s%.1f µs  p99 %s%.1f µs  (from /metrics buckets)\n",
            ROUTE_METRIC, d.count, open50 ? ">" : "", q50, open99 ? ">" : "", q99);
  else if (m->scrape && !route)
    fprintf(f, "shield routing: not measured (%s)\n", m->scrape_error[0] ? m->scrape_error : "?");
  if (a->pid)
    fprintf(f, "server VmRSS: %ld KiB before, %ld KiB connected, %ld KiB after; server CPU %.2f s\n",
            m->rss_before, m->rss_connected, m->rss_after, m->cpu_after - m->cpu_connected);
  fprintf(f, "this process's CPU (clients%s): %.2f s\n", resp ? " and responder" : "", self_cpu_s(m));
  if (!isnan(per_conn))
    fprintf(f, "memory per connection: %.0f bytes\n", per_conn);
  if (r->first_failure[0])
    fprintf(f, "first connection failure: %s\n", r->first_failure);
  if (r->first_error[0])
    fprintf(f, "first error: %s\n", r->first_error);
}

static int bench(bench_args_t *args);

int arq_cmd_bench(int argc, char **argv) {
  bench_args_t a = {0};
  int rc = 2;
  if (parse_args(argc, argv, &a) || check_args(&a))
    fprintf(stderr, "run 'arq bench --help' for the options\n");
  else
    rc = bench(&a);
  free(a.found_secret);
  return rc;
}

/* The token of connection `index`: its own subject, and a rooms claim that lets it publish
 * without joining (--no-join). */
static char *mint_token(void *ud, uint32_t index, char *err, size_t errcap) {
  const bench_args_t *a = ud;
  char sub[32];
  snprintf(sub, sizeof sub, "bench-%u", index);
  arq_buf_t rooms;
  arq_buf_init(&rooms);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &rooms);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "rooms", 5);
  arq_json_w_array_begin(&w);
  arq_buf_t pattern;
  arq_buf_init(&pattern);
  arq_buf_printf(&pattern, "%s*", a->o.room);
  arq_json_w_string(&w, pattern.data, pattern.len);
  arq_json_w_array_end(&w);
  arq_json_w_object_end(&w);
  arq_token_claims_t claims = {a->o.tenant, sub, NULL, rooms.data, TOKEN_TTL_S};
  int jerr = 0;
  char *token = arq_token_mint(&claims, a->secret, &jerr);
  if (!token)
    snprintf(err, errcap, "could not sign a token (libjwt error %d)", jerr);
  arq_buf_free(&pattern);
  arq_buf_free(&rooms);
  return token;
}

static int bench(bench_args_t *args) {
  bench_args_t a = *args;
  a.o.token = mint_token;
  a.o.token_ud = &a;
  if (ensure_fds(a.o.connections))
    return 2;
  around_t m = {.a = &a, .rss_before = -1, .rss_after = -1, .rss_connected = -1};
  if (setup_scrape(&m))
    return 2;
  if (a.pid && (m.rss_before = arq_proc_rss_kib(a.pid)) < 0) {
    fprintf(stderr, "arq bench: --pid %ld: no such process (or /proc unreadable)\n", a.pid);
    return 2;
  }
  arq_responder_t *resp = NULL;
  char err[512];
  if (a.o.target == ARQ_BENCH_SHIELD &&
      (a.o.mode == ARQ_BENCH_ROUNDTRIP || a.o.mode == ARQ_BENCH_FANOUT)) {
    resp = arq_responder_start(a.nats_url, a.o.tenant, err, sizeof err);
    if (!resp) {
      fprintf(stderr, "arq bench: %s\n", err);
      return 1;
    }
  }
  arq_bench_hooks_t hooks = {on_connected, on_finished, &m};
  arq_bench_result_t r;
  int rc = arq_bench_run(&a.o, &hooks, &r, err, sizeof err);
  if (rc) {
    fprintf(stderr, "arq bench: %s\n", err);
  } else {
    report(&a, &r, &m, resp);
    /* Exit status 1 when the run did not do what was asked, so scripts notice. */
    if (!r.ready || r.connect_failed || r.closed_during_run || r.errors)
      rc = 1;
    if (a.o.mode == ARQ_BENCH_ROOMS && !a.o.acks_only &&
        (r.rooms.lost || r.rooms.duplicates || r.rooms.out_of_order || r.rooms.seq_gaps ||
         r.rooms.seq_repeats || r.rooms.seq_mismatches || r.rooms.seq_missing))
      rc = 1;
  }
  arq_responder_stop(resp);
  arq_bench_result_free(&r);
  return rc ? 1 : 0;
}
