#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "brain/rules.h"

/* The partition function is part of the wire contract between Brains: pinned values. */
static void partition_is_fnv1a_of_tenant_slash_room(void **state) {
  assert_int_equal(arq_brain_partition("", "", 0), 0);
  /* The same hash computed here, and one value computed independently (Python). */
  uint32_t h = 2166136261u;
  const char *s = "T1/Big";
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  assert_int_equal(arq_brain_partition("T1", "Big", 1u << 31), h % (1u << 31));
  assert_int_equal(arq_brain_partition("T1", "Big", 4), h % 4);
  assert_int_equal(arq_brain_partition("a", "b", 0xffffffffu), 0x3a8e75c1u);
  /* Tenant and room are not interchangeable. */
  assert_int_not_equal(arq_brain_partition("ab", "c", 1000003), arq_brain_partition("a", "bc", 1000003));
  for (uint32_t p = 1; p < 50; p++)
    assert_true(arq_brain_partition("T", "room", p) < p);
}

static void stamp_checks(void **state) {
  assert_null(arq_brain_check_stamp("T1", "T1", "bob", "T1", "bob"));
  assert_string_equal(arq_brain_check_stamp("T1", "T2", "bob", "T1", "bob"),
                      "x-arqon-tenant differs from the subject's tenant");
  assert_string_equal(arq_brain_check_stamp("T1", "T1", "bob", "T2", "bob"),
                      "envelope tenant_id differs from the subject's tenant");
  assert_string_equal(arq_brain_check_stamp("T1", "T1", "bob", "T1", "eve"),
                      "envelope sender differs from x-arqon-sender");
  assert_non_null(arq_brain_check_stamp("T1", NULL, "bob", "T1", "bob"));
  assert_non_null(arq_brain_check_stamp("T1", "T1", "bob", NULL, "bob"));
  assert_non_null(arq_brain_check_stamp("T1", "T1", "", "T1", ""));
}

/* Numbering is a function of the stream: the same messages, read again from any committed
 * (seq, in) pair, get the same seqs; a message read again is never numbered twice. */
static void room_order_numbers_each_message_once(void **state) {
  arq_room_order_t o = arq_room_order_resume(0, 0, false, 0); /* a new room */
  uint64_t seq = 0;
  assert_true(arq_room_order_next(&o, 5, &seq));
  assert_true(seq == 1 && o.in == 5);
  assert_true(arq_room_order_next(&o, 9, &seq));
  assert_true(seq == 2 && o.in == 9);
  /* Replays (the consumer restarted behind the room): passed over, the order stays. */
  seq = 77;
  assert_false(arq_room_order_next(&o, 9, &seq));
  assert_false(arq_room_order_next(&o, 5, &seq));
  assert_true(seq == 77 && o.seq == 2 && o.in == 9);
  /* Gaps in the ingress sequence (other rooms' messages) do not show in the seq. */
  assert_true(arq_room_order_next(&o, 1000, &seq));
  assert_int_equal(seq, 3);

  /* From the commit after the first message, the rest is numbered as before. */
  const uint64_t stream[] = {5, 9, 1000, 1001, 4000};
  arq_room_order_t a = arq_room_order_resume(0, 0, false, 0), b = arq_room_order_resume(1, 5, false, 0);
  uint64_t first[5] = {0}, again[5] = {0};
  for (size_t i = 0; i < 5; i++)
    assert_true(arq_room_order_next(&a, stream[i], &first[i]));
  for (size_t i = 0; i < 5; i++) {
    bool numbered = arq_room_order_next(&b, stream[i], &again[i]);
    assert_int_equal(numbered, i > 0);
  }
  for (size_t i = 1; i < 5; i++)
    assert_true(first[i] == again[i]);
  assert_true(a.seq == b.seq && a.in == b.in);
}

static void room_order_resume_from_redis(void **state) {
  arq_room_order_t o = arq_room_order_resume(7, 70, false, 0);
  assert_true(o.seq == 7 && o.in == 70);
  o = arq_room_order_resume(7, 70, true, 70); /* published: continue after it */
  assert_true(o.seq == 7 && o.in == 70);
  /* The earlier design numbered seq 7 at ingress 70 but knew it published only up to 60:
   * continue from seq 6, so ingress 70 is numbered 7 again, not 8. */
  o = arq_room_order_resume(7, 70, true, 60);
  assert_true(o.seq == 6 && o.in == 60);
  uint64_t seq = 0;
  assert_true(arq_room_order_next(&o, 70, &seq));
  assert_int_equal(seq, 7);
  /* Nothing numbered yet: nothing to step back from. */
  o = arq_room_order_resume(0, 0, true, 0);
  assert_true(o.seq == 0 && o.in == 0);
  o = arq_room_order_resume(0, 10, true, 3);
  assert_true(o.seq == 0 && o.in == 10);
}

static void room_event_checks(void **state) {
  assert_null(arq_brain_check_room_event("lobby", NULL, true));
  assert_null(arq_brain_check_room_event("lobby", "", true));
  assert_null(arq_brain_check_room_event("lobby", "lobby", true));
  assert_string_equal(arq_brain_check_room_event("lobby", "other", true),
                      "envelope room_id differs from the subject's room");
  assert_string_equal(arq_brain_check_room_event("lobby", "lobby", false),
                      "a room message must be an event");
  assert_string_equal(arq_brain_check_room_event("lobby", "lobb", true),
                      "envelope room_id differs from the subject's room");
}

static void history_args(void **state) {
  arq_brain_history_args_t a;
  char err[160];
  assert_int_equal(arq_brain_history_args(NULL, 0, &a, err, sizeof err), 0);
  assert_true(a.since_seq == 0 && a.limit == ARQ_BRAIN_HISTORY_CAP);
  const char *ok = "{\"since_seq\":17,\"limit\":5}";
  assert_int_equal(arq_brain_history_args((const uint8_t *)ok, strlen(ok), &a, err, sizeof err), 0);
  assert_true(a.since_seq == 17 && a.limit == 5);
  const char *big = "{\"limit\":1e6}";
  assert_int_equal(arq_brain_history_args((const uint8_t *)big, strlen(big), &a, err, sizeof err), 0);
  assert_int_equal(a.limit, ARQ_BRAIN_HISTORY_CAP);
  const char *bad[] = {"{\"limit\":0}", "{\"limit\":-1}", "{\"since_seq\":1.5}", "[1]", "nope",
                       "{\"since_seq\":\"3\"}", "{\"limit\":1,\"limit\":2}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_int_equal(arq_brain_history_args((const uint8_t *)bad[i], strlen(bad[i]), &a, err, sizeof err), -1);
    assert_true(err[0] != '\0');
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(partition_is_fnv1a_of_tenant_slash_room),
      cmocka_unit_test(stamp_checks),
      cmocka_unit_test(room_order_numbers_each_message_once),
      cmocka_unit_test(room_order_resume_from_redis),
      cmocka_unit_test(room_event_checks),
      cmocka_unit_test(history_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
