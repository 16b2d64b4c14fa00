/*
 * Validation allocates nothing: this program is linked with --wrap for the allocator
 * entry points, so every call the library makes lands in a counter first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "registry/schema.h"
#include "test_support.h"

static size_t allocations;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n) {
  allocations++;
  return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
  allocations++;
  return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
  allocations++;
  return __real_realloc(p, n);
}

static void validation_allocates_nothing(void **state) {
  size_t len;
  uint8_t *desc = read_data("rich.desc.gz", &len);
  arq_schema_t *s;
  arq_schema_error_t err;
  size_t before = allocations;
  assert_int_equal(arq_schema_load(desc, len, 0, &s, &err), 0);
  assert_true(allocations > before); /* the counter does see the library */
  free(desc);

  static const struct {
    const char *file, *type;
  } cases[] = {{"vectors/user.bin", "arq.test.User"},
               {"vectors/person.bin", "arq.common.Person"},
               {"vectors/node65.bin", "arq.test.Node"}, /* refused: too deep */
               {"vectors/repeated.bin", "arq.test.Scalars"}}; /* refused: wrong wire types */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t *b = read_data(cases[i].file, &len);
    const arq_schema_message_t *m = arq_schema_find_message(s, cases[i].type);
    before = allocations;
    for (int k = 0; k < 100; k++) {
      arq_schema_validate(s, m, b, len, NULL, &err);
      arq_schema_validate(s, m, b, len / 2, NULL, &err); /* truncated: error text built */
    }
    assert_int_equal(allocations, before);
    free(b);
  }
  arq_schema_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(validation_allocates_nothing)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
