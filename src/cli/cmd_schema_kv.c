/*
 * arq schema push|ls|rm — manages the schema registry: gzip-compressed FileDescriptorSets
 * in the NATS KV bucket every Shield watches (SPEC section 7). A set is compiled before it
 * is put, exactly as the Shields will compile it, and --message must name a type in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "cli/kv_cli.h"
#include "common/buf.h"
#include "common/subject.h"
#include "registry/schema.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: arq schema push ID FILE.desc --message NAME [--config PATH] [--nats URL]\n"
          "       arq schema ls [--config PATH] [--nats URL]\n"
          "       arq schema rm ID [--config PATH] [--nats URL]\n"
          "  FILE.desc: protoc --include_imports --descriptor_set_out=FILE.desc ... (plain or gzip);\n"
          "  it is stored gzip-compressed under ID (dot-separated, e.g. v1.events.user_created).\n");
}

static const char *schema_bucket(const arq_config_t *cfg) { return cfg->platform.registry.kv_bucket; }

/* Compiles the set (decompressing it first when it is gzip) and checks the message. */
static int check_set(const arq_cli_kv_t *k, const char *file, const arq_buf_t *raw,
                     const char *message, arq_buf_t *plain) {
  size_t limit = (size_t)k->cfg.platform.registry.max_schema_bytes;
  arq_schema_error_t err;
  if (raw->len >= 2 && (uint8_t)raw->data[0] == 0x1f && (uint8_t)raw->data[1] == 0x8b) {
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (arq_schema_gunzip((const uint8_t *)raw->data, raw->len, limit, &out, &out_len, &err)) {
      fprintf(stderr, "arq schema push: %s: %s\n", file, err.message);
      return -1;
    }
    arq_buf_append(plain, out, out_len);
    free(out);
  } else {
    arq_buf_append(plain, raw->data, raw->len);
  }
  arq_schema_t *s = NULL;
  if (arq_schema_load((const uint8_t *)plain->data, plain->len, limit, &s, &err)) {
    fprintf(stderr, "arq schema push: %s: %s\n", file, err.message);
    return -1;
  }
  bool found = arq_schema_find_message(s, message) != NULL;
  arq_schema_free(s);
  if (!found) {
    fprintf(stderr, "arq schema push: %s: no message type %s\n", file, message);
    return -1;
  }
  return 0;
}

static int push(arq_cli_kv_t *k, const char *id, const char *file, const char *message) {
  arq_buf_t raw, plain;
  arq_buf_init(&raw);
  arq_buf_init(&plain);
  uint8_t *gz = NULL;
  size_t gz_len = 0;
  int rc = 1;
  uint64_t rev = 0;
  if (arq_cli_read_file("arq schema push", file, (size_t)k->cfg.platform.registry.max_schema_bytes, &raw) ||
      check_set(k, file, &raw, message, &plain)) {
    /* reason printed */
  } else if (arq_schema_gzip((const uint8_t *)plain.data, plain.len, &gz, &gz_len)) {
    fprintf(stderr, "arq schema push: cannot compress %s\n", file);
  } else if (kvStore_Put(&rev, k->kv, id, gz, (int)gz_len) != NATS_OK) {
    fprintf(stderr, "arq schema push: put %s: %s\n", id, nats_GetLastError(NULL));
  } else {
    printf("pushed %s (%zu bytes, %zu compressed) as revision %llu\n", id, plain.len, gz_len,
           (unsigned long long)rev);
    rc = 0;
  }
  arq_buf_free(&raw);
  arq_buf_free(&plain);
  free(gz);
  return rc;
}

int arq_schema_kv(int argc, char **argv) {
  const char *verb = argv[1], *config = NULL, *nats = NULL, *message = NULL;
  const char *pos[2] = {NULL, NULL};
  size_t npos = 0;
  for (int i = 2; i < argc; i++) {
    if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "--nats") || !strcmp(argv[i], "--message")) &&
        i + 1 < argc) {
      const char **slot = !strcmp(argv[i], "--config") ? &config : !strcmp(argv[i], "--nats") ? &nats : &message;
      *slot = argv[++i];
    } else if (argv[i][0] != '-' && npos < 2) {
      pos[npos++] = argv[i];
    } else {
      fprintf(stderr, "arq schema %s: unexpected argument '%s'\n", verb, argv[i]);
      usage(stderr);
      return 2;
    }
  }
  bool is_push = !strcmp(verb, "push"), is_rm = !strcmp(verb, "rm");
  size_t want = is_push ? 2 : is_rm ? 1 : 0;
  if (npos != want || (is_push && !message)) {
    usage(stderr);
    return 2;
  }
  if (want && !arq_subject_valid(pos[0])) {
    fprintf(stderr, "arq schema %s: '%s' is not a schema id (dot-separated tokens)\n", verb, pos[0]);
    return 2;
  }
  arq_cli_kv_t k;
  int rc = 1;
  if (!arq_cli_kv_open(&k, "arq schema", config, nats, schema_bucket)) {
    if (is_push) {
      rc = push(&k, pos[0], pos[1], message);
    } else if (is_rm) {
      if (kvStore_Delete(k.kv, pos[0]) != NATS_OK) {
        fprintf(stderr, "arq schema rm %s: %s\n", pos[0], nats_GetLastError(NULL));
      } else {
        printf("removed %s\n", pos[0]);
        rc = 0;
      }
    } else {
      rc = arq_cli_kv_list(&k, "arq schema");
    }
  }
  arq_cli_kv_close(&k);
  return rc;
}
