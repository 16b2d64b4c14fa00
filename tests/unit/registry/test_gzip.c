/* arq_schema_gzip makes what arq_schema_gunzip (and gzip itself) reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry/schema.h"

static void round_trip(void **state) {
  size_t sizes[] = {0, 1, 1000, 300000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    uint8_t *data = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
      data[i] = (uint8_t)((i * 2654435761u) >> 13);
    uint8_t *gz = NULL, *back = NULL;
    size_t gz_len = 0, back_len = 0;
    arq_schema_error_t err;
    assert_int_equal(arq_schema_gzip(data, n, &gz, &gz_len), 0);
    assert_true(gz_len >= 18 && gz[0] == 0x1f && gz[1] == 0x8b);
    assert_int_equal(arq_schema_gunzip(gz, gz_len, n + 1, &back, &back_len, &err), 0);
    assert_int_equal(back_len, n);
    if (n)
      assert_memory_equal(back, data, n);
    free(data);
    free(gz);
    free(back);
  }
}

static void readable_by_gzip(void **state) {
  const char text[] = "the registry stores gzip streams";
  uint8_t *gz = NULL;
  size_t gz_len = 0;
  assert_int_equal(arq_schema_gzip((const uint8_t *)text, sizeof text - 1, &gz, &gz_len), 0);
  char path[] = "/tmp/arq-gzip-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  fwrite(gz, 1, gz_len, f);
  fclose(f);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "gzip -dc < %s", path);
  FILE *p = popen(cmd, "r");
  char out[128] = {0};
  size_t n = fread(out, 1, sizeof out - 1, p);
  assert_int_equal(pclose(p), 0);
  remove(path);
  assert_int_equal(n, sizeof text - 1);
  assert_string_equal(out, text);
  free(gz);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(round_trip), cmocka_unit_test(readable_by_gzip)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
