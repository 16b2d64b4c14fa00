#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arqon/v1/envelope.pb-c.h"
#include "loadgen/scan.h"

static uint8_t *pack(const Arqon__V1__Envelope *e, size_t *n) {
  *n = arqon__v1__envelope__get_packed_size(e);
  uint8_t *buf = malloc(*n ? *n : 1);
  assert_non_null(buf);
  arqon__v1__envelope__pack(e, buf);
  return buf;
}

static void assert_bytes(const uint8_t *p, size_t len, const char *want) {
  assert_non_null(p);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(p, want, len);
}

/* Every field of the schema set, so the scan must skip each wire type it meets. */
static void full_event(void **state) {
  (void)state;
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Event ev = ARQON__V1__EVENT__INIT;
  Arqon__V1__Envelope__HeadersEntry h1 = ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT;
  Arqon__V1__Envelope__HeadersEntry *hs[] = {&h1};
  h1.key = "traceparent";
  h1.value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  e.trace_id = "0af7651916cd43dd8448eb211c80319c";
  e.tenant_id = "t1";
  e.room_id = "lobby";
  e.timestamp = 1763770000000;
  e.n_headers = 1;
  e.headers = hs;
  e.id = "000012ab34cd56ef";
  e.seq = 1ull << 40;
  e.sender = "alice";
  e.conn_id = "abc-1-7";
  ev.type = "bench";
  ev.data.data = (uint8_t *)"xxxxxxxx";
  ev.data.len = 8;
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = &ev;
  size_t n;
  uint8_t *buf = pack(&e, &n);
  arq_bench_env_t s;
  assert_int_equal(arq_bench_scan_envelope(buf, n, &s), 0);
  assert_true(s.has_event);
  assert_bytes(s.id, s.id_len, "000012ab34cd56ef");
  assert_bytes(s.event_type, s.event_type_len, "bench");
  assert_bytes(s.event_data, s.event_data_len, "xxxxxxxx");
  /* No prefix of a message may be read past its end; most prefixes are refused. */
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *part = malloc(cut ? cut : 1);
    memcpy(part, buf, cut);
    arq_bench_env_t t;
    (void)arq_bench_scan_envelope(part, cut, &t);
    free(part);
  }
  free(buf);
}

static void command_and_absent_fields(void **state) {
  (void)state;
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Command cmd = ARQON__V1__COMMAND__INIT;
  cmd.type = "join";
  e.room_id = "r";
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_CMD;
  e.cmd = &cmd;
  size_t n;
  uint8_t *buf = pack(&e, &n);
  arq_bench_env_t s;
  assert_int_equal(arq_bench_scan_envelope(buf, n, &s), 0);
  assert_false(s.has_event);
  assert_null(s.id);
  assert_null(s.event_type);
  free(buf);
  assert_int_equal(arq_bench_scan_envelope((const uint8_t *)"", 0, &s), 0);
  assert_false(s.has_event);
}

static void malformed(void **state) {
  (void)state;
  arq_bench_env_t s;
  const uint8_t group[] = {0x0b, 0x0c};           /* field 1, start group */
  const uint8_t long_len[] = {0x3a, 0x05, 'a'};    /* id announces 5 bytes, has 1 */
  const uint8_t id_varint[] = {0x38, 0x01};        /* id (7) as a varint */
  const uint8_t bad_varint[] = {0x20, 0xff, 0xff}; /* timestamp cut inside its varint */
  const uint8_t field0[] = {0x02, 0x00};           /* field number 0 */
  assert_int_equal(arq_bench_scan_envelope(group, sizeof group, &s), -1);
  assert_int_equal(arq_bench_scan_envelope(long_len, sizeof long_len, &s), -1);
  assert_int_equal(arq_bench_scan_envelope(id_varint, sizeof id_varint, &s), -1);
  assert_int_equal(arq_bench_scan_envelope(bad_varint, sizeof bad_varint, &s), -1);
  assert_int_equal(arq_bench_scan_envelope(field0, sizeof field0, &s), -1);
  /* an event whose own fields are broken */
  const uint8_t bad_event[] = {0xaa, 0x01, 0x02, 0x0a, 0x05};
  assert_int_equal(arq_bench_scan_envelope(bad_event, sizeof bad_event, &s), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(full_event),
                                     cmocka_unit_test(command_and_absent_fields),
                                     cmocka_unit_test(malformed)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
