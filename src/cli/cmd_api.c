/*
 * arq api — a thin client of the server API (docs/server-api.md):
 *
 *   arq api publish    --tenant T --room R --type TYPE [--header K=V]... DATA
 *   arq api broadcast  --tenant T --room R [--room R2]... --type TYPE DATA
 *   arq api send_user  --tenant T --user U --type TYPE DATA
 *   arq api disconnect --tenant T --user U [--reason TEXT]
 *   arq api presence   --tenant T --room R
 *   arq api history    --tenant T --room R [--since N] [--limit N]
 *
 * --url http://HOST:PORT (default http://127.0.0.1:4000: the Shield's admin listener, or its
 * client port without one); the key from ARQON_API_KEY (a key on the command line would show
 * in `ps`). DATA is sent as is (base64-encoded here); "-" reads it from stdin. Prints the
 * answer's JSON on stdout; exits 0 on a 2xx answer, 1 otherwise (the error on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/input.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/json.h"
#include "loadgen/metrics.h"

#define TIMEOUT_MS 10000
#define MAX_LIST 1000

static const char usage[] =
    "usage: arq api ENDPOINT [--url http://HOST:PORT] OPTIONS (key in ARQON_API_KEY)\n"
    "  publish    --tenant T --room R --type TYPE [--header K=V]... DATA|-\n"
    "  broadcast  --tenant T --room R [--room R]... --type TYPE [--header K=V]... DATA|-\n"
    "  send_user  --tenant T --user U --type TYPE [--header K=V]... DATA|-\n"
    "  disconnect --tenant T --user U [--reason TEXT]\n"
    "  presence   --tenant T --room R\n"
    "  history    --tenant T --room R [--since N] [--limit N]\n";

typedef struct {
  const char *url, *tenant, *user, *type, *reason, *since, *limit, *data;
  const char *rooms[MAX_LIST], *headers[MAX_LIST];
  size_t nrooms, nheaders;
} args_t;

static int parse(int argc, char **argv, args_t *a) {
  for (int i = 2; i < argc; i++) {
    const char *opt = argv[i];
    if (opt[0] != '-' || !opt[1]) { /* DATA, or "-" */
      if (a->data) {
        fprintf(stderr, "arq api: one DATA argument only ('%s')\n", opt);
        return -1;
      }
      a->data = opt;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "arq api: %s needs a value\n", opt);
      return -1;
    }
    const char *v = argv[++i];
    if (!strcmp(opt, "--url")) a->url = v;
    else if (!strcmp(opt, "--tenant")) a->tenant = v;
    else if (!strcmp(opt, "--user")) a->user = v;
    else if (!strcmp(opt, "--type")) a->type = v;
    else if (!strcmp(opt, "--reason")) a->reason = v;
    else if (!strcmp(opt, "--since")) a->since = v;
    else if (!strcmp(opt, "--limit")) a->limit = v;
    else if (!strcmp(opt, "--room") && a->nrooms < MAX_LIST) a->rooms[a->nrooms++] = v;
    else if (!strcmp(opt, "--header") && a->nheaders < MAX_LIST) a->headers[a->nheaders++] = v;
    else {
      fprintf(stderr, "arq api: unknown option %s\n%s", opt, usage);
      return -1;
    }
  }
  return 0;
}

static void member(arq_json_writer_t *w, const char *key, const char *value) {
  if (!value)
    return;
  arq_json_w_key(w, key, strlen(key));
  arq_json_w_string(w, value, strlen(value));
}

/* A decimal option as a JSON number; -1 when it is not one. */
static int number(arq_json_writer_t *w, const char *key, const char *value) {
  if (!value)
    return 0;
  char *end = NULL;
  unsigned long long n = strtoull(value, &end, 10);
  if (!*value || *end || value[0] == '-') {
    fprintf(stderr, "arq api: --%s: expected a number, got '%s'\n", key, value);
    return -1;
  }
  arq_json_w_key(w, key, strlen(key));
  arq_json_w_uint64(w, n);
  return 0;
}

/* "data" (base64 of DATA or stdin) and "headers". */
static int event_fields(arq_json_writer_t *w, const args_t *a) {
  if (!a->data) {
    fprintf(stderr, "arq api: DATA (or - for stdin) is required\n");
    return -1;
  }
  arq_buf_t raw;
  arq_buf_init(&raw);
  if (!strcmp(a->data, "-")) {
    if (arq_cli_read_stream(stdin, 64u << 20, &raw) || raw.len > 64u << 20) {
      fprintf(stderr, "arq api: cannot read DATA from stdin (at most 64 MiB)\n");
      arq_buf_free(&raw);
      return -1;
    }
  } else {
    arq_buf_puts(&raw, a->data);
  }
  arq_buf_t coded;
  arq_buf_init(&coded);
  arq_base64_append(&coded, (const uint8_t *)raw.data, raw.len);
  arq_json_w_key(w, "data", 4);
  arq_json_w_string(w, coded.len ? coded.data : "", coded.len);
  arq_buf_free(&coded);
  arq_buf_free(&raw);
  if (!a->nheaders)
    return 0;
  arq_json_w_key(w, "headers", 7);
  arq_json_w_object_begin(w);
  for (size_t i = 0; i < a->nheaders; i++) {
    const char *eq = strchr(a->headers[i], '=');
    if (!eq || eq == a->headers[i]) {
      fprintf(stderr, "arq api: --header: expected NAME=VALUE, got '%s'\n", a->headers[i]);
      return -1;
    }
    arq_json_w_key(w, a->headers[i], (size_t)(eq - a->headers[i]));
    arq_json_w_string(w, eq + 1, strlen(eq + 1));
  }
  arq_json_w_object_end(w);
  return 0;
}

/* The request body of the endpoint; -1 after saying what is missing. */
static int body_of(const char *endpoint, const args_t *a, arq_buf_t *out) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, out);
  arq_json_w_object_begin(&w);
  member(&w, "tenant", a->tenant);
  bool event = !strcmp(endpoint, "publish") || !strcmp(endpoint, "broadcast") || !strcmp(endpoint, "send_user");
  bool by_user = !strcmp(endpoint, "send_user") || !strcmp(endpoint, "disconnect");
  bool known = event || by_user || !strcmp(endpoint, "presence") || !strcmp(endpoint, "history");
  if (!known) {
    fprintf(stderr, "arq api: unknown endpoint '%s'\n%s", endpoint, usage);
    return -1;
  }
  if (!a->tenant || (by_user && !a->user) || (!by_user && !a->nrooms) || (event && !a->type)) {
    fprintf(stderr, "arq api %s: --tenant, %s%s are required\n%s", endpoint, by_user ? "--user" : "--room",
            event ? " and --type" : "", usage);
    return -1;
  }
  if (by_user)
    member(&w, "user", a->user);
  if (!strcmp(endpoint, "broadcast")) {
    arq_json_w_key(&w, "rooms", 5);
    arq_json_w_array_begin(&w);
    for (size_t i = 0; i < a->nrooms; i++)
      arq_json_w_string(&w, a->rooms[i], strlen(a->rooms[i]));
    arq_json_w_array_end(&w);
  } else if (!by_user) {
    member(&w, "room", a->rooms[0]);
  }
  member(&w, "type", event ? a->type : NULL);
  if (event && event_fields(&w, a))
    return -1;
  if (!strcmp(endpoint, "disconnect"))
    member(&w, "reason", a->reason);
  if (!strcmp(endpoint, "history") && (number(&w, "since_seq", a->since) || number(&w, "limit", a->limit)))
    return -1;
  arq_json_w_object_end(&w);
  return 0;
}

int arq_cmd_api(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  args_t a = {.url = "http://127.0.0.1:4000"};
  if (parse(argc, argv, &a))
    return 2;
  const char *key = getenv("ARQON_API_KEY");
  if (!key || !*key) {
    fprintf(stderr, "arq api: set ARQON_API_KEY to a key of [api] keys_file\n");
    return 2;
  }
  char host[256];
  uint16_t port;
  const char *rest = NULL;
  if (arq_url_split(a.url, "http", host, sizeof host, &port, &rest) || strcmp(rest, "/")) {
    fprintf(stderr, "arq api: --url: expected http://HOST:PORT, got '%s'\n", a.url);
    return 2;
  }
  arq_buf_t body, answer, headers;
  arq_buf_init(&body);
  arq_buf_init(&answer);
  arq_buf_init(&headers);
  int rc = 2;
  if (!body_of(argv[1], &a, &body)) {
    char path[64], err[512];
    snprintf(path, sizeof path, "/api/%s", argv[1]);
    arq_buf_printf(&headers, "Authorization: apikey %s\r\nContent-Type: application/json\r\n", key);
    const arq_cli_http_request_t r = {.method = "POST", .path = path, .headers = headers.data,
                                      .body = body.data, .body_len = body.len};
    int status = 0;
    if (arq_cli_http(host, port, &r, TIMEOUT_MS, &status, &answer, err, sizeof err)) {
      fprintf(stderr, "arq api: %s\n", err);
      rc = 1;
    } else if (status / 100 == 2) {
      printf("%s\n", answer.len ? answer.data : "");
      rc = 0;
    } else {
      fprintf(stderr, "arq api: %d %s\n", status, answer.len ? answer.data : "");
      rc = 1;
    }
  }
  arq_buf_free(&headers);
  arq_buf_free(&body);
  arq_buf_free(&answer);
  return rc;
}
