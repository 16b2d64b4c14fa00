/*
 * arq policy push|ls|rm|canary|promote — manages the Overseer's modules in the NATS KV
 * bucket that every Shield watches. A module is checked exactly as the Shield checks it
 * before it is put, so an upload that no Shield would run is refused here with the reason.
 * A candidate (`--canary T`, key `T.canary`) runs beside T's active policy without
 * enforcing anything; `canary` shows what it would have decided, `promote` makes it the
 * active policy (cmd_policy_canary.c; docs/policies.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "cli/kv_cli.h"
#include "cli/policy_canary.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/ids.h"
#include "policy/abi.h"
#include "policy/keys.h"

#define MAX_MODULE_BYTES (8u << 20)

typedef struct {
  const char *tenant;
  bool global;
  const char *canary; /* --canary T: the candidate of T (a tenant id or _global) */
  const char *file;   /* push: the module; canary, promote: the tenant */
  const char *config;
  const char *nats;
  const char *revision; /* promote --revision R */
  bool json;            /* canary --json */
} policy_args_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: arq policy push (--tenant T | --global | --canary T) FILE.wasm [--config PATH] [--nats URL]\n"
          "       arq policy ls [--config PATH] [--nats URL]\n"
          "       arq policy rm (--tenant T | --global | --canary T) [--config PATH] [--nats URL]\n"
          "       arq policy canary T [--json] [--config PATH] [--nats URL]\n"
          "       arq policy promote T [--revision R] [--config PATH] [--nats URL]\n"
          "  Policies live in the KV bucket platform.overseer.kv_bucket (default ARQON_POLICIES);\n"
          "  the key is the tenant id, or _global for the policy that runs first for everyone.\n"
          "  --canary T pushes or removes T's candidate (key T.canary; T may be _global): every\n"
          "  Shield evaluates it beside the active policy and enforces nothing. `canary T` asks\n"
          "  the Shields what it decided so far; `promote T` makes it T's active policy\n"
          "  (--revision R: only if the candidate is still revision R).\n");
}

static int parse_args(int argc, char **argv, policy_args_t *a) {
  for (int i = 2; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--global")) {
      a->global = true;
    } else if (!strcmp(o, "--json")) {
      a->json = true;
    } else if ((!strcmp(o, "--tenant") || !strcmp(o, "--config") || !strcmp(o, "--nats") ||
                !strcmp(o, "--canary") || !strcmp(o, "--revision")) &&
               i + 1 < argc) {
      const char **slot = !strcmp(o, "--tenant")   ? &a->tenant
                          : !strcmp(o, "--config") ? &a->config
                          : !strcmp(o, "--nats")   ? &a->nats
                          : !strcmp(o, "--canary") ? &a->canary
                                                   : &a->revision;
      *slot = argv[++i];
    } else if (o[0] != '-' && !a->file) {
      a->file = o;
    } else {
      fprintf(stderr, "arq policy: unexpected argument '%s'\n", o);
      return -1;
    }
  }
  return 0;
}

/* The key push and rm write: T, _global or T.canary. */
static const char *key_of(const policy_args_t *a, char key[ARQ_POLICY_KEY_CAP]) {
  if ((int)a->global + (a->tenant != NULL) + (a->canary != NULL) != 1) {
    fprintf(stderr, "arq policy: give one of --tenant T, --global or --canary T\n");
    return NULL;
  }
  if (a->tenant && !arq_id_valid_str(a->tenant)) {
    fprintf(stderr, "arq policy: tenant '%s': %s\n", a->tenant, arq_id_problem(a->tenant));
    return NULL;
  }
  if (a->canary && !arq_policy_base_valid(a->canary)) {
    fprintf(stderr, "arq policy: --canary '%s': a tenant id or _global: %s\n", a->canary,
            arq_id_problem(a->canary) ? arq_id_problem(a->canary) : "not a policy key");
    return NULL;
  }
  if (a->canary)
    arq_policy_canary_key(key, a->canary);
  else
    snprintf(key, ARQ_POLICY_KEY_CAP, "%s", a->global ? ARQ_POLICY_GLOBAL : a->tenant);
  return key;
}

/* The tenant `canary` and `promote` are about: their one positional argument. */
static const char *base_of(const policy_args_t *a, const char *verb) {
  if (a->tenant || a->global || a->canary) {
    fprintf(stderr, "arq policy %s: name the tenant as the argument: arq policy %s T\n", verb, verb);
    return NULL;
  }
  if (!a->file) {
    fprintf(stderr, "arq policy %s: the tenant (or _global) is missing\n", verb);
    return NULL;
  }
  if (!arq_policy_base_valid(a->file)) {
    fprintf(stderr, "arq policy %s: '%s' is not a tenant id or _global\n", verb, a->file);
    return NULL;
  }
  return a->file;
}

static const char *policy_bucket(const arq_config_t *cfg) { return cfg->platform.overseer.kv_bucket; }

static int push(const policy_args_t *a, kvStore *kv, const char *key) {
  arq_buf_t module;
  arq_buf_init(&module);
  int rc = 1;
  if (!arq_cli_read_file("arq policy", a->file, MAX_MODULE_BYTES, &module)) {
    const char *why = arq_policy_abi_check((const uint8_t *)module.data, module.len);
    uint64_t rev = 0;
    if (why) {
      fprintf(stderr, "arq policy: %s: refused: %s\n", a->file, why);
    } else if (kvStore_Put(&rev, kv, key, module.data, (int)module.len) != NATS_OK) {
      fprintf(stderr, "arq policy: put %s: %s\n", key, nats_GetLastError(NULL));
    } else {
      printf("pushed %s (%zu bytes) as revision %llu\n", key, module.len, (unsigned long long)rev);
      rc = 0;
    }
  }
  arq_buf_free(&module);
  return rc;
}

static int parse_revision(const char *text, uint64_t *out) {
  *out = 0;
  if (!text)
    return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || !*text || *end || !v || text[0] == '-') {
    fprintf(stderr, "arq policy promote: --revision '%s': a revision number (1 or more)\n", text);
    return -1;
  }
  *out = v;
  return 0;
}

int arq_cmd_policy(int argc, char **argv) {
  policy_args_t a = {0};
  const char *verb = argc >= 2 ? argv[1] : "";
  bool is_push = !strcmp(verb, "push"), is_ls = !strcmp(verb, "ls"), is_rm = !strcmp(verb, "rm");
  bool is_canary = !strcmp(verb, "canary"), is_promote = !strcmp(verb, "promote");
  if (!is_push && !is_ls && !is_rm && !is_canary && !is_promote) {
    usage(!strcmp(verb, "-h") || !strcmp(verb, "--help") ? stdout : stderr);
    return 2;
  }
  if (parse_args(argc, argv, &a))
    return 2;
  if ((a.json && !is_canary) || (a.revision && !is_promote)) {
    fprintf(stderr, "arq policy %s: unexpected %s\n", verb, a.json ? "--json" : "--revision");
    return 2;
  }
  char keybuf[ARQ_POLICY_KEY_CAP];
  uint64_t revision = 0;
  const char *key = "";
  if (is_canary || is_promote) {
    if (!(key = base_of(&a, verb)) || parse_revision(a.revision, &revision))
      return 2;
  } else if (!is_ls) {
    key = key_of(&a, keybuf);
    if (!key || (is_push && !a.file) || (!is_push && a.file)) {
      if (key)
        fprintf(stderr, is_push ? "arq policy push: FILE.wasm is missing\n" : "arq policy: unexpected FILE\n");
      return 2;
    }
  } else if (a.file || a.tenant || a.global || a.canary) {
    fprintf(stderr, "arq policy ls: takes no key\n");
    return 2;
  }
  arq_cli_kv_t k;
  int rc = 1;
  if (!arq_cli_kv_open(&k, "arq policy", a.config, a.nats, policy_bucket)) {
    if (is_push) {
      rc = push(&a, k.kv, key);
    } else if (is_ls) {
      rc = arq_cli_kv_list(&k, "arq policy");
    } else if (is_canary) {
      rc = arq_cli_policy_canary(&k, key, a.json);
    } else if (is_promote) {
      rc = arq_cli_policy_promote(&k, key, revision);
    } else if (kvStore_Delete(k.kv, key) != NATS_OK) {
      fprintf(stderr, "arq policy: rm %s: %s\n", key, nats_GetLastError(NULL));
    } else {
      printf("removed %s\n", key);
      rc = 0;
    }
  }
  arq_cli_kv_close(&k);
  return rc;
}
