/* RFC 4648 base64 (src/common/base64.h): the RFC's vectors both ways, both alphabets, and
 * what is not base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"

static void rfc4648_vectors(void **state) {
  static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (size_t i = 0; i < 7; i++) {
    arq_buf_t b;
    arq_buf_init(&b);
    arq_base64_append(&b, (const uint8_t *)plain[i], strlen(plain[i]));
    assert_string_equal(b.len ? b.data : "", coded[i]);
    arq_buf_free(&b);
    uint8_t out[16];
    long n = arq_base64_decode(coded[i], strlen(coded[i]), out);
    assert_int_equal(n, (long)strlen(plain[i]));
    assert_memory_equal(out, plain[i], (size_t)n);
    /* without padding too */
    size_t unpadded = strcspn(coded[i], "=");
    assert_int_equal(arq_base64_decode(coded[i], unpadded, out), (long)strlen(plain[i]));
  }
}

static void alphabets_and_garbage(void **state) {
  uint8_t out[16];
  assert_int_equal(arq_base64_decode("-_8", 3, out), 2); /* URL-safe */
  assert_int_equal(arq_base64_decode("+/8", 3, out), 2);
  assert_int_equal(arq_base64_decode("+_8", 3, out), -1); /* a mixture */
  assert_int_equal(arq_base64_decode("Zg=", 3, out), -1);  /* padding of the wrong length */
  assert_int_equal(arq_base64_decode("Z", 1, out), -1);    /* six bits end no byte */
  assert_int_equal(arq_base64_decode("Zm 9v", 5, out), -1);
  assert_int_equal(arq_base64_decode("Zm9v\n", 5, out), -1);
  assert_int_equal(arq_base64_decode("!!", 2, out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc4648_vectors),
      cmocka_unit_test(alphabets_and_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
