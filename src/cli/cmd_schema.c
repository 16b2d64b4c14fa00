/*
 * cmd_schema.c — `arq schema check FILE.desc[.gz] MESSAGE [options] < data`: is stdin a
 * valid serialization of MESSAGE under the descriptor set FILE (src/registry/schema.h)?
 *
 * Exit 0 when valid, 1 when not (the problem on stderr), 2 for a usage error or a schema
 * that does not load. Pushing schemas to the registry bucket comes with the Shield.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "registry/schema.h"

static void usage(void) {
  fprintf(stderr, "usage: arq schema check FILE.desc[.gz] MESSAGE [--strict-unknown]\n"
                  "                        [--max-depth N] [--max-size BYTES] < data\n");
}

/* At most `limit` bytes of `f`, plus some to tell that there was more; NULL on failure. */
static uint8_t *read_bounded(FILE *f, size_t limit, size_t *len) {
  arq_buf_t b;
  arq_buf_init(&b);
  if (arq_cli_read_stream(f, limit, &b)) {
    arq_buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return b.data ? (uint8_t *)b.data : calloc(1, 1);
}

static bool parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || *s == '-')
    return false;
  *out = (size_t)v;
  return true;
}

static int check(int argc, char **argv) {
  if (argc < 3) {
    usage();
    return 2;
  }
  const char *file = argv[1], *name = argv[2];
  arq_schema_limits_t lim = {0};
  for (int i = 3; i < argc; i++) {
    size_t v;
    if (!strcmp(argv[i], "--strict-unknown")) {
      lim.strict_unknown = true;
    } else if (!strcmp(argv[i], "--max-depth") && i + 1 < argc && parse_size(argv[i + 1], &v)) {
      lim.max_depth = v > ARQ_SCHEMA_DEPTH_CEILING ? ARQ_SCHEMA_DEPTH_CEILING : (unsigned)v;
      i++;
    } else if (!strcmp(argv[i], "--max-size") && i + 1 < argc && parse_size(argv[i + 1], &v)) {
      lim.max_size = v;
      i++;
    } else {
      usage();
      return 2;
    }
  }

  FILE *f = fopen(file, "rb");
  if (!f) {
    fprintf(stderr, "arq schema check: %s: %s\n", file, strerror(errno));
    return 2;
  }
  size_t desc_len;
  uint8_t *desc = read_bounded(f, ARQ_SCHEMA_DEFAULT_MAX_DESCRIPTOR, &desc_len);
  fclose(f);
  if (!desc) {
    fprintf(stderr, "arq schema check: %s: cannot read\n", file);
    return 2;
  }
  arq_schema_t *schema = NULL;
  arq_schema_error_t err;
  int rc = 2;
  uint8_t *data = NULL;
  if (arq_schema_load(desc, desc_len, 0, &schema, &err)) {
    fprintf(stderr, "arq schema check: %s: %s\n", file, err.message);
    goto out;
  }
  const arq_schema_message_t *m = arq_schema_find_message(schema, name);
  if (!m) {
    fprintf(stderr, "arq schema check: %s: no message type %s\n", file, name);
    goto out;
  }
  size_t max = lim.max_size ? lim.max_size : ARQ_SCHEMA_DEFAULT_MAX_SIZE;
  size_t len;
  if (!(data = read_bounded(stdin, max, &len))) {
    fprintf(stderr, "arq schema check: cannot read stdin\n");
    goto out;
  }
  if (arq_schema_validate(schema, m, data, len, &lim, &err)) {
    fprintf(stderr, "arq schema check: %s: %s\n", name, err.message);
    rc = 1;
    goto out;
  }
  rc = 0;
out:
  free(data);
  free(desc);
  arq_schema_free(schema);
  return rc;
}

int arq_cmd_schema(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "check"))
    return check(argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "push") || !strcmp(argv[1], "ls") || !strcmp(argv[1], "rm")))
    return arq_schema_kv(argc, argv);
  usage();
  return 2;
}
