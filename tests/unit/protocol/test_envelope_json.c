/* Unit tests for the Envelope JSON mapping (src/protocol/envelope_json.h): both name styles,
 * the oneof, 64-bit integers, base64, enums, unknown fields, the arena (its memory given back
 * after a large message, the header cap, the budget of binary decoding), and round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/envelope_json.h"

static arq_envelope_arena_t arena;
static char err[256];

static int setup(void **state) {
  arq_envelope_arena_init(&arena, NULL);
  return 0;
}

static int teardown(void **state) {
  arq_envelope_arena_free(&arena);
  return 0;
}

static int decode(const char *json, Arqon__V1__Envelope *e) {
  return arq_envelope_from_json(json, strlen(json), e, &arena, err, sizeof err);
}

static void decode_ok(const char *json, Arqon__V1__Envelope *e) {
  if (decode(json, e))
    fail_msg("rejected %s: %s", json, err);
}

/* Rejected, with `want` somewhere in the message. */
static void assert_rejected(const char *json, const char *want) {
  Arqon__V1__Envelope e;
  int rc = decode(json, &e);
  if (rc != ARQ_ENVELOPE_EINVAL)
    fail_msg("accepted (rc %d): %s", rc, json);
  if (!strstr(err, want))
    fail_msg("%s: error '%s' lacks '%s'", json, err, want);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD__NOT_SET);
}

/* Binary form, the ground truth for "equal messages". */
static arq_buf_t pack(const Arqon__V1__Envelope *e) {
  arq_buf_t b;
  arq_buf_init(&b);
  size_t n = arqon__v1__envelope__get_packed_size(e);
  arq_buf_reserve(&b, n);
  b.len = arqon__v1__envelope__pack(e, (uint8_t *)b.data);
  assert_int_equal(b.len, n);
  return b;
}

static arq_buf_t pack_json(const char *json) {
  Arqon__V1__Envelope e;
  decode_ok(json, &e);
  return pack(&e);
}

static void assert_same_message(const char *a, const char *b) {
  arq_buf_t pa = pack_json(a), pb = pack_json(b);
  if (pa.len != pb.len || memcmp(pa.data, pb.data, pa.len))
    fail_msg("%s and %s decode differently", a, b);
  arq_buf_free(&pa);
  arq_buf_free(&pb);
}

static char *encode(const Arqon__V1__Envelope *e) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_envelope_to_json(e, &b);
  return b.data;
}

/* json -> pb -> json gives `canonical`, and the canonical form decodes to the same bytes. */
static void assert_round_trip(const char *json, const char *canonical) {
  Arqon__V1__Envelope e;
  decode_ok(json, &e);
  arq_buf_t first = pack(&e);
  char *text = encode(&e);
  assert_string_equal(text, canonical);
  decode_ok(text, &e);
  arq_buf_t second = pack(&e);
  assert_int_equal(first.len, second.len);
  assert_memory_equal(first.data, second.data, first.len);
  free(text);
  arq_buf_free(&first);
  arq_buf_free(&second);
}

/* ---- names ---- */

static void test_both_name_styles(void **state) {
  assert_same_message("{\"trace_id\":\"t\",\"tenant_id\":\"te\",\"room_id\":\"r\",\"twist_id\":\"tw\","
                      "\"conn_id\":\"c\",\"timestamp\":1,\"seq\":2,\"id\":\"i\",\"sender\":\"s\"}",
                      "{\"traceId\":\"t\",\"tenantId\":\"te\",\"roomId\":\"r\",\"twistId\":\"tw\","
                      "\"connId\":\"c\",\"timestamp\":\"1\",\"seq\":\"2\",\"id\":\"i\",\"sender\":\"s\"}");
  Arqon__V1__Envelope e;
  decode_ok("{\"roomId\":\"lobby\",\"tenant_id\":\"acme\"}", &e);
  assert_string_equal(e.room_id, "lobby");
  assert_string_equal(e.tenant_id, "acme");
  assert_string_equal(e.trace_id, "");
  /* the same field under both names, or twice under one */
  assert_rejected("{\"trace_id\":\"a\",\"traceId\":\"b\"}", "field \"trace_id\" given twice");
  assert_rejected("{\"connId\":\"a\",\"conn_id\":null}", "given twice");
  assert_rejected("{\"id\":\"a\",\"id\":\"b\"}", "duplicate object key");
  /* names are case-sensitive; neither style accepts the other's casing mistakes */
  assert_rejected("{\"TraceId\":\"a\"}", "unknown field \"TraceId\"");
  assert_rejected("{\"trace-id\":\"a\"}", "unknown field \"trace-id\"");
}

static void test_unknown_fields(void **state) {
  assert_rejected("{\"room\":\"x\"}", "byte 1: envelope: unknown field \"room\"");
  assert_rejected("{\"cmd\":{\"type\":\"join\",\"args\":1}}", "cmd: unknown field \"args\"");
  assert_rejected("{\"event\":{\"kind\":1}}", "event: unknown field \"kind\"");
  assert_rejected("{\"signal\":{\"code\":1}}", "signal: unknown field \"code\"");
  assert_rejected("{\"cmd\":{\"traceId\":\"x\"}}", "cmd: unknown field \"traceId\"");
  /* unprintable bytes in a name are not echoed raw */
  assert_rejected("{\"a\\nb\\\"\":1}", "unknown field \"a?b?\"");
  char long_key[300] = "{\"";
  memset(long_key + 2, 'k', 200);
  strcpy(long_key + 202, "\":1}");
  assert_rejected(long_key, "...");
}

/* ---- the oneof ---- */

static void test_oneof(void **state) {
  Arqon__V1__Envelope e;
  decode_ok("{\"cmd\":{\"type\":\"join\"}}", &e);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD_CMD);
  assert_string_equal(e.cmd->type, "join");
  decode_ok("{\"event\":{}}", &e);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD_EVENT);
  assert_int_equal(e.event->data.len, 0);
  decode_ok("{\"signal\":{\"type\":\"DISCONNECT\",\"reason\":\"bye\"}}", &e);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD_SIGNAL);
  assert_int_equal(e.signal->type, ARQON__V1__SYSTEM_SIGNAL__TYPE__DISCONNECT);
  assert_string_equal(e.signal->reason, "bye");
  assert_rejected("{\"cmd\":{},\"event\":{}}", "more than one of cmd, event, signal");
  assert_rejected("{\"event\":{\"type\":\"a\"},\"signal\":{}}", "more than one");
  assert_rejected("{\"cmd\":{},\"event\":{},\"signal\":{}}", "more than one");
  /* null is "not set", so it does not conflict */
  decode_ok("{\"cmd\":null,\"event\":{\"type\":\"x\"},\"signal\":null}", &e);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD_EVENT);
  decode_ok("{\"cmd\":null}", &e);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD__NOT_SET);
  assert_rejected("{\"cmd\":\"join\"}", "cmd: expected an object, got string");
  assert_rejected("{\"event\":[]}", "event: expected an object, got array");
}

/* ---- scalars ---- */

static void test_int64_and_uint64(void **state) {
  Arqon__V1__Envelope e;
  static const struct {
    const char *json;
    int64_t ts;
  } ok[] = {
      {"{\"timestamp\":1700000000123}", 1700000000123},
      {"{\"timestamp\":\"1700000000123\"}", 1700000000123},
      {"{\"timestamp\":\"-9223372036854775808\"}", INT64_MIN},
      {"{\"timestamp\":9223372036854775807}", INT64_MAX},
      {"{\"timestamp\":1e3}", 1000},
      {"{\"timestamp\":\"1.5e3\"}", 1500},
      {"{\"timestamp\":-0}", 0},
      {"{\"timestamp\":12.000}", 12},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    decode_ok(ok[i].json, &e);
    assert_true(e.timestamp == ok[i].ts);
  }
  decode_ok("{\"seq\":\"18446744073709551615\"}", &e);
  assert_true(e.seq == UINT64_MAX);
  decode_ok("{\"seq\":18446744073709551615}", &e);
  assert_true(e.seq == UINT64_MAX);
  assert_rejected("{\"timestamp\":1.5}", "field \"timestamp\": not an integer");
  assert_rejected("{\"timestamp\":\"1.5\"}", "not an integer");
  assert_rejected("{\"timestamp\":1e-3}", "not an integer");
  assert_rejected("{\"timestamp\":9223372036854775808}", "out of range for int64");
  assert_rejected("{\"timestamp\":\"-9223372036854775809\"}", "out of range");
  assert_rejected("{\"timestamp\":1e30}", "out of range");
  assert_rejected("{\"seq\":-1}", "field \"seq\": out of range for uint64");
  assert_rejected("{\"seq\":\"18446744073709551616\"}", "out of range");
  assert_rejected("{\"seq\":\"abc\"}", "field \"seq\": not a number");
  assert_rejected("{\"seq\":\" 1\"}", "not a number");
  assert_rejected("{\"seq\":\"01\"}", "not a number");
  assert_rejected("{\"seq\":\"\"}", "not a number");
  assert_rejected("{\"seq\":true}", "expected an integer, got boolean");
  assert_rejected("{\"seq\":{}}", "expected an integer, got object");
}

static void test_strings(void **state) {
  Arqon__V1__Envelope e;
  decode_ok("{\"id\":\"\\u00e9\\ud83d\\ude00\"}", &e);
  assert_string_equal(e.id, "\xc3\xa9\xf0\x9f\x98\x80");
  assert_rejected("{\"id\":5}", "field \"id\": expected a string, got number");
  assert_rejected("{\"roomId\":[\"a\"]}", "field \"room_id\": expected a string, got array");
  assert_rejected("{\"id\":\"a\\u0000b\"}", "U+0000 is not allowed");
  assert_rejected("{\"id\":\"\xff\"}", "invalid UTF-8");
}

static void test_base64_variants(void **state) {
  static const char *same[] = {"+/8=", "+/8", "-_8=", "-_8"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    char json[64];
    snprintf(json, sizeof json, "{\"signature\":\"%s\"}", same[i]);
    Arqon__V1__Envelope e;
    decode_ok(json, &e);
    assert_int_equal(e.signature.len, 2);
    assert_memory_equal(e.signature.data, "\xfb\xff", 2);
  }
  Arqon__V1__Envelope e;
  decode_ok("{\"event\":{\"data\":\"aGVsbG8gd29ybGQ=\"}}", &e);
  assert_int_equal(e.event->data.len, 11);
  assert_memory_equal(e.event->data.data, "hello world", 11);
  decode_ok("{\"cmd\":{\"data\":\"AAECAw\"}}", &e);
  assert_int_equal(e.cmd->data.len, 4);
  assert_memory_equal(e.cmd->data.data, "\0\1\2\3", 4);
  decode_ok("{\"signature\":\"\"}", &e);
  assert_int_equal(e.signature.len, 0);
  static const char *bad[] = {"A",        "AQ=",   "AQI==", "A===",   "AQ==AQ==", "+_8=",
                              "AQ\\nID", "AQ ID", "*AAA",  "AQIDB", "=", "===="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char json[64];
    snprintf(json, sizeof json, "{\"signature\":\"%s\"}", bad[i]);
    assert_rejected(json, "field \"signature\": invalid base64");
  }
  assert_rejected("{\"signature\":1}", "expected a base64 string");
}

static void test_enum(void **state) {
  Arqon__V1__Envelope e;
  decode_ok("{\"signal\":{\"type\":\"BAN\"}}", &e);
  assert_int_equal(e.signal->type, ARQON__V1__SYSTEM_SIGNAL__TYPE__BAN);
  decode_ok("{\"signal\":{\"type\":1}}", &e);
  assert_int_equal(e.signal->type, ARQON__V1__SYSTEM_SIGNAL__TYPE__DISCONNECT);
  decode_ok("{\"signal\":{\"type\":\"UNKNOWN\"}}", &e);
  assert_int_equal(e.signal->type, 0);
  decode_ok("{\"signal\":{\"type\":42}}", &e); /* open enum: kept */
  assert_int_equal(e.signal->type, 42);
  decode_ok("{\"signal\":{\"type\":-1}}", &e);
  assert_int_equal((int)e.signal->type, -1);
  assert_rejected("{\"signal\":{\"type\":\"ban\"}}", "unknown enum name \"ban\"");
  assert_rejected("{\"signal\":{\"type\":\"1\"}}", "unknown enum name \"1\"");
  assert_rejected("{\"signal\":{\"type\":1.5}}", "enum number must be an int32");
  assert_rejected("{\"signal\":{\"type\":2147483648}}", "enum number must be an int32");
  assert_rejected("{\"signal\":{\"type\":true}}", "expected an enum name or number");
}

static void test_headers(void **state) {
  Arqon__V1__Envelope e;
  decode_ok("{\"headers\":{\"traceparent\":\"00-ab\",\"x\":\"\"}}", &e);
  assert_int_equal(e.n_headers, 2);
  assert_string_equal(e.headers[0]->key, "traceparent");
  assert_string_equal(e.headers[0]->value, "00-ab");
  assert_string_equal(e.headers[1]->value, "");
  decode_ok("{\"headers\":{}}", &e);
  assert_int_equal(e.n_headers, 0);
  decode_ok("{\"headers\":null}", &e);
  assert_int_equal(e.n_headers, 0);
  assert_rejected("{\"headers\":{\"a\":1}}", "value of \"a\" must be a string, got number");
  assert_rejected("{\"headers\":{\"a\":null}}", "value of \"a\" must be a string, got null");
  assert_rejected("{\"headers\":[]}", "expected an object of strings, got array");
  assert_rejected("{\"headers\":{\"a\":\"x\",\"a\":\"y\"}}", "duplicate object key");
  assert_rejected("{\"headers\":{\"a\\u0000\":\"x\"}}", "U+0000");
}

static void test_not_an_envelope(void **state) {
  assert_rejected("[]", "byte 0: envelope: expected an object, got array");
  assert_rejected("null", "expected an object, got null");
  assert_rejected("{\"id\":\"x\",}", "byte 10: unexpected character");
  assert_rejected("", "unexpected end of input");
  assert_rejected("{} {}", "unexpected data after the document");
}

static void test_null_means_default(void **state) {
  Arqon__V1__Envelope e;
  decode_ok("{\"traceId\":null,\"tenantId\":null,\"roomId\":null,\"timestamp\":null,\"twistId\":null,"
            "\"headers\":null,\"id\":null,\"seq\":null,\"sender\":null,\"signature\":null,"
            "\"connId\":null,\"cmd\":null,\"event\":null,\"signal\":null}",
            &e);
  assert_int_equal(arqon__v1__envelope__get_packed_size(&e), 0);
  decode_ok("{\"cmd\":{\"type\":null,\"data\":null}}", &e);
  assert_int_equal(e.payload_case, ARQON__V1__ENVELOPE__PAYLOAD_CMD);
  assert_string_equal(e.cmd->type, "");
}

static void test_default_limits(void **state) {
  /* The arena's defaults are sized for envelopes, not for arbitrary JSON. */
  arq_buf_t json;
  arq_buf_init(&json);
  arq_buf_puts(&json, "{\"x\":[");
  for (int i = 0; i < 20000; i++)
    arq_buf_puts(&json, i ? ",0" : "0");
  arq_buf_puts(&json, "]}");
  Arqon__V1__Envelope e;
  assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err),
                   ARQ_ENVELOPE_EINVAL);
  assert_non_null(strstr(err, "value count limit"));
  arq_buf_reset(&json);
  for (int i = 0; i < 17; i++)
    arq_buf_putc(&json, '[');
  assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err),
                   ARQ_ENVELOPE_EINVAL);
  assert_string_equal(err, "byte 16: nesting exceeds the depth limit");
  arq_buf_reset(&json);
  arq_buf_reserve(&json, ARQ_ENVELOPE_JSON_MAX_BYTES + 1);
  memset(json.data, ' ', ARQ_ENVELOPE_JSON_MAX_BYTES + 1);
  assert_int_equal(arq_envelope_from_json(json.data, ARQ_ENVELOPE_JSON_MAX_BYTES + 1, &e, &arena,
                                          err, sizeof err),
                   ARQ_ENVELOPE_ETOOBIG);
  arq_buf_free(&json);
}

static void test_too_big(void **state) {
  arq_envelope_arena_t small;
  arq_json_limits_t lim = {.max_bytes = 16};
  arq_envelope_arena_init(&small, &lim);
  Arqon__V1__Envelope e;
  const char *json = "{\"id\":\"0123456789\"}";
  assert_int_equal(arq_envelope_from_json(json, strlen(json), &e, &small, err, sizeof err),
                   ARQ_ENVELOPE_ETOOBIG);
  assert_string_equal(err, "byte 16: document exceeds the size limit");
  assert_int_equal(arq_envelope_from_json("{}", 2, &e, &small, err, sizeof err), 0);
  /* a zero-sized error buffer is allowed */
  assert_int_equal(arq_envelope_from_json("[", 1, &e, &small, NULL, 0), ARQ_ENVELOPE_EINVAL);
  arq_envelope_arena_free(&small);
}

/* ---- encoding and round trips ---- */

static void test_round_trips(void **state) {
  assert_round_trip("{}", "{}");
  assert_round_trip("{\"trace_id\":\"\",\"timestamp\":0,\"seq\":\"0\",\"signature\":\"\",\"headers\":{}}",
                    "{}");
  assert_round_trip(
      "{\"conn_id\":\"c1\",\"seq\":7,\"timestamp\":-5,\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
      "\"tenant_id\":\"acme\",\"room_id\":\"lobby\",\"twist_id\":\"tw\",\"headers\":{\"b\":\"2\",\"a\":\"1\"},"
      "\"id\":\"m1\",\"sender\":\"alice\",\"signature\":\"-_8\",\"event\":{\"type\":\"chat\","
      "\"data\":\"eyJ0ZXh0IjoiaGkifQ\"}}",
      "{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"tenantId\":\"acme\",\"roomId\":\"lobby\","
      "\"timestamp\":\"-5\",\"twistId\":\"tw\",\"headers\":{\"b\":\"2\",\"a\":\"1\"},\"id\":\"m1\","
      "\"seq\":\"7\",\"sender\":\"alice\",\"signature\":\"+/8=\",\"connId\":\"c1\","
      "\"event\":{\"type\":\"chat\",\"data\":\"eyJ0ZXh0IjoiaGkifQ==\"}}");
  assert_round_trip("{\"cmd\":{}}", "{\"cmd\":{}}");
  assert_round_trip("{\"cmd\":{\"type\":\"history\",\"data\":\"e30=\"}}",
                    "{\"cmd\":{\"type\":\"history\",\"data\":\"e30=\"}}");
  assert_round_trip("{\"signal\":{\"type\":0,\"reason\":\"\"}}", "{\"signal\":{}}");
  assert_round_trip("{\"signal\":{\"type\":2}}", "{\"signal\":{\"type\":\"BAN\"}}");
  assert_round_trip("{\"signal\":{\"type\":9}}", "{\"signal\":{\"type\":9}}");
  /* found by fuzzing: negative enum numbers went out as their unsigned 32-bit value */
  assert_round_trip("{\"signal\":{\"type\":-77773}}", "{\"signal\":{\"type\":-77773}}");
  assert_round_trip("{\"signal\":{\"type\":-2147483648}}",
                    "{\"signal\":{\"type\":-2147483648}}");
  assert_round_trip("{\"seq\":18446744073709551615,\"timestamp\":\"-9223372036854775808\"}",
                    "{\"timestamp\":\"-9223372036854775808\",\"seq\":\"18446744073709551615\"}");
  assert_round_trip("{\"id\":\"q\\\"\\\\\\n\\u0001\\u00e9\"}", "{\"id\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\"}");
  /* every length of bytes modulo 3 */
  assert_round_trip("{\"signature\":\"AQ\"}", "{\"signature\":\"AQ==\"}");
  assert_round_trip("{\"signature\":\"AQI\"}", "{\"signature\":\"AQI=\"}");
  assert_round_trip("{\"signature\":\"AQID\"}", "{\"signature\":\"AQID\"}");
}

static void test_encode_from_binary_oddities(void **state) {
  /* What a binary peer can send but JSON cannot say twice: repeated map keys (the last
   * wins) and invalid UTF-8 (replaced, so the output still parses). */
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Envelope__HeadersEntry h[3] = {ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT,
                                            ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT,
                                            ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT};
  Arqon__V1__Envelope__HeadersEntry *hp[3] = {&h[0], &h[1], &h[2]};
  h[0].key = "k";
  h[0].value = "first";
  h[1].key = "j";
  h[1].value = "other";
  h[2].key = "k";
  h[2].value = "last";
  e.n_headers = 3;
  e.headers = hp;
  e.sender = "bad\xff";
  e.payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
  e.event = NULL; /* a malformed struct must not crash the encoder */
  char *text = encode(&e);
  assert_string_equal(text, "{\"headers\":{\"j\":\"other\",\"k\":\"last\"},\"sender\":\"bad\xef\xbf\xbd\","
                            "\"event\":{}}");
  Arqon__V1__Envelope back;
  decode_ok(text, &back);
  free(text);

  /* keys that differ only in ill-formed bytes, or in one against a real U+FFFD, are one JSON
   * key once the bytes are replaced (found by the fuzz target) */
  Arqon__V1__Envelope same = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Envelope__HeadersEntry hb[3] = {ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT,
                                             ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT,
                                             ARQON__V1__ENVELOPE__HEADERS_ENTRY__INIT};
  Arqon__V1__Envelope__HeadersEntry *hbp[3] = {&hb[0], &hb[1], &hb[2]};
  hb[0].key = "x\xfe";
  hb[0].value = "a";
  hb[1].key = "x\xef\xbf\xbd";
  hb[1].value = "b";
  hb[2].key = "x\xc3";
  hb[2].value = "c";
  same.n_headers = 3;
  same.headers = hbp;
  text = encode(&same);
  assert_string_equal(text, "{\"headers\":{\"x\xef\xbf\xbd\":\"c\"}}");
  decode_ok(text, &back);
  free(text);

  /* a long list takes the sorting path: 40 entries over 10 keys, the last of each wins */
  Arqon__V1__Envelope many = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Envelope__HeadersEntry hs[40];
  Arqon__V1__Envelope__HeadersEntry *hps[40];
  char keys[40][16], values[40][16];
  for (int i = 0; i < 40; i++) {
    arqon__v1__envelope__headers_entry__init(&hs[i]);
    snprintf(keys[i], sizeof keys[i], "k%d", i % 10);
    snprintf(values[i], sizeof values[i], "v%d", i);
    hs[i].key = keys[i];
    hs[i].value = values[i];
    hps[i] = &hs[i];
  }
  many.n_headers = 40;
  many.headers = hps;
  text = encode(&many);
  assert_string_equal(text, "{\"headers\":{\"k0\":\"v30\",\"k1\":\"v31\",\"k2\":\"v32\","
                            "\"k3\":\"v33\",\"k4\":\"v34\",\"k5\":\"v35\",\"k6\":\"v36\","
                            "\"k7\":\"v37\",\"k8\":\"v38\",\"k9\":\"v39\"}}");
  free(text);
}

/* ---- the arena ---- */

/* {"headers":{"h0":"v",...}, "event":{"type":"x","data":<data_bytes of base64>}} */
static void headers_json(arq_buf_t *json, int n, size_t data_bytes) {
  arq_buf_reset(json);
  arq_buf_puts(json, "{\"headers\":{");
  for (int i = 0; i < n; i++)
    arq_buf_printf(json, "%s\"h%d\":\"v\"", i ? "," : "", i);
  arq_buf_puts(json, "},\"event\":{\"type\":\"x\",\"data\":\"");
  for (size_t i = 0; i < data_bytes / 3; i++)
    arq_buf_puts(json, "AAAA");
  arq_buf_puts(json, "\"}}");
}

static void test_arena_steady_state(void **state) {
  /* After the first messages, the arena's memory stops changing: no malloc per message. */
  arq_buf_t json;
  arq_buf_init(&json);
  headers_json(&json, (int)ARQ_ENVELOPE_MAX_HEADERS, 3000);
  Arqon__V1__Envelope e;
  char *strings = NULL;
  const void *blocks = NULL;
  size_t footprint = 0;
  const arq_json_value_t *values = NULL;
  for (int round = 0; round < 10; round++) {
    assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err), 0);
    assert_int_equal(e.n_headers, ARQ_ENVELOPE_MAX_HEADERS);
    assert_int_equal(e.event->data.len, 3000);
    if (round >= 2) {
      assert_ptr_equal(arena._blocks, blocks);
      assert_int_equal(arq_envelope_arena_footprint(&arena), footprint);
      assert_ptr_equal(arena.json._vals, values);
      assert_ptr_equal(arena.json._str, strings);
    }
    blocks = arena._blocks;
    footprint = arq_envelope_arena_footprint(&arena);
    values = arena.json._vals;
    strings = arena.json._str;
  }
  /* one block, and what is held is within a small multiple of the text */
  assert_non_null(arena._blocks);
  assert_true(footprint < 16 * json.len);
  /* the arena as a protobuf-c allocator: unpack a binary envelope into it */
  arq_buf_t bin = pack(&e);
  ProtobufCAllocator alloc = arq_envelope_arena_allocator(&arena);
  arq_envelope_arena_reset(&arena);
  Arqon__V1__Envelope *u = arqon__v1__envelope__unpack(&alloc, bin.len, (const uint8_t *)bin.data);
  assert_non_null(u);
  assert_int_equal(u->n_headers, ARQ_ENVELOPE_MAX_HEADERS);
  assert_int_equal(u->event->data.len, 3000);
  arqon__v1__envelope__free_unpacked(u, &alloc); /* a no-op, and harmless */
  /* and through arq_envelope_unpack, again without allocating once warm */
  for (int round = 0; round < 4; round++) {
    u = arq_envelope_unpack((const uint8_t *)bin.data, bin.len, &arena, err, sizeof err);
    assert_non_null(u);
    assert_int_equal(u->n_headers, ARQ_ENVELOPE_MAX_HEADERS);
    assert_string_equal(u->headers[63]->key, "h63");
    if (round >= 2)
      assert_ptr_equal(arena._blocks, blocks);
    blocks = arena._blocks;
  }
  arq_buf_free(&bin);
  arq_buf_free(&json);
  /* alignment of arena allocations */
  for (size_t n = 1; n < 40; n += 7)
    assert_int_equal((uintptr_t)arq_envelope_arena_alloc(&arena, n) % 8, 0);
}

static void test_arena_gives_memory_back(void **state) {
  /* A large message grows the arena; the reset after it returns to at most the kept size,
   * and the next small message does not pay for the large one. */
  arq_buf_t json;
  arq_buf_init(&json);
  Arqon__V1__Envelope e;
  headers_json(&json, 4, 30);
  assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err), 0);
  size_t small = arq_envelope_arena_footprint(&arena);
  assert_true(small <= 2 * ARQ_ENVELOPE_ARENA_KEEP);

  headers_json(&json, 4, 700000); /* ~930 KB of text, 700 KB of bytes */
  assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err), 0);
  assert_int_equal(e.event->data.len, 699999);
  size_t big = arq_envelope_arena_footprint(&arena);
  assert_true(big > json.len);     /* the text and the decoded bytes are held meanwhile... */
  assert_true(big < 4 * json.len); /* ...and not much more */
  arq_buf_t bin = pack(&e);
  arq_envelope_arena_reset(&arena);
  assert_true(arq_envelope_arena_footprint(&arena) <= 2 * ARQ_ENVELOPE_ARENA_KEEP);

  /* the same through the binary route */
  Arqon__V1__Envelope *u = arq_envelope_unpack((const uint8_t *)bin.data, bin.len, &arena, err,
                                               sizeof err);
  assert_non_null(u);
  assert_int_equal(u->event->data.len, 699999);
  assert_true(arq_envelope_arena_footprint(&arena) > bin.len);
  arq_envelope_arena_reset(&arena);
  assert_true(arq_envelope_arena_footprint(&arena) <= 2 * ARQ_ENVELOPE_ARENA_KEEP);
  arq_buf_free(&bin);

  /* small messages after that keep working in the kept memory */
  headers_json(&json, 4, 30);
  for (int i = 0; i < 3; i++)
    assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err), 0);
  assert_true(arq_envelope_arena_footprint(&arena) <= 2 * ARQ_ENVELOPE_ARENA_KEEP);
  arq_buf_free(&json);
}

static void test_header_cap_json(void **state) {
  arq_buf_t json;
  arq_buf_init(&json);
  Arqon__V1__Envelope e;
  headers_json(&json, (int)ARQ_ENVELOPE_MAX_HEADERS, 0);
  assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err), 0);
  assert_int_equal(e.n_headers, ARQ_ENVELOPE_MAX_HEADERS);
  headers_json(&json, (int)ARQ_ENVELOPE_MAX_HEADERS + 1, 0);
  assert_int_equal(arq_envelope_from_json(json.data, json.len, &e, &arena, err, sizeof err),
                   ARQ_ENVELOPE_EINVAL);
  assert_string_equal(err, "byte 11: field \"headers\": 65 entries, at most 64 are allowed");
  assert_int_equal(e.n_headers, 0);
  arq_buf_free(&json);
}

/* A binary envelope with `n` header entries "h<i>": "v", packed by protobuf-c. */
static arq_buf_t pack_headers(size_t n) {
  Arqon__V1__Envelope e = ARQON__V1__ENVELOPE__INIT;
  Arqon__V1__Envelope__HeadersEntry *entries = calloc(n, sizeof *entries);
  Arqon__V1__Envelope__HeadersEntry **list = calloc(n, sizeof *list);
  char(*keys)[24] = calloc(n, sizeof *keys);
  assert_true(entries && list && keys);
  for (size_t i = 0; i < n; i++) {
    arqon__v1__envelope__headers_entry__init(&entries[i]);
    snprintf(keys[i], sizeof keys[i], "h%zu", i);
    entries[i].key = keys[i];
    entries[i].value = "v";
    list[i] = &entries[i];
  }
  e.headers = list;
  e.n_headers = n;
  arq_buf_t b = pack(&e);
  free(entries);
  free(list);
  free(keys);
  return b;
}

static void test_unpack_header_cap(void **state) {
  arq_buf_t ok = pack_headers(ARQ_ENVELOPE_MAX_HEADERS);
  Arqon__V1__Envelope *u =
      arq_envelope_unpack((const uint8_t *)ok.data, ok.len, &arena, err, sizeof err);
  assert_non_null(u);
  assert_int_equal(u->n_headers, ARQ_ENVELOPE_MAX_HEADERS);
  assert_string_equal(err, "");
  arq_buf_t over = pack_headers(ARQ_ENVELOPE_MAX_HEADERS + 1);
  assert_null(arq_envelope_unpack((const uint8_t *)over.data, over.len, &arena, err, sizeof err));
  assert_string_equal(err, "malformed envelope: 65 headers, at most 64 are allowed");
  /* entries repeating one key count too (the binary map keeps the last, but each costs) */
  arq_buf_t rep;
  arq_buf_init(&rep);
  for (unsigned i = 0; i <= ARQ_ENVELOPE_MAX_HEADERS; i++)
    arq_buf_append(&rep, "\x32\x03\x0a\x01k", 5);
  assert_null(arq_envelope_unpack((const uint8_t *)rep.data, rep.len, &arena, err, sizeof err));
  assert_non_null(strstr(err, "65 headers"));
  /* not an envelope at all; and the empty frame is the empty envelope */
  assert_null(arq_envelope_unpack((const uint8_t *)"\xff", 1, &arena, err, sizeof err));
  assert_string_equal(err, "malformed envelope: not a valid arqon.v1.Envelope");
  assert_non_null(arq_envelope_unpack(NULL, 0, &arena, err, sizeof err));
  assert_null(arq_envelope_unpack((const uint8_t *)"\xff", 1, &arena, NULL, 0));
  arq_buf_free(&rep);
  arq_buf_free(&ok);
  arq_buf_free(&over);
}

/* Frames of tiny fields would cost the arena dozens of times their size: refused within the
 * budget, and the arena holds little more than the budget meanwhile. */
static void test_unpack_budget(void **state) {
  const struct {
    const char *what, *field;
    size_t len;
  } cases[] = {
      {"empty map entries", "\x32\x00", 2},  /* headers {"": ""} */
      {"unknown varints", "\xb8\x06\x01", 3}, /* field 103, varint 1 */
      {"unknown empty strings", "\xba\x06\x00", 3},
      {"repeated empty events", "\x62\x00", 2}, /* event {} again and again */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    arq_buf_t frame;
    arq_buf_init(&frame);
    for (int i = 0; i < 100000; i++)
      arq_buf_append(&frame, cases[c].field, cases[c].len);
    /* with malloc, protobuf-c accepts it: the refusal is the arena's */
    Arqon__V1__Envelope *m =
        arqon__v1__envelope__unpack(NULL, frame.len, (const uint8_t *)frame.data);
    assert_non_null(m);
    arqon__v1__envelope__free_unpacked(m, NULL);
    size_t budget = ARQ_ENVELOPE_DECODE_FACTOR * frame.len + ARQ_ENVELOPE_DECODE_SLACK;
    Arqon__V1__Envelope *u =
        arq_envelope_unpack((const uint8_t *)frame.data, frame.len, &arena, err, sizeof err);
    if (u)
      fail_msg("%s: accepted", cases[c].what);
    if (!strstr(err, "too many fields"))
      fail_msg("%s: %s", cases[c].what, err);
    assert_true(arena._given <= budget);
    assert_true(arq_envelope_arena_footprint(&arena) <= 2 * budget + 2 * ARQ_ENVELOPE_ARENA_KEEP);
    arq_envelope_arena_reset(&arena);
    assert_true(arq_envelope_arena_footprint(&arena) <= 2 * ARQ_ENVELOPE_ARENA_KEEP);
    /* outside arq_envelope_unpack the allocator has no budget (trusted input) */
    ProtobufCAllocator alloc = arq_envelope_arena_allocator(&arena);
    u = arqon__v1__envelope__unpack(&alloc, frame.len, (const uint8_t *)frame.data);
    assert_non_null(u);
    arq_envelope_arena_reset(&arena);
    arq_buf_free(&frame);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_name_styles),
      cmocka_unit_test(test_unknown_fields),
      cmocka_unit_test(test_oneof),
      cmocka_unit_test(test_int64_and_uint64),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_base64_variants),
      cmocka_unit_test(test_enum),
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_not_an_envelope),
      cmocka_unit_test(test_null_means_default),
      cmocka_unit_test(test_default_limits),
      cmocka_unit_test(test_too_big),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_encode_from_binary_oddities),
      cmocka_unit_test(test_arena_steady_state),
      cmocka_unit_test(test_arena_gives_memory_back),
      cmocka_unit_test(test_header_cap_json),
      cmocka_unit_test(test_unpack_header_cap),
      cmocka_unit_test(test_unpack_budget),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
