/* Unit tests for the JSON parser and writer (src/common/json.h): the DOM API, every error
 * class with its offset, hostile input, and the writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

static arq_json_doc_t doc;
static arq_json_error_t jerr;

static int setup(void **state) {
  arq_json_doc_init(&doc, NULL);
  return 0;
}

static int teardown(void **state) {
  arq_json_doc_free(&doc);
  return 0;
}

static const arq_json_value_t *parse_n(const char *text, size_t len) {
  return arq_json_parse(&doc, text, len, &jerr);
}

static const arq_json_value_t *parse(const char *text) { return parse_n(text, strlen(text)); }

static void assert_error_n(const char *text, size_t len, arq_json_errcode_t code, size_t offset) {
  const arq_json_value_t *v = parse_n(text, len);
  if (v)
    fail_msg("accepted: %.*s", (int)(len > 60 ? 60 : len), text);
  if (jerr.code != code || jerr.offset != offset)
    fail_msg("'%.*s': got %s at %zu, want %s at %zu", (int)(len > 60 ? 60 : len), text,
             arq_json_strerror(jerr.code), jerr.offset, arq_json_strerror(code), offset);
  assert_ptr_equal(jerr.msg, arq_json_strerror(code));
}

static void assert_error(const char *text, arq_json_errcode_t code, size_t offset) {
  assert_error_n(text, strlen(text), code, offset);
}

/* Compact re-serialisation of what was parsed. */
static char *rewrite(const char *text) {
  const arq_json_value_t *v = parse(text);
  if (!v)
    fail_msg("rejected %s: %s at %zu", text, jerr.msg, jerr.offset);
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_write_value(&b, v);
  return b.data;
}

static void assert_rewrites(const char *text, const char *want) {
  char *got = rewrite(text);
  assert_string_equal(got, want);
  free(got);
}

/* ---- valid documents ---- */

static void test_scalars(void **state) {
  const arq_json_value_t *v = parse(" null ");
  assert_non_null(v);
  assert_int_equal(arq_json_type(v), ARQ_JSON_NULL);
  assert_int_equal(arq_json_type(parse("true")), ARQ_JSON_TRUE);
  assert_int_equal(arq_json_type(parse("false")), ARQ_JSON_FALSE);
  v = parse("\"h\\u00e9llo\"");
  size_t n;
  assert_string_equal(arq_json_string(v, &n), "h\xc3\xa9llo");
  assert_int_equal(n, 6);
  assert_null(arq_json_number_text(v, NULL));
  v = parse("-12.5e1");
  assert_int_equal(arq_json_type(v), ARQ_JSON_NUMBER);
  assert_true(arq_json_number(v) == -125.0);
  assert_string_equal(arq_json_number_text(v, &n), "-12.5e1");
  int64_t i;
  assert_int_equal(arq_json_int64(v, &i), 0);
  assert_int_equal(i, -125);
  assert_null(arq_json_string(v, NULL));
  arq_json_number_t num;
  assert_int_equal(arq_json_number_of(v, &num), 0);
  assert_true(num.integral && num.neg && num.mag == 125 && num.d == -125.0);
  assert_int_equal(arq_json_number_of(parse("\"1\""), &num), -1);
  assert_string_equal(arq_json_type_name(ARQ_JSON_OBJECT), "object");
  assert_string_equal(arq_json_type_name(ARQ_JSON_TRUE), "boolean");
}

static void test_nested_document(void **state) {
  const char *text = "{\"a\": [1, {\"b\": [true, null]}, \"x\"], \"c\": {}, \"d\": [],\n"
                     " \"e\": {\"f\": {\"g\": 7}}}";
  const arq_json_value_t *root = parse(text);
  assert_non_null(root);
  assert_int_equal(arq_json_type(root), ARQ_JSON_OBJECT);
  assert_int_equal(arq_json_len(root), 4);
  assert_string_equal(arq_json_string(arq_json_object_key(root, 0), NULL), "a");
  assert_string_equal(arq_json_string(arq_json_object_key(root, 3), NULL), "e");
  assert_null(arq_json_object_key(root, 4));
  const arq_json_value_t *a = arq_json_object_get(root, "a", 1);
  assert_int_equal(arq_json_len(a), 3);
  assert_int_equal(arq_json_offset(a), 6);
  const arq_json_value_t *inner = arq_json_array_get(a, 1);
  assert_int_equal(arq_json_type(inner), ARQ_JSON_OBJECT);
  const arq_json_value_t *b = arq_json_object_get(inner, "b", 1);
  assert_int_equal(arq_json_type(arq_json_array_get(b, 0)), ARQ_JSON_TRUE);
  assert_int_equal(arq_json_type(arq_json_array_get(b, 1)), ARQ_JSON_NULL);
  assert_null(arq_json_array_get(b, 2));
  assert_string_equal(arq_json_string(arq_json_array_get(a, 2), NULL), "x");
  assert_int_equal(arq_json_len(arq_json_object_get(root, "c", 1)), 0);
  assert_int_equal(arq_json_len(arq_json_object_get(root, "d", 1)), 0);
  const arq_json_value_t *g =
      arq_json_object_get(arq_json_object_get(arq_json_object_get(root, "e", 1), "f", 1), "g", 1);
  uint64_t u;
  assert_int_equal(arq_json_uint64(g, &u), 0);
  assert_int_equal(u, 7);
  assert_null(arq_json_object_get(root, "zz", 2));
  assert_null(arq_json_object_get(a, "a", 1));
  assert_rewrites(text, "{\"a\":[1,{\"b\":[true,null]},\"x\"],\"c\":{},\"d\":[],\"e\":{\"f\":{\"g\":7}}}");
}

static void test_strings_and_escapes(void **state) {
  size_t n;
  const arq_json_value_t *v = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
  assert_non_null(v);
  assert_string_equal(arq_json_string(v, &n), "\"\\/\b\f\n\r\t");
  /* surrogate pair for U+1F600, upper- and lowercase hex */
  v = parse("\"\\uD83D\\ude00\"");
  assert_non_null(v);
  assert_string_equal(arq_json_string(v, &n), "\xf0\x9f\x98\x80");
  /* NUL is a legal escaped character; the length tells */
  v = parse("\"a\\u0000b\"");
  const char *s = arq_json_string(v, &n);
  assert_int_equal(n, 3);
  assert_memory_equal(s, "a\0b", 3);
  /* raw multi-byte UTF-8 at the edges of the ranges */
  v = parse("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
  assert_non_null(v);
  assert_int_equal(arq_json_len(v), 2 + 2 + 3 + 3 + 3 + 4 + 4);
  /* DEL and U+2028 need no escaping */
  assert_non_null(parse("\"\x7f\xe2\x80\xa8\""));
}

static void test_int64_edges(void **state) {
  int64_t i;
  uint64_t u;
  assert_int_equal(arq_json_int64(parse("9223372036854775807"), &i), 0);
  assert_true(i == INT64_MAX);
  assert_int_equal(arq_json_int64(parse("-9223372036854775808"), &i), 0);
  assert_true(i == INT64_MIN);
  assert_int_equal(arq_json_int64(parse("9223372036854775808"), &i), -1);
  assert_int_equal(arq_json_uint64(parse("9223372036854775808"), &u), 0);
  assert_true(u == (uint64_t)INT64_MAX + 1);
  assert_int_equal(arq_json_int64(parse("-9223372036854775809"), &i), -1);
  assert_int_equal(arq_json_uint64(parse("18446744073709551615"), &u), 0);
  assert_true(u == UINT64_MAX);
  assert_int_equal(arq_json_uint64(parse("18446744073709551616"), &u), -1);
  assert_int_equal(arq_json_uint64(parse("-1"), &u), -1);
  assert_int_equal(arq_json_uint64(parse("-0"), &u), 0);
  assert_true(u == 0);
  assert_int_equal(arq_json_int64(parse("-0.0e5"), &i), 0);
  assert_true(i == 0);
  /* integral values written with fractions and exponents, exactly */
  assert_int_equal(arq_json_uint64(parse("1.8446744073709551615e19"), &u), 0);
  assert_true(u == UINT64_MAX);
  assert_int_equal(arq_json_int64(parse("1e18"), &i), 0);
  assert_true(i == 1000000000000000000);
  assert_int_equal(arq_json_int64(parse("12300e-2"), &i), 0);
  assert_true(i == 123);
  assert_int_equal(arq_json_int64(parse("1.50e2"), &i), 0);
  assert_true(i == 150);
  assert_int_equal(arq_json_int64(parse("100.000"), &i), 0);
  assert_true(i == 100);
  assert_int_equal(arq_json_int64(parse("0e999999999999999999999"), &i), 0);
  assert_true(i == 0);
  /* not integral, or out of range */
  assert_int_equal(arq_json_int64(parse("1.5"), &i), -1);
  assert_int_equal(arq_json_int64(parse("123e-2"), &i), -1);
  assert_int_equal(arq_json_int64(parse("1e19"), &i), -1);
  assert_int_equal(arq_json_uint64(parse("1e19"), &u), 0);
  assert_int_equal(arq_json_uint64(parse("1e20"), &u), -1);
  assert_int_equal(arq_json_int64(parse("1e-999999999999999999999"), &i), -1);
  assert_int_equal(arq_json_int64(parse("\"5\""), &i), -1);
  /* the double path never rounds the integer path: 2^53 + 1 */
  assert_int_equal(arq_json_int64(parse("9007199254740993"), &i), 0);
  assert_true(i == 9007199254740993LL);
}

static void test_huge_numbers(void **state) {
  /* A thousand digits: the text is kept exactly, the double saturates, no integer view. */
  char text[1100];
  memset(text, '9', 1000);
  text[1000] = '\0';
  const arq_json_value_t *v = parse(text);
  assert_non_null(v);
  size_t n;
  assert_string_equal(arq_json_number_text(v, &n), text);
  assert_int_equal(n, 1000);
  int64_t i;
  assert_int_equal(arq_json_int64(v, &i), -1);
  v = parse("1e400");
  assert_non_null(v);
  assert_true(arq_json_number(v) > 1e308);
  v = parse("-1e400");
  assert_true(arq_json_number(v) < -1e308);
  v = parse("1e-400");
  assert_true(arq_json_number(v) == 0.0);
  /* 0.000...1 × 10^1000 */
  memset(text, '0', 1000);
  text[0] = '0';
  text[1] = '.';
  strcpy(text + 999, "1e998");
  uint64_t u;
  assert_int_equal(arq_json_uint64(parse(text), &u), 0);
  assert_true(u == 1);
}

static void test_number_parse_standalone(void **state) {
  arq_json_number_t n;
  int64_t i;
  assert_int_equal(arq_json_number_parse("-42", 3, &n), 0);
  assert_int_equal(arq_json_number_int64(&n, &i), 0);
  assert_true(i == -42);
  assert_true(n.d == -42.0);
  assert_int_equal(arq_json_number_parse("0.25", 4, &n), 0);
  assert_false(n.integral);
  assert_true(n.d == 0.25);
  assert_int_equal(arq_json_number_parse("", 0, &n), -1);
  assert_int_equal(arq_json_number_parse(" 1", 2, &n), -1);
  assert_int_equal(arq_json_number_parse("1 ", 2, &n), -1);
  assert_int_equal(arq_json_number_parse("01", 2, &n), -1);
  assert_int_equal(arq_json_number_parse("+1", 2, &n), -1);
  assert_int_equal(arq_json_number_parse("1.", 2, &n), -1);
  assert_int_equal(arq_json_number_parse("0x10", 4, &n), -1);
  /* only `len` bytes are read */
  assert_int_equal(arq_json_number_parse("12345", 2, &n), 0);
  assert_true(n.mag == 12);
}

/* ---- every error class, with its offset ---- */

static void test_syntax_errors(void **state) {
  assert_error("", ARQ_JSON_E_EOF, 0);
  assert_error("   ", ARQ_JSON_E_EOF, 3);
  assert_error("[1, 2", ARQ_JSON_E_EOF, 5);
  assert_error("{\"a\"", ARQ_JSON_E_EOF, 4);
  assert_error("{\"a\":", ARQ_JSON_E_EOF, 5);
  assert_error("\"abc", ARQ_JSON_E_EOF, 4);
  assert_error("\"ab\\", ARQ_JSON_E_EOF, 4);
  assert_error("tru", ARQ_JSON_E_EOF, 3);
  assert_error("-", ARQ_JSON_E_EOF, 1);
  assert_error("[1,]", ARQ_JSON_E_TOKEN, 3);
  assert_error("{\"a\":1,}", ARQ_JSON_E_TOKEN, 7);
  assert_error("{a:1}", ARQ_JSON_E_TOKEN, 1);
  assert_error("{\"a\" 1}", ARQ_JSON_E_TOKEN, 5);
  assert_error("[1 2]", ARQ_JSON_E_TOKEN, 3);
  assert_error("nul", ARQ_JSON_E_EOF, 3);
  assert_error("nulL", ARQ_JSON_E_TOKEN, 3);
  assert_error("True", ARQ_JSON_E_TOKEN, 0);
  assert_error("'a'", ARQ_JSON_E_TOKEN, 0);
  assert_error("NaN", ARQ_JSON_E_TOKEN, 0);
  assert_error("[Infinity]", ARQ_JSON_E_TOKEN, 1);
  assert_error("/* c */ 1", ARQ_JSON_E_TOKEN, 0);
  assert_error("\xef\xbb\xbf{}", ARQ_JSON_E_TOKEN, 0); /* a BOM */
  assert_error("\f1", ARQ_JSON_E_TOKEN, 0);               /* not JSON whitespace */
  assert_error_n("[\0]", 3, ARQ_JSON_E_TOKEN, 1);
}

static void test_number_errors(void **state) {
  assert_error("01", ARQ_JSON_E_NUMBER, 1);
  assert_error("-01", ARQ_JSON_E_NUMBER, 2);
  assert_error("+1", ARQ_JSON_E_TOKEN, 0);
  assert_error(".5", ARQ_JSON_E_TOKEN, 0);
  assert_error("1.", ARQ_JSON_E_EOF, 2);
  assert_error("[1.]", ARQ_JSON_E_NUMBER, 3);
  assert_error("[1e]", ARQ_JSON_E_NUMBER, 3);
  assert_error("[1e+]", ARQ_JSON_E_NUMBER, 4);
  assert_error("[-x]", ARQ_JSON_E_NUMBER, 2);
  assert_error("[0x10]", ARQ_JSON_E_TOKEN, 2);
}

static void test_trailing_garbage(void **state) {
  assert_error("{} x", ARQ_JSON_E_TRAILING, 3);
  assert_error("1 2", ARQ_JSON_E_TRAILING, 2);
  assert_error("[]]", ARQ_JSON_E_TRAILING, 2);
  assert_error("null,", ARQ_JSON_E_TRAILING, 4);
  assert_error_n("{}\0", 3, ARQ_JSON_E_TRAILING, 2);
  assert_non_null(parse("{} \r\n\t"));
}

static void test_string_errors(void **state) {
  assert_error("\"a\nb\"", ARQ_JSON_E_CONTROL, 2);
  assert_error("\"\t\"", ARQ_JSON_E_CONTROL, 1);
  assert_error_n("\"a\0\"", 4, ARQ_JSON_E_CONTROL, 2);
  assert_error("\"\\x\"", ARQ_JSON_E_ESCAPE, 1);
  assert_error("\"\\U0041\"", ARQ_JSON_E_ESCAPE, 1);
  assert_error("\"ab\\u00g0\"", ARQ_JSON_E_ESCAPE, 3);
  assert_error("\"\\u12\"", ARQ_JSON_E_ESCAPE, 1);
  assert_error("\"\\u12", ARQ_JSON_E_EOF, 5);
}

static void test_bad_utf8(void **state) {
  static const struct {
    const char *text;
    size_t offset;
  } cases[] = {
      {"\"\x80\"", 1},                 /* stray continuation */
      {"\"a\xc0\xaf\"", 2},            /* overlong '/' */
      {"\"\xc1\xbf\"", 1},             /* overlong */
      {"\"\xe0\x80\xaf\"", 1},         /* overlong 3-byte */
      {"\"\xf0\x80\x80\xaf\"", 1},     /* overlong 4-byte */
      {"\"\xed\xa0\x80\"", 1},         /* UTF-16 surrogate D800 encoded */
      {"\"\xed\xbf\xbf\"", 1},         /* DFFF encoded */
      {"\"\xf4\x90\x80\x80\"", 1},     /* above U+10FFFF */
      {"\"\xf5\x80\x80\x80\"", 1},     /* invalid lead */
      {"\"\xff\"", 1},
      {"\"\xc3\"", 1},                 /* truncated before the quote */
      {"\"\xe2\x82\"", 1},
      {"\"ok\xe2\x82\xac\xe2\x28\xa1\"", 6},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_error(cases[i].text, ARQ_JSON_E_UTF8, cases[i].offset);
  assert_error("[\xc3\xa9]", ARQ_JSON_E_TOKEN, 1); /* non-ASCII outside a string */
  assert_error_n("\"\xe2\x82", 3, ARQ_JSON_E_UTF8, 1);
}

static void test_lone_surrogates(void **state) {
  assert_error("\"\\ud800\"", ARQ_JSON_E_SURROGATE, 1);
  assert_error("\"x\\uDBFF\\u0041\"", ARQ_JSON_E_SURROGATE, 2);
  assert_error("\"\\udc00\"", ARQ_JSON_E_SURROGATE, 1);
  assert_error("\"\\ud800\\ud800\"", ARQ_JSON_E_SURROGATE, 1);
  assert_error("\"\\ud800\\n\"", ARQ_JSON_E_SURROGATE, 1);
  assert_error("\"\\ud800", ARQ_JSON_E_SURROGATE, 1);
  assert_error("\"\\ude00\\ud83d\"", ARQ_JSON_E_SURROGATE, 1); /* pair in the wrong order */
  assert_non_null(parse("\"\\udbff\\udfff\""));                /* U+10FFFF */
}

static void test_duplicates(void **state) {
  assert_error("{\"a\":1,\"a\":2}", ARQ_JSON_E_DUPLICATE, 7);
  assert_error("{\"a\":1,\"b\":{\"a\":1,\"c\":2,\"c\":3}}", ARQ_JSON_E_DUPLICATE, 24);
  /* the same key spelled with an escape is the same key */
  assert_error("{\"ab\":1,\"a\\u0062\":2}", ARQ_JSON_E_DUPLICATE, 8);
  /* keys differing only after an embedded NUL are different */
  assert_non_null(parse("{\"a\\u0000x\":1,\"a\\u0000y\":2,\"a\":3}"));
  /* the same key in sibling objects is fine */
  assert_non_null(parse("[{\"a\":1},{\"a\":2}]"));

  /* A large object takes the sorting path; the earliest repeat is reported. */
  arq_buf_t b;
  arq_buf_init(&b);
  arq_buf_putc(&b, '{');
  for (int i = 0; i < 1000; i++)
    arq_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
  arq_buf_putc(&b, '}');
  const arq_json_value_t *v = parse_n(b.data, b.len);
  assert_non_null(v);
  assert_int_equal(arq_json_len(v), 1000);
  uint64_t u;
  assert_int_equal(arq_json_uint64(arq_json_object_get(v, "k999", 4), &u), 0);
  assert_int_equal(u, 999);
  b.len--; /* drop '}' */
  size_t first_dup = b.len + 1;
  arq_buf_puts(&b, ",\"k500\":0,\"k7\":1,\"k500\":2}");
  assert_error_n(b.data, b.len, ARQ_JSON_E_DUPLICATE, first_dup);
  arq_buf_free(&b);
}

static void test_depth_limit(void **state) {
  char text[2 * 70 + 1];
  for (int depth = 63; depth <= 65; depth++) {
    memset(text, '[', (size_t)depth);
    memset(text + depth, ']', (size_t)depth);
    text[2 * depth] = '\0';
    const arq_json_value_t *v = parse(text);
    if (depth <= 64)
      assert_non_null(v);
    else
      assert_error(text, ARQ_JSON_E_TOO_DEEP, 64);
  }
  /* objects count too */
  arq_buf_t b;
  arq_buf_init(&b);
  for (int i = 0; i < 65; i++)
    arq_buf_puts(&b, "{\"a\":");
  arq_buf_puts(&b, "1");
  for (int i = 0; i < 65; i++)
    arq_buf_putc(&b, '}');
  assert_error_n(b.data, b.len, ARQ_JSON_E_TOO_DEEP, 64 * 5);
  arq_buf_free(&b);
}

static void test_deep_nesting_hostile(void **state) {
  /* A megabyte of '[' is refused at the limit, without recursing a million frames. */
  size_t n = 1 << 20;
  char *text = malloc(n);
  memset(text, '[', n);
  assert_error_n(text, n, ARQ_JSON_E_TOO_DEEP, 64);
  /* A higher configured limit is capped so the stack stays safe. */
  arq_json_doc_t big;
  arq_json_limits_t lim = {.max_depth = 1000000};
  arq_json_doc_init(&big, &lim);
  assert_null(arq_json_parse(&big, text, n, &jerr));
  assert_int_equal(jerr.code, ARQ_JSON_E_TOO_DEEP);
  assert_int_equal(jerr.offset, 1024);
  arq_json_doc_free(&big);
  free(text);
}

static void test_size_and_count_limits(void **state) {
  arq_json_doc_t small;
  arq_json_limits_t lim = {.max_bytes = 10, .max_values = 4};
  arq_json_doc_init(&small, &lim);
  assert_non_null(arq_json_parse(&small, "[1,2,3]", 7, &jerr));
  assert_null(arq_json_parse(&small, "[1,2,3,4]", 9, &jerr));
  assert_int_equal(jerr.code, ARQ_JSON_E_TOO_MANY);
  assert_int_equal(jerr.offset, 7);
  assert_null(arq_json_parse(&small, "\"0123456789\"", 12, &jerr));
  assert_int_equal(jerr.code, ARQ_JSON_E_TOO_LARGE);
  assert_int_equal(jerr.offset, 10);
  /* a failed parse leaves the doc usable */
  assert_non_null(arq_json_parse(&small, "{\"a\":1}", 7, &jerr));
  arq_json_doc_free(&small);
}

static void test_reuse_and_errors_format(void **state) {
  /* parse many documents on one doc; earlier results are replaced, not leaked */
  for (int i = 0; i < 100; i++) {
    char text[64];
    snprintf(text, sizeof text, "{\"n\":%d,\"s\":\"%*s\"}", i, i % 30, "");
    const arq_json_value_t *v = parse(text);
    assert_non_null(v);
    int64_t n;
    assert_int_equal(arq_json_int64(arq_json_object_get(v, "n", 1), &n), 0);
    assert_int_equal(n, i);
  }
  char msg[64];
  assert_null(parse("[1,,2]"));
  arq_json_error_format(&jerr, msg, sizeof msg);
  assert_string_equal(msg, "byte 3: unexpected character");
  arq_json_error_format(&jerr, msg, 8);
  assert_string_equal(msg, "byte 3:");
  assert_null(arq_json_parse(&doc, NULL, 0, &jerr));
  assert_int_equal(jerr.code, ARQ_JSON_E_EOF);
  /* a NULL error pointer is allowed */
  assert_null(arq_json_parse(&doc, "[", 1, NULL));
  assert_string_equal(arq_json_strerror(ARQ_JSON_E_DUPLICATE), "duplicate object key");
}

/* ---- the writer ---- */

static void test_write_string(void **state) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_write_string(&b, "a\"b\\c\n\x01\x7f\xc3\xa9", 10);
  assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\"");
  arq_buf_reset(&b);
  /* ill-formed bytes become U+FFFD; the result parses */
  arq_json_write_string(&b, "x\xff\xc0\xafy\xed\xa0\x80", 8);
  assert_string_equal(b.data, "\"x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  assert_non_null(parse_n(b.data, b.len));
  arq_buf_reset(&b);
  arq_json_write_string(&b, "n\0l", 3);
  assert_string_equal(b.data, "\"n\\u0000l\"");
  arq_buf_free(&b);
}

static void test_write_numbers(void **state) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_write_int64(&b, INT64_MIN);
  arq_buf_putc(&b, ' ');
  arq_json_write_uint64(&b, UINT64_MAX);
  arq_buf_putc(&b, ' ');
  arq_json_write_double(&b, 0.1);
  arq_buf_putc(&b, ' ');
  arq_json_write_double(&b, 1.0 / 3.0);
  arq_buf_putc(&b, ' ');
  arq_json_write_double(&b, 1e300 * 1e300);
  assert_string_equal(b.data, "-9223372036854775808 18446744073709551615 0.1 0.3333333333333333 null");
  arq_buf_free(&b);
}

static void test_writer(void **state) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &b);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "a", 1);
  arq_json_w_array_begin(&w);
  arq_json_w_int64(&w, -1);
  arq_json_w_uint64(&w, 2);
  arq_json_w_bool(&w, true);
  arq_json_w_null(&w);
  arq_json_w_object_begin(&w);
  arq_json_w_object_end(&w);
  arq_json_w_array_begin(&w);
  arq_json_w_array_end(&w);
  arq_json_w_array_end(&w);
  arq_json_w_key(&w, "b", 1);
  arq_json_w_string(&w, "x", 1);
  arq_json_w_key(&w, "c", 1);
  arq_json_w_double(&w, 2.5);
  arq_json_w_key(&w, "d", 1);
  arq_json_w_raw(&w, "{\"r\":[]}", 8);
  arq_json_w_object_end(&w);
  assert_string_equal(b.data, "{\"a\":[-1,2,true,null,{},[]],\"b\":\"x\",\"c\":2.5,\"d\":{\"r\":[]}}");
  assert_non_null(parse_n(b.data, b.len));
  arq_buf_free(&b);
}

static void test_write_value_round_trip(void **state) {
  assert_rewrites(" [ \"\\u00e9\\ud83d\\ude00\" , -0.0e+1 , {\"k\\n\" : false} ] ",
                  "[\"\xc3\xa9\xf0\x9f\x98\x80\",-0.0e+1,{\"k\\n\":false}]");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_nested_document),
      cmocka_unit_test(test_strings_and_escapes),
      cmocka_unit_test(test_int64_edges),
      cmocka_unit_test(test_huge_numbers),
      cmocka_unit_test(test_number_parse_standalone),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_number_errors),
      cmocka_unit_test(test_trailing_garbage),
      cmocka_unit_test(test_string_errors),
      cmocka_unit_test(test_bad_utf8),
      cmocka_unit_test(test_lone_surrogates),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_deep_nesting_hostile),
      cmocka_unit_test(test_size_and_count_limits),
      cmocka_unit_test(test_reuse_and_errors_format),
      cmocka_unit_test(test_write_string),
      cmocka_unit_test(test_write_numbers),
      cmocka_unit_test(test_writer),
      cmocka_unit_test(test_write_value_round_trip),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
