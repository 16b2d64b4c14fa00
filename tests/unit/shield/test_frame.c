/* Frames: header encoding, sharing, the per-worker pool and returns from other threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "net/ws.h"
#include "shield/frame.h"

static void headers_and_payload(void **state) {
  uint8_t big[70000];
  memset(big, 'b', sizeof big);
  size_t sizes[] = {0, 125, 126, 65535, 65536, sizeof big};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    arq_frame_t *f = arq_frame_new(NULL, ARQ_WS_OP_BINARY, big, sizes[i]);
    size_t hlen = sizes[i] < 126 ? 2 : sizes[i] < 65536 ? 4 : 10;
    assert_int_equal(f->len, hlen + sizes[i]);
    assert_int_equal(f->data[0], 0x82); /* FIN + binary, unmasked */
    assert_ptr_equal(arq_frame_payload(f), f->data + hlen);
    assert_memory_equal(arq_frame_payload(f), big, sizes[i]);
    arq_frame_unref(f);
  }
}

static void pool_reuses_frames(void **state) {
  arq_frame_pool_t *pool = arq_frame_pool_new();
  arq_frame_t *a = arq_frame_new(pool, ARQ_WS_OP_TEXT, "hello", 5);
  arq_frame_ref(a); /* shared by two recipients */
  arq_frame_unref(a);
  arq_frame_unref(a);
  /* Same size class: the returned block comes back. */
  arq_frame_t *b = arq_frame_new(pool, ARQ_WS_OP_TEXT, "world!", 6);
  assert_ptr_equal(a, b);
  assert_memory_equal(arq_frame_payload(b), "world!", 6);
  arq_frame_unref(b);
  /* Oversized frames are not pooled. */
  static uint8_t huge[100000];
  arq_frame_t *h = arq_frame_new(pool, ARQ_WS_OP_BINARY, huge, sizeof huge);
  assert_null(h->pool);
  arq_frame_unref(h);
  arq_frame_t *raw = arq_frame_raw(pool, "HTTP/1.1 200 OK\r\n\r\n", 19);
  assert_int_equal(raw->len, 19);
  assert_memory_equal(raw->data, "HTTP/1.1 200 OK\r\n\r\n", 19);
  arq_frame_unref(raw);
  arq_frame_pool_free(pool);
}

typedef struct {
  arq_frame_t **frames;
  size_t n;
} batch_t;

static void *release_all(void *arg) {
  batch_t *b = arg;
  for (size_t i = 0; i < b->n; i++)
    arq_frame_unref(b->frames[i]);
  return NULL;
}

static void returns_from_other_threads(void **state) {
  enum { N = 4000 };
  static arq_frame_t *frames[N];
  arq_frame_pool_t *pool = arq_frame_pool_new();
  for (int round = 0; round < 5; round++) {
    for (size_t i = 0; i < N; i++)
      frames[i] = arq_frame_new(pool, ARQ_WS_OP_TEXT, "x", 1);
    pthread_t t[4];
    batch_t b[4];
    for (int k = 0; k < 4; k++) {
      b[k].frames = frames + k * (N / 4);
      b[k].n = N / 4;
      pthread_create(&t[k], NULL, release_all, &b[k]);
    }
    for (int k = 0; k < 4; k++)
      pthread_join(t[k], NULL);
  }
  arq_frame_pool_free(pool); /* LeakSanitizer checks nothing was lost */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(headers_and_payload),
      cmocka_unit_test(pool_reuses_frames),
      cmocka_unit_test(returns_from_other_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
