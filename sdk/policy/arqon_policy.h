/*
 * arqon_policy.h — writing ArqonBus policies in C (ABI arqon_host_v1, SPEC section 5).
 *
 * Build a policy with clang and lld (14 or later; current versions' default target features,
 * reference types and multi-value included, are accepted; examples/rule_table.c is built
 * with -mreference-types to show it):
 *   clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -I sdk/policy -o my.wasm my.c
 * and upload it with `arq policy push --tenant T my.wasm`. Do not enable SIMD, threads,
 * exceptions or tail calls (-msimd128, -matomics, -mexception-handling, -mtail-call): the
 * engine refuses them. Rust (wasm32-unknown-unknown): docs/policies.md.
 *
 * Export one or both hooks; 0 allows, anything else denies (a value in 400..599 is the
 * code the client sees, otherwise 403):
 *   ARQ_POLICY_EXPORT("arqon_on_connect") int on_connect(void) { ... }
 *   ARQ_POLICY_EXPORT("arqon_on_message") int on_message(void) { ... }
 * Every evaluation starts from the module's initial state (globals, memory and tables are reset),
 * runs under a fuel budget (one unit per instruction) and a memory limit; running out, or
 * any trap, denies. The functions below read the evaluation's inputs into your memory:
 * each returns the full length of the value (copying at most `cap` bytes), or -1 when absent.
 */
#ifndef ARQON_POLICY_H
#define ARQON_POLICY_H

#define ARQ_POLICY_IMPORT(name) __attribute__((import_module("arqon_host_v1"), import_name(name)))
#define ARQ_POLICY_EXPORT(name) __attribute__((export_name(name)))

/* A header: at the handshake the HTTP request's plus x-arqon-peer (the client's address),
 * per message the envelope's `headers` map
 * plus x-arqon-tenant, x-arqon-sender, x-arqon-conn, x-arqon-trace-id and, when the message
 * names a room, x-arqon-room. Case-insensitive. */
ARQ_POLICY_IMPORT("host_get_header")
int host_get_header(const char *name, int name_len, char *out, int cap);

/* A JWT claim: strings as they are, other values as JSON text. */
ARQ_POLICY_IMPORT("host_get_claim")
int host_get_claim(const char *key, int key_len, char *out, int cap);

/* Per message: the data of its event or command. */
ARQ_POLICY_IMPORT("host_get_payload")
int host_get_payload(char *out, int cap);

/* Per message: the subject it would be published to (in.t.<tenant>.r.<room> for events,
 * sys.brain.<tenant>.<command> for commands); -1 at the handshake. */
ARQ_POLICY_IMPORT("host_get_subject")
int host_get_subject(char *out, int cap);

/* Adds a header to the routed NATS message; 0 on success, -1 when refused (x-arqon-*,
 * traceparent and nats-* belong to the Shield; at most 16 headers). */
ARQ_POLICY_IMPORT("host_add_header")
int host_add_header(const char *name, int name_len, const char *value, int value_len);

/* Logs through the Shield: level 0 error, 1 warn, 2 info, 3 debug, 4 trace. */
ARQ_POLICY_IMPORT("host_log")
void host_log(int level, const char *msg, int msg_len);

/* Denies with `code` and `reason` and ends the evaluation at once. */
ARQ_POLICY_IMPORT("host_reject")
void host_reject(int code, const char *reason, int reason_len);

/* Small helpers: no libc in a policy. */
static inline int arq_strlen(const char *s) {
  int n = 0;
  while (s[n])
    n++;
  return n;
}

static inline int arq_memeq(const char *a, const char *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

#define ARQ_LOG(level, literal) host_log(level, literal, (int)sizeof literal - 1)
#define ARQ_REJECT(code, literal) host_reject(code, literal, (int)sizeof literal - 1)

#endif
