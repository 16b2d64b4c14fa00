/*
 * arq policy push|ls|rm — manages the Overseer's modules in the NATS KV bucket that every
 * Shield watches. A module is checked exactly as the Shield checks it before it is put,
 * so an upload that no Shield would run is refused here with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/ids.h"
#include "policy/abi.h"
#include "cli/input.h"
#include "cli/kv_cli.h"

#define MAX_MODULE_BYTES (8u << 20)

typedef struct {
  const char *tenant;
  bool global;
  const char *file;
  const char *config;
  const char *nats;
} policy_args_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: arq policy push (--tenant T | --global) FILE.wasm [--config PATH] [--nats URL]\n"
          "       arq policy ls [--config PATH] [--nats URL]\n"
          "       arq policy rm (--tenant T | --global) [--config PATH] [--nats URL]\n"
          "  Policies live in the KV bucket platform.overseer.kv_bucket (default ARQON_POLICIES);\n"
          "  the key is the tenant id, or _global for the policy that runs first for everyone.\n");
}

static int parse_args(int argc, char **argv, policy_args_t *a) {
  for (int i = 2; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--global")) {
      a->global = true;
    } else if ((!strcmp(o, "--tenant") || !strcmp(o, "--config") || !strcmp(o, "--nats")) && i + 1 < argc) {
      const char **slot = !strcmp(o, "--tenant") ? &a->tenant : !strcmp(o, "--config") ? &a->config : &a->nats;
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

static const char *key_of(const policy_args_t *a) {
  if (a->global == (a->tenant != NULL)) {
    fprintf(stderr, "arq policy: give either --tenant T or --global\n");
    return NULL;
  }
  if (a->tenant && !arq_id_valid_str(a->tenant)) {
    fprintf(stderr, "arq policy: tenant '%s': %s\n", a->tenant, arq_id_problem(a->tenant));
    return NULL;
  }
  return a->global ? "_global" : a->tenant;
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

int arq_cmd_policy(int argc, char **argv) {
  policy_args_t a = {0};
  const char *verb = argc >= 2 ? argv[1] : "";
  bool is_push = !strcmp(verb, "push"), is_ls = !strcmp(verb, "ls"), is_rm = !strcmp(verb, "rm");
  if (!is_push && !is_ls && !is_rm) {
    usage(!strcmp(verb, "-h") || !strcmp(verb, "--help") ? stdout : stderr);
    return 2;
  }
  if (parse_args(argc, argv, &a))
    return 2;
  const char *key = is_ls ? "" : key_of(&a);
  if (!key || (is_push && !a.file) || (!is_push && a.file)) {
    if (key)
      fprintf(stderr, is_push ? "arq policy push: FILE.wasm is missing\n" : "arq policy: unexpected FILE\n");
    return 2;
  }
  arq_cli_kv_t k;
  int rc = 1;
  if (!arq_cli_kv_open(&k, "arq policy", a.config, a.nats, policy_bucket)) {
    if (is_push) {
      rc = push(&a, k.kv, key);
    } else if (is_ls) {
      rc = arq_cli_kv_list(&k, "arq policy");
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
