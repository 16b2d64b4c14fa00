/*
 * json_decode — envelope-shaped JSON decoding on the Shield's hot path: our parser
 * (src/common/json.c) against jansson 2.14, Debian's C JSON library (docs/adr/0006).
 *
 * Each iteration does what the Shield's JSON layer does for one client text frame: parse the
 * bytes, then read roomId, id, event.type, event.data and every header (key and value), with
 * duplicate keys refused. Ours parses into a document reused across messages; jansson builds a
 * fresh tree (json_loadb) and frees it (json_decref), with JSON_REJECT_DUPLICATES, and, as
 * a second jansson line, without it (what jansson costs when a duplicate may slip through).
 * A line for ours with a new document per message separates the reuse from the parser.
 * The same fields are checked against the expected values after every decode.
 *
 * Also printed: heap allocations (malloc, calloc, realloc calls) per message, counted in a
 * separate pass by this program's own malloc wrappers.
 *
 *   json_decode_bench [ITERATIONS]   (default 200000; three rounds per case, best kept)
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"

typedef struct {
  const char *name;
  char *json;
  size_t len;
  const char *data; /* the expected event.data */
  size_t data_len;
} sample_t;

/* What a decode must find: read, check, so nothing is optimised away. */
static size_t g_sink;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "json_decode_bench: %s\n", what);
  exit(1);
}

/* ---- ours ---- */

static const char *ours_str(const arq_json_value_t *obj, const char *key, size_t *len) {
  const arq_json_value_t *v = arq_json_object_get(obj, key, strlen(key));
  return v ? arq_json_string(v, len) : NULL;
}

static void decode_ours(arq_json_doc_t *doc, const sample_t *s) {
  arq_json_error_t err;
  const arq_json_value_t *root = arq_json_parse(doc, s->json, s->len, &err);
  if (!root || arq_json_type(root) != ARQ_JSON_OBJECT)
    die("ours: parse failed");
  size_t n, total = 0;
  const char *room = ours_str(root, "roomId", &n);
  total += n;
  const char *id = ours_str(root, "id", &n);
  total += n;
  const arq_json_value_t *ev = arq_json_object_get(root, "event", 5);
  const char *type = ev ? ours_str(ev, "type", &n) : NULL;
  total += n;
  const char *data = ev ? ours_str(ev, "data", &n) : NULL;
  if (!room || !id || !type || !data || n != s->data_len || memcmp(data, s->data, n))
    die("ours: wrong fields");
  total += n;
  const arq_json_value_t *h = arq_json_object_get(root, "headers", 7);
  if (!h || arq_json_type(h) != ARQ_JSON_OBJECT)
    die("ours: no headers");
  for (size_t i = 0; i < arq_json_len(h); i++) {
    size_t kl, vl;
    const char *k = arq_json_string(arq_json_object_key(h, i), &kl);
    const char *v = arq_json_string(arq_json_object_value(h, i), &vl);
    if (!k || !v)
      die("ours: bad header");
    total += kl + vl;
  }
  g_sink += total;
}

/* ---- jansson ---- */

static const char *jan_str(json_t *obj, const char *key, size_t *len) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_string(v))
    return NULL;
  *len = json_string_length(v);
  return json_string_value(v);
}

static void decode_jansson(const sample_t *s, size_t flags) {
  json_error_t err;
  json_t *root = json_loadb(s->json, s->len, flags, &err);
  if (!json_is_object(root))
    die("jansson: parse failed");
  size_t n = 0, total = 0;
  const char *room = jan_str(root, "roomId", &n);
  total += n;
  const char *id = jan_str(root, "id", &n);
  total += n;
  json_t *ev = json_object_get(root, "event");
  const char *type = jan_str(ev, "type", &n);
  total += n;
  const char *data = jan_str(ev, "data", &n);
  if (!room || !id || !type || !data || n != s->data_len || memcmp(data, s->data, n))
    die("jansson: wrong fields");
  total += n;
  json_t *h = json_object_get(root, "headers");
  if (!json_is_object(h))
    die("jansson: no headers");
  const char *k;
  json_t *v;
  json_object_foreach(h, k, v) {
    if (!json_is_string(v))
      die("jansson: bad header");
    total += strlen(k) + json_string_length(v);
  }
  json_decref(root);
  g_sink += total;
}

/* ---- allocation counting ----
 * The program's own malloc/calloc/realloc count calls while g_counting is set (an untimed
 * pass) and hand everything to glibc's allocator. */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static int g_counting;
static size_t g_allocs;

void *malloc(size_t n) {
  g_allocs += (size_t)g_counting;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  g_allocs += (size_t)g_counting;
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  g_allocs += (size_t)g_counting;
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

/* ---- the samples ---- */

static sample_t make_sample(const char *name, size_t data_bytes) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  sample_t s = {name, NULL, 0, NULL, 0};
  char *data = malloc(data_bytes + 1);
  if (!data)
    die("out of memory");
  if (data_bytes == 8) {
    memcpy(data, "aGVsbG8=", 8); /* "hello" */
  } else {
    for (size_t i = 0; i < data_bytes; i++)
      data[i] = b64[(i * 7 + 3) % 64];
  }
  data[data_bytes] = '\0';
  size_t cap = data_bytes + 512;
  s.json = malloc(cap);
  if (!s.json)
    die("out of memory");
  int n = snprintf(s.json, cap,
                   "{\"roomId\":\"R1\",\"id\":\"m1\",\"event\":{\"type\":\"chat\",\"data\":\"%s\"},"
                   "\"headers\":{\"traceparent\":"
                   "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
                   "\"x-client\":\"web/1.4.2\",\"content-type\":\"text/plain\"}}",
                   data);
  if (n < 0 || (size_t)n >= cap)
    die("sample too long");
  s.len = (size_t)n;
  s.data = data;
  s.data_len = data_bytes;
  return s;
}

typedef enum { OURS, OURS_FRESH, JANSSON_STRICT, JANSSON_LAX } impl_t;

static const char *impl_name(impl_t i) {
  return i == OURS         ? "arq_json (reused doc, duplicates refused)"
         : i == OURS_FRESH ? "arq_json (new doc per message)"
         : i == JANSSON_STRICT ? "jansson json_loadb, JSON_REJECT_DUPLICATES"
                                         : "jansson json_loadb, duplicates allowed";
}

static void run_once(impl_t impl, arq_json_doc_t *doc, const sample_t *s) {
  if (impl == OURS) {
    decode_ours(doc, s);
  } else if (impl == OURS_FRESH) {
    arq_json_doc_t fresh;
    arq_json_doc_init(&fresh, NULL);
    decode_ours(&fresh, s);
    arq_json_doc_free(&fresh);
  } else
    decode_jansson(s, impl == JANSSON_STRICT ? JSON_REJECT_DUPLICATES : 0);
}

static double bench(impl_t impl, const sample_t *s, long iters) {
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  for (long i = 0; i < iters / 20 + 1; i++) /* warm-up */
    run_once(impl, &doc, s);
  double best = 1e30;
  for (int round = 0; round < 3; round++) {
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++)
      run_once(impl, &doc, s);
    double ns = (double)(now_ns() - t0) / (double)iters;
    if (ns < best)
      best = ns;
  }
  arq_json_doc_free(&doc);
  return best;
}

static double allocs_per_msg(impl_t impl, const sample_t *s) {
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  run_once(impl, &doc, s); /* ours, reused: the document grows on the first message */
  g_allocs = 0;
  g_counting = 1;
  for (int i = 0; i < 1000; i++)
    run_once(impl, &doc, s);
  g_counting = 0;
  arq_json_doc_free(&doc);
  return (double)g_allocs / 1000.0;
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 200000;
  if (iters <= 0)
    die("ITERATIONS must be positive");
  json_object_seed(1); /* jansson seeds its hash from /dev/urandom otherwise */
  sample_t samples[] = {make_sample("typical (8-byte data)", 8),
                        make_sample("1 KiB data", 1024), make_sample("16 KiB data", 16384)};
  printf("jansson %s, %ld iterations per round, best of 3\n", JANSSON_VERSION, iters);
  printf("%-24s %6s  %-44s %9s %8s %12s\n", "envelope", "bytes", "decoder", "ns/msg", "MB/s",
         "allocs/msg");
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    long n = samples[i].len > 4096 ? iters / 20 + 1 : iters;
    for (impl_t impl = OURS; impl <= JANSSON_LAX; impl++) {
      double ns = bench(impl, &samples[i], n);
      printf("%-24s %6zu  %-44s %9.1f %8.0f %12.1f\n", samples[i].name, samples[i].len,
             impl_name(impl), ns, (double)samples[i].len / ns * 1e3, allocs_per_msg(impl, &samples[i]));
    }
  }
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    free(samples[i].json);
    free((char *)samples[i].data);
  }
  return g_sink ? 0 : 1;
}
