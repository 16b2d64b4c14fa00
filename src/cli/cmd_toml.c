/*
 * cmd_toml.c — `arq toml-decode`: TOML on stdin, toml-test tagged JSON on stdout.
 *
 * This is the decoder interface that toml-test's runner expects: exit 0 with the JSON on
 * success, exit 1 with a message on stderr when the document is invalid. Stdin is read
 * as raw bytes, because invalid encodings and NUL bytes are part of what is tested.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "common/toml.h"

/* Reads all of `in`. Returns NULL (with errno from the failing call) on error. */
static char *read_all(FILE *in, size_t *len) {
  size_t cap = 64 * 1024, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, in);
    if (n < cap)
      break;
    char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
    if (!bigger) {
      free(buf);
      return NULL;
    }
    buf = bigger;
    cap *= 2;
  }
  if (buf && ferror(in)) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

int arq_cmd_toml_decode(int argc, char **argv) {
  if (argc > 1) {
    fprintf(stderr, "usage: arq %s < file.toml\n", argv[0]);
    return 2;
  }
  size_t len = 0;
  char *data = read_all(stdin, &len);
  if (!data) {
    perror("arq toml-decode: reading stdin");
    return 1;
  }
  char err[256];
  arq_toml_value_t *root = arq_toml_parse(data, len, err, sizeof err);
  free(data);
  if (!root) {
    fprintf(stderr, "arq toml-decode: %s\n", err);
    return 1;
  }
  int rc = arq_toml_write_tagged_json(root, stdout);
  arq_toml_free(root);
  if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
    perror("arq toml-decode: writing stdout");
    return 1;
  }
  return 0;
}
