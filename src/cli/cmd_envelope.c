/*
 * cmd_envelope.c — `arq envelope json2pb|pb2json`: convert one arqon.v1.Envelope between
 * the proto3 JSON mapping and the binary format, stdin to stdout.
 *
 * For debugging clients, and as the seam through which the integration tests compare the
 * Shield's mapping with an independent implementation. Invalid input exits 1 with the
 * decoder's message on stderr; nothing is written to stdout then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/buf.h"
#include "protocol/envelope_json.h"

/* Stdin as raw bytes: a binary envelope may hold anything, NUL included. */
static int read_stdin(arq_buf_t *b) {
  char chunk[64 * 1024];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
    arq_buf_append(b, chunk, n);
  return ferror(stdin) ? -1 : 0;
}

static int json2pb(const arq_buf_t *in) {
  arq_envelope_arena_t arena;
  arq_envelope_arena_init(&arena, NULL);
  Arqon__V1__Envelope env;
  char err[256];
  int rc = 1;
  if (arq_envelope_from_json(in->data ? in->data : "", in->len, &env, &arena, err, sizeof err)) {
    fprintf(stderr, "arq envelope json2pb: %s\n", err);
    goto out;
  }
  size_t size = arqon__v1__envelope__get_packed_size(&env);
  uint8_t *bytes = malloc(size ? size : 1);
  if (!bytes)
    arq_oom("envelope");
  arqon__v1__envelope__pack(&env, bytes);
  if (fwrite(bytes, 1, size, stdout) != size || fflush(stdout) != 0)
    perror("arq envelope json2pb: writing stdout");
  else
    rc = 0;
  free(bytes);
out:
  arq_envelope_arena_free(&arena);
  return rc;
}

static int pb2json(const arq_buf_t *in) {
  Arqon__V1__Envelope *env =
      arqon__v1__envelope__unpack(NULL, in->len, (const uint8_t *)(in->data ? in->data : ""));
  if (!env) {
    fprintf(stderr, "arq envelope pb2json: not a valid arqon.v1.Envelope\n");
    return 1;
  }
  arq_buf_t out;
  arq_buf_init(&out);
  arq_envelope_to_json(env, &out);
  arq_buf_putc(&out, '\n');
  arqon__v1__envelope__free_unpacked(env, NULL);
  int rc = 0;
  if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
    perror("arq envelope pb2json: writing stdout");
    rc = 1;
  }
  arq_buf_free(&out);
  return rc;
}

int arq_cmd_envelope(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "json2pb") && strcmp(argv[1], "pb2json"))) {
    fprintf(stderr, "usage: arq envelope json2pb < envelope.json > envelope.pb\n"
                    "       arq envelope pb2json < envelope.pb\n");
    return 2;
  }
  arq_buf_t in;
  arq_buf_init(&in);
  if (read_stdin(&in)) {
    perror("arq envelope: reading stdin");
    arq_buf_free(&in);
    return 1;
  }
  int rc = !strcmp(argv[1], "json2pb") ? json2pb(&in) : pb2json(&in);
  arq_buf_free(&in);
  return rc;
}
