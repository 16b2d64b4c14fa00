/*
 * overseer_host.c — the host functions of ABI `arqon_host_v1`. Every pointer and length
 * from the module goes through the engine's bounds-checked accessors: an out-of-bounds
 * access traps (and so denies); host memory is never read on the module's say-so.
 * Each call costs fuel: a fixed charge plus one unit per 64 bytes copied.
 *
 * host_log writes into the Shield's own log, which every tenant shares; fuel alone let one
 * evaluation write ~270 KiB. So lines are budgeted (docs/policies.md): at most
 * log_max_bytes_per_eval bytes of messages per evaluation, and a token bucket of
 * log_lines_per_second lines for each module on each worker. A line over either budget is
 * dropped whole and counted; the call still succeeds, because a policy must decide the
 * same way however busy the log is.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "protocol/headers.h"
#include "shield/overseer_internal.h"
#include "shield/shield.h"

#define HOST_CALL_FUEL 20
#define MAX_NAME 256
#define MAX_LOG 1024
#define MAX_ADDED_HEADERS 16
#define LOG_SUMMARY_EVERY_NS (10 * 1000000000ull) /* "policy log lines dropped" at most this often */

const char arq_policy_rejected[] = "policy rejected";

#define I32 ARQ_WASM_I32

static int32_t arg(const uint64_t *args, int i) { return (int32_t)(uint32_t)args[i]; }

static arq_wasm_result_t charge(arq_wasm_call_t *call, size_t bytes) {
  return arq_wasm_call_consume_fuel(call, HOST_CALL_FUEL + bytes / 64);
}

/* Reads [ptr, ptr+len) of the module's memory into buf, NUL-terminated. Out of bounds
 * traps (SPEC §5); in bounds but `cap` or longer is no fault of the module's: *too_long is
 * set and nothing is copied (no header or claim has such a name; an added header is
 * refused with -1). */
static arq_wasm_result_t read_arg(arq_wasm_call_t *call, int32_t ptr, int32_t len, char *buf,
                                  size_t cap, size_t *out_len, bool *too_long) {
  *too_long = false;
  *out_len = 0;
  buf[0] = '\0';
  if (len < 0)
    return arq_wasm_err_trap_oob_memory;
  if ((size_t)len >= cap) {
    uint64_t last = (uint64_t)(uint32_t)ptr + (uint64_t)len - 1;
    char probe; /* memory is contiguous from 0: the last byte in bounds means all are */
    if (last > UINT32_MAX || arq_wasm_call_read(call, (uint32_t)last, &probe, 1))
      return arq_wasm_err_trap_oob_memory;
    *too_long = true;
    return NULL;
  }
  arq_wasm_result_t r = arq_wasm_call_read(call, (uint32_t)ptr, buf, (uint32_t)len);
  buf[len] = '\0';
  *out_len = (size_t)len;
  return r;
}

/* Copies a value out: at most `cap` bytes; the result is the full length. */
static arq_wasm_result_t give(arq_wasm_call_t *call, const void *value, size_t len, int32_t out,
                              int32_t cap, uint64_t *results) {
  if (cap < 0)
    return arq_wasm_err_trap_oob_memory;
  size_t n = len < (size_t)cap ? len : (size_t)cap;
  arq_wasm_result_t r = charge(call, n);
  if (!r && n)
    r = arq_wasm_call_write(call, (uint32_t)out, value, (uint32_t)n);
  results[0] = (uint32_t)(len > INT32_MAX ? INT32_MAX : (int32_t)len);
  return r;
}

static arq_wasm_result_t absent(arq_wasm_call_t *call, uint64_t *results) {
  results[0] = (uint32_t)-1;
  return charge(call, 0);
}

/* Remembers that a header was read, once, while a candidate is being compared: its name in
 * the headers list (the value follows it there), for a disagreement's audit record. */
static void note_read(arq_policy_eval_t *e, const char *name) {
  for (size_t i = 0; i < e->nreads; i++)
    if (e->reads[i] == name)
      return;
  if (e->nreads < ARQ_POLICY_MAX_READS)
    e->reads[e->nreads++] = name;
}

static arq_wasm_result_t get_header(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                    uint64_t *results) {
  arq_policy_eval_t *e = env;
  char name[MAX_NAME];
  size_t name_len;
  bool too_long;
  arq_wasm_result_t r =
      read_arg(call, arg(args, 0), arg(args, 1), name, sizeof name, &name_len, &too_long);
  if (r)
    return r;
  if (too_long)
    return absent(call, results);
  const char *p = e->headers.blob, *end = p + e->headers.len;
  while (p < end) {
    const char *value = p + strlen(p) + 1;
    if (!strcasecmp(p, name)) {
      if (e->track_reads)
        note_read(e, p);
      return give(call, value, strlen(value), arg(args, 2), arg(args, 3), results);
    }
    p = value + strlen(value) + 1;
  }
  return absent(call, results);
}

static arq_wasm_result_t get_claim(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                   uint64_t *results) {
  arq_policy_eval_t *e = env;
  char key[MAX_NAME];
  size_t key_len;
  bool too_long;
  arq_wasm_result_t r =
      read_arg(call, arg(args, 0), arg(args, 1), key, sizeof key, &key_len, &too_long);
  if (r)
    return r;
  if (too_long)
    return absent(call, results);
  if (!e->claims_parsed) {
    e->claims_parsed = true;
    arq_json_error_t err;
    e->claims_root = e->claims_json ? arq_json_parse(&e->claims, e->claims_json, strlen(e->claims_json), &err) : NULL;
  }
  const arq_json_value_t *v = e->claims_root ? arq_json_object_get(e->claims_root, key, key_len) : NULL;
  if (!v)
    return absent(call, results);
  if (arq_json_type(v) == ARQ_JSON_STRING) {
    size_t len;
    const char *s = arq_json_string(v, &len);
    return give(call, s, len, arg(args, 2), arg(args, 3), results);
  }
  arq_buf_t text;
  arq_buf_init(&text);
  arq_json_write_value(&text, v);
  r = give(call, text.data, text.len, arg(args, 2), arg(args, 3), results);
  arq_buf_free(&text);
  return r;
}

static arq_wasm_result_t get_payload(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                     uint64_t *results) {
  arq_policy_eval_t *e = env;
  return give(call, e->payload, e->payload_len, arg(args, 0), arg(args, 1), results);
}

static arq_wasm_result_t get_subject(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                     uint64_t *results) {
  arq_policy_eval_t *e = env;
  if (!e->subject)
    return absent(call, results);
  return give(call, e->subject, strlen(e->subject), arg(args, 0), arg(args, 1), results);
}

static bool header_name_ok(const char *n, size_t len) {
  if (!len || arq_header_reserved(n, len))
    return false; /* routing and tracing headers are the Shield's */
  for (size_t i = 0; i < len; i++) {
    char c = n[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  }
  return true;
}

static arq_wasm_result_t add_header(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                    uint64_t *results) {
  arq_policy_eval_t *e = env;
  char name[MAX_NAME], value[512];
  size_t name_len, value_len;
  bool name_too_long, value_too_long;
  arq_wasm_result_t r = read_arg(call, arg(args, 0), arg(args, 1), name, sizeof name, &name_len,
                                 &name_too_long);
  if (!r)
    r = read_arg(call, arg(args, 2), arg(args, 3), value, sizeof value, &value_len,
                 &value_too_long);
  if (!r)
    r = charge(call, name_len + value_len);
  if (r)
    return r;
  if (name_too_long || value_too_long) {
    results[0] = (uint32_t)-1;
    return NULL;
  }
  arq_verdict_t *v = e->v;
  size_t count = 0;
  for (size_t off = 0; off < v->added_len; off += strlen(v->added + off) + 1)
    count++;
  bool fits = v->added_len + name_len + value_len + 2 <= sizeof v->added;
  bool clean = strlen(value) == value_len && !strpbrk(value, "\r\n");
  if (!header_name_ok(name, name_len) || !clean || !fits || count / 2 >= MAX_ADDED_HEADERS) {
    results[0] = (uint32_t)-1;
    return NULL;
  }
  memcpy(v->added + v->added_len, name, name_len + 1);
  v->added_len += name_len + 1;
  memcpy(v->added + v->added_len, value, value_len + 1);
  v->added_len += value_len + 1;
  results[0] = 0;
  return NULL;
}

/* Takes one line of `n` bytes from the evaluation's budget and the module's bucket; false
 * when either is spent. The bucket holds one second of lines (at least one). */
static bool log_budget_take(arq_policy_eval_t *e, size_t n) {
  if (!e->log.max_bytes_per_eval || e->log_bytes + n > e->log.max_bytes_per_eval)
    return false;
  arq_log_bucket_t *b = e->log_bucket;
  if (b) {
    double rate = e->log.lines_per_second;
    double burst = rate > 1 ? rate : 1;
    uint64_t now = arq_now_ns();
    if (!b->at_ns)
      b->tokens = burst;
    else if (now > b->at_ns)
      b->tokens += (double)(now - b->at_ns) / 1e9 * rate;
    if (b->tokens > burst)
      b->tokens = burst;
    b->at_ns = now ? now : 1;
    if (b->tokens < 1)
      return false;
    b->tokens -= 1;
  }
  e->log_bytes += n;
  return true;
}

/* Counts a dropped line; says so in the log at most once per LOG_SUMMARY_EVERY_NS per
 * worker, with how many were dropped since it last said so. */
static void log_dropped(arq_policy_eval_t *e) {
  arq_log_budget_t *l = &e->log;
  if (l->dropped)
    arq_counter_inc(l->dropped);
  l->unreported++;
  uint64_t now = arq_now_ns();
  if (l->reported_ns && now - l->reported_ns < LOG_SUMMARY_EVERY_NS)
    return;
  char count[24];
  snprintf(count, sizeof count, "%llu", (unsigned long long)l->unreported);
  ARQ_LOG(ARQ_LOG_WARN, "overseer", "policy log lines dropped", {"dropped", count},
          {"module", e->key}, {"tenant", e->tenant},
          {"note", "over platform.overseer.log_max_bytes_per_eval or log_lines_per_second; "
                   "at most one such line per 10 s and worker"});
  l->unreported = 0;
  l->reported_ns = now ? now : 1;
}

static arq_wasm_result_t host_log(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                  uint64_t *results) {
  arq_policy_eval_t *e = env;
  char msg[MAX_LOG];
  int32_t len = arg(args, 2);
  if (len > MAX_LOG - 1)
    len = MAX_LOG - 1; /* longer messages are cut, not refused */
  size_t n;
  bool too_long; /* never: len was cut above */
  arq_wasm_result_t r = read_arg(call, arg(args, 1), len, msg, sizeof msg, &n, &too_long);
  if (!r)
    r = charge(call, n);
  if (r)
    return r;
  int level = arg(args, 0);
  if (level < ARQ_LOG_ERROR)
    level = ARQ_LOG_ERROR;
  if (level > ARQ_LOG_TRACE)
    level = ARQ_LOG_TRACE;
  if (!arq_log_enabled((arq_log_level_t)level))
    return NULL; /* below the log level: costs the log nothing, so spends no budget */
  if (!log_budget_take(e, n)) {
    log_dropped(e);
    return NULL;
  }
  ARQ_LOG((arq_log_level_t)level, "overseer", msg, {"module", e->key}, {"tenant", e->tenant});
  return NULL;
}

static arq_wasm_result_t reject(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                uint64_t *results) {
  arq_policy_eval_t *e = env;
  char reason[sizeof e->v->reason];
  int32_t len = arg(args, 2);
  if (len > (int32_t)sizeof reason - 1)
    len = (int32_t)sizeof reason - 1;
  size_t n;
  bool too_long; /* never: len was cut above */
  arq_wasm_result_t r = read_arg(call, arg(args, 1), len, reason, sizeof reason, &n, &too_long);
  if (r)
    return r;
  int code = arg(args, 0);
  e->rejected = true;
  e->v->denied = true;
  e->v->code = code >= 400 && code <= 599 ? code : 403;
  snprintf(e->v->reason, sizeof e->v->reason, "%s", n ? reason : "rejected by policy");
  return arq_policy_rejected;
}

static const uint8_t p2[] = {I32, I32}, p3[] = {I32, I32, I32}, p4[] = {I32, I32, I32, I32};
static const uint8_t r1[] = {I32};

static const struct {
  const char *name;
  const uint8_t *params;
  uint32_t nparams;
  uint32_t nresults;
  arq_wasm_host_fn fn;
} abi[ARQ_HOST_FUNCS] = {
    {"host_get_header", p4, 4, 1, get_header},
    {"host_get_claim", p4, 4, 1, get_claim},
    {"host_get_payload", p2, 2, 1, get_payload},
    {"host_get_subject", p2, 2, 1, get_subject},
    {"host_add_header", p4, 4, 1, add_header},
    {"host_log", p3, 3, 0, host_log},
    {"host_reject", p3, 3, 0, reject},
};

void arq_host_imports_new(arq_policy_eval_t *eval, arq_host_import_t out[ARQ_HOST_FUNCS]) {
  for (int i = 0; i < ARQ_HOST_FUNCS; i++) {
    out[i].name = abi[i].name;
    if (arq_wasm_func_new_host(abi[i].params, abi[i].nparams, r1, abi[i].nresults, abi[i].fn, eval,
                               &out[i].func))
      arq_oom("host function");
  }
}

void arq_host_imports_free(arq_host_import_t imports[ARQ_HOST_FUNCS]) {
  for (int i = 0; i < ARQ_HOST_FUNCS; i++)
    arq_wasm_func_free(imports[i].func);
}
