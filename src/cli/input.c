#include "cli/input.h"

#include <errno.h>
#include <string.h>

int arq_cli_read_stream(FILE *f, size_t max, arq_buf_t *out) {
  char chunk[65536];
  size_t n;
  while (out->len <= max && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    arq_buf_append(out, chunk, n);
  return ferror(f) ? -1 : 0;
}

int arq_cli_read_file(const char *prog, const char *path, size_t max, arq_buf_t *out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
    return -1;
  }
  int rc = arq_cli_read_stream(f, max, out);
  fclose(f);
  if (rc || out->len > max) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, rc ? "read error" : "too large");
    return -1;
  }
  return 0;
}
