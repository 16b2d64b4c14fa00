/* Unit tests for the TOML parser (src/common/toml.h): the API, and hostile input. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/toml.h"

static char err[256];

static arq_toml_value_t *parse(const char *text) {
  return arq_toml_parse(text, strlen(text), err, sizeof err);
}

/* Parses bytes that must be rejected, and checks the "line N: " form of the message. */
static void assert_rejected_n(const char *data, size_t len, int line) {
  err[0] = '\0';
  arq_toml_value_t *root = arq_toml_parse(data, len, err, sizeof err);
  if (root)
    fail_msg("accepted: %.*s", (int)(len > 60 ? 60 : len), data);
  char want[32];
  snprintf(want, sizeof want, "line %d: ", line);
  if (strncmp(err, want, strlen(want)) != 0)
    fail_msg("error '%s' does not start with '%s'", err, want);
}

static void assert_rejected(const char *text, int line) {
  assert_rejected_n(text, strlen(text), line);
}

static char *tagged_json(const arq_toml_value_t *v) {
  char *buf = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  assert_non_null(out);
  assert_int_equal(arq_toml_write_tagged_json(v, out), 0);
  fclose(out);
  return buf;
}

static const char *get_string(const arq_toml_value_t *t, const char *key) {
  const arq_toml_value_t *v = arq_toml_table_get(t, key);
  assert_non_null(v);
  return arq_toml_string(v, NULL);
}

/* ---- the API ---- */

static void test_scalars_and_types(void **state) {
  arq_toml_value_t *root = parse("s = 'lit'\n"
                                 "i = -0x10\n" /* invalid: hex has no sign */);
  assert_null(root);
  root = parse("s = \"a\\tb\"\n"
               "i = 0xff\n"
               "f = 1_000.5e-1\n"
               "b = true\n"
               "odt = 1979-05-27 07:32:00.999z\n"
               "ldt = 1979-05-27t07:32:00\n"
               "ld = 1979-05-27\n"
               "lt = 07:32:00.5\n"
               "a = [1, 'two']\n"
               "t = {x = 1}\n");
  assert_non_null(root);
  assert_int_equal(arq_toml_type(root), ARQ_TOML_TABLE);
  assert_string_equal(get_string(root, "s"), "a\tb");
  assert_int_equal(arq_toml_int(arq_toml_table_get(root, "i")), 255);
  assert_true(arq_toml_float(arq_toml_table_get(root, "f")) == 100.05);
  assert_true(arq_toml_bool(arq_toml_table_get(root, "b")));
  assert_string_equal(arq_toml_datetime_text(arq_toml_table_get(root, "odt")),
                      "1979-05-27T07:32:00.999Z");
  assert_string_equal(arq_toml_datetime_text(arq_toml_table_get(root, "ldt")),
                      "1979-05-27T07:32:00");
  assert_string_equal(arq_toml_datetime_text(arq_toml_table_get(root, "ld")), "1979-05-27");
  assert_string_equal(arq_toml_datetime_text(arq_toml_table_get(root, "lt")), "07:32:00.5");
  static const struct {
    const char *key;
    arq_toml_type_t type;
    const char *name;
  } want[] = {
      {"s", ARQ_TOML_STRING, "string"},       {"i", ARQ_TOML_INTEGER, "integer"},
      {"f", ARQ_TOML_FLOAT, "float"},         {"b", ARQ_TOML_BOOL, "bool"},
      {"odt", ARQ_TOML_DATETIME, "datetime"}, {"ldt", ARQ_TOML_DATETIME_LOCAL, "datetime-local"},
      {"ld", ARQ_TOML_DATE_LOCAL, "date-local"}, {"lt", ARQ_TOML_TIME_LOCAL, "time-local"},
      {"a", ARQ_TOML_ARRAY, "array"},         {"t", ARQ_TOML_TABLE, "table"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const arq_toml_value_t *v = arq_toml_table_get(root, want[i].key);
    assert_non_null(v);
    assert_int_equal(arq_toml_type(v), want[i].type);
    assert_string_equal(arq_toml_type_name(arq_toml_type(v)), want[i].name);
  }
  /* Asking for the wrong type gives a zero value, not a crash. */
  assert_int_equal(arq_toml_int(arq_toml_table_get(root, "s")), 0);
  assert_null(arq_toml_string(arq_toml_table_get(root, "i"), NULL));
  assert_null(arq_toml_datetime_text(arq_toml_table_get(root, "s")));
  assert_null(arq_toml_table_get(root, "missing"));
  assert_int_equal(arq_toml_array_len(arq_toml_table_get(root, "t")), 0);
  arq_toml_free(root);
}

static void test_document_order_and_nesting(void **state) {
  arq_toml_value_t *root = parse("zeta = 1\n"
                                 "alpha = 2\n"
                                 "[server]\n"
                                 "name.first = 'x'\n"
                                 "[[pool]]\n"
                                 "n = 1\n"
                                 "[[pool]]\n"
                                 "n = 2\n"
                                 "[server.tls]\n"
                                 "on = false\n");
  assert_non_null(root);
  assert_int_equal(arq_toml_table_len(root), 4);
  const char *keys[] = {"zeta", "alpha", "server", "pool"};
  for (size_t i = 0; i < 4; i++)
    assert_string_equal(arq_toml_table_key(root, i), keys[i]);
  assert_null(arq_toml_table_key(root, 4));
  assert_null(arq_toml_table_value(root, 4));
  const arq_toml_value_t *server = arq_toml_table_get(root, "server");
  assert_int_equal(arq_toml_table_len(server), 2);
  assert_string_equal(get_string(arq_toml_table_get(server, "name"), "first"), "x");
  assert_false(arq_toml_bool(arq_toml_table_get(arq_toml_table_get(server, "tls"), "on")));
  const arq_toml_value_t *pool = arq_toml_table_get(root, "pool");
  assert_int_equal(arq_toml_array_len(pool), 2);
  assert_int_equal(arq_toml_int(arq_toml_table_get(arq_toml_array_get(pool, 1), "n")), 2);
  assert_null(arq_toml_array_get(pool, 2));
  arq_toml_free(root);
}

static void test_lines(void **state) {
  arq_toml_value_t *root = parse("# comment\n"       /* 1 */
                                 "a = 1\n"           /* 2 */
                                 "\n"                /* 3 */
                                 "[x.y]\n"           /* 4 */
                                 "s = '''\n"         /* 5 */
                                 "two\n"             /* 6 */
                                 "lines'''\n"        /* 7 */
                                 "after = [\n"       /* 8 */
                                 "  1,\n"            /* 9 */
                                 "  2 ]\n"           /* 10 */
                                 "[x]\r\n"           /* 11 */
                                 "d.e = 3\n"         /* 12 */
                                 "[[arr]]\n"         /* 13 */
                                 "[[arr]]\n");       /* 14 */
  assert_non_null(root);
  assert_int_equal(arq_toml_line(root), 1);
  assert_int_equal(arq_toml_line(arq_toml_table_get(root, "a")), 2);
  const arq_toml_value_t *x = arq_toml_table_get(root, "x");
  assert_int_equal(arq_toml_line(x), 11); /* implicit at line 4, defined by [x] at 11 */
  const arq_toml_value_t *y = arq_toml_table_get(x, "y");
  assert_int_equal(arq_toml_line(y), 4);
  assert_int_equal(arq_toml_line(arq_toml_table_get(y, "s")), 5);
  assert_string_equal(get_string(y, "s"), "two\nlines");
  const arq_toml_value_t *after = arq_toml_table_get(y, "after");
  assert_int_equal(arq_toml_line(after), 8);
  assert_int_equal(arq_toml_line(arq_toml_array_get(after, 0)), 9);
  assert_int_equal(arq_toml_line(arq_toml_array_get(after, 1)), 10);
  const arq_toml_value_t *d = arq_toml_table_get(x, "d");
  assert_int_equal(arq_toml_line(d), 12);
  assert_int_equal(arq_toml_line(arq_toml_table_get(d, "e")), 12);
  const arq_toml_value_t *arr = arq_toml_table_get(root, "arr");
  assert_int_equal(arq_toml_line(arr), 13);
  assert_int_equal(arq_toml_line(arq_toml_array_get(arr, 0)), 13);
  assert_int_equal(arq_toml_line(arq_toml_array_get(arr, 1)), 14);
  arq_toml_free(root);
}

static void test_error_lines(void **state) {
  assert_rejected("a = 1\nb = 2\na = 3\n", 3);
  assert_rejected("[t]\nx = 1\n\n[t]\n", 4);
  assert_rejected("a = \"\"\"\nfine\n\\q\"\"\"", 3);
  assert_rejected("a = [\n1,\n2\n", 1);
  assert_rejected("a = 1\r\nb = 2\rc = 3", 2);
}

static void test_string_kinds(void **state) {
  arq_toml_value_t *root = parse("basic = \"\\u00e9\\U0001F600\\\"\"\n"
                                 "lit = 'C:\\dir'\n"
                                 "ml = \"\"\"\r\n  a \\\r\n   b\"\"\"\"\"\n"
                                 "mll = '''\nx\r\ny'''\n"
                                 "nul = \"x\\u0000y\"\n");
  assert_non_null(root);
  assert_string_equal(get_string(root, "basic"), "\xc3\xa9\xf0\x9f\x98\x80\"");
  assert_string_equal(get_string(root, "lit"), "C:\\dir");
  assert_string_equal(get_string(root, "ml"), "  a b\"\"");
  assert_string_equal(get_string(root, "mll"), "x\ny");
  size_t len = 0;
  const char *nul = arq_toml_string(arq_toml_table_get(root, "nul"), &len);
  assert_int_equal(len, 3);
  assert_memory_equal(nul, "x\0y", 4);
  arq_toml_free(root);
}

static void test_tagged_json(void **state) {
  arq_toml_value_t *root = parse("a = [1, 2.5, \"q\\\"\\u0001\", inf, -nan]\n"
                                 "[t]\n"
                                 "\"k\\n\" = 1979-05-27\n");
  assert_non_null(root);
  char *json = tagged_json(root);
  assert_string_equal(json, "{\"a\":[{\"type\":\"integer\",\"value\":\"1\"},"
                            "{\"type\":\"float\",\"value\":\"2.5\"},"
                            "{\"type\":\"string\",\"value\":\"q\\\"\\u0001\"},"
                            "{\"type\":\"float\",\"value\":\"inf\"},"
                            "{\"type\":\"float\",\"value\":\"nan\"}],"
                            "\"t\":{\"k\\n\":{\"type\":\"date-local\",\"value\":\"1979-05-27\"}}}");
  free(json);
  arq_toml_free(root);
}

static void test_redefinitions(void **state) {
  assert_rejected("[a]\n[a]\n", 2);
  assert_rejected("a.b = 1\n[a]\n", 2);
  assert_rejected("[a]\nb.c = 1\n[a.b]\n", 3);
  assert_rejected("[a.b]\n[a]\nb.c = 1\n", 3);
  assert_rejected("a = {b = 1}\n[a]\n", 2);
  assert_rejected("a = {b = 1}\na.c = 2\n", 2);
  assert_rejected("a = []\n[[a]]\n", 2);
  assert_rejected("[[a]]\n[a]\n", 2);
  assert_rejected("a = {b.c = 1, b = 2}\n", 1);
  /* Sub-tables may be added through dotted-key tables, and to implicit parents. */
  arq_toml_value_t *root = parse("[a]\nb.c = 1\n[a.b.d]\n[x.y]\n[x]\n");
  assert_non_null(root);
  arq_toml_free(root);
}

/* ---- hostile input ---- */

static void test_empty_input(void **state) {
  arq_toml_value_t *root = arq_toml_parse("", 0, err, sizeof err);
  assert_non_null(root);
  assert_int_equal(arq_toml_table_len(root), 0);
  arq_toml_free(root);
  root = arq_toml_parse(NULL, 0, err, sizeof err);
  assert_non_null(root);
  arq_toml_free(root);
  assert_null(arq_toml_parse(NULL, 5, err, sizeof err));
  root = parse("\n \t\n# only a comment");
  assert_non_null(root);
  arq_toml_free(root);
  arq_toml_free(NULL);
}

static void test_truncated_strings(void **state) {
  assert_rejected("a = \"abc", 1);
  assert_rejected("a = 'abc", 1);
  assert_rejected("a = \"\"\"abc\n\n", 1);
  assert_rejected("a = '''abc\n''", 1);
  assert_rejected("a = \"\\", 1);
  assert_rejected("a = \"\\u12", 1);
  assert_rejected("a = \"\\U0000", 1);
  assert_rejected("\"key", 1);
}

/* Every prefix of a document that uses every construct must parse or fail cleanly;
 * the sanitizer build checks that none reads past the end. */
static void test_every_prefix(void **state) {
  static const char doc[] =
      "a.b = \"\\u00e9\\\"x\" # c\r\n[t . 'q']\nf = -1_0.5e+1_0\nd = 1979-05-27 07:32:00.5+01:00\n"
      "m = \"\"\"\\\n  x\"\"\"\"\nl = '''y''''\n[[arr]]\ni = {x = [1, [2], {y = 0x_1}], z = 0b1}\n"
      "t = 07:00:00\nn = nan\n";
  for (size_t len = 0; len <= sizeof doc - 1; len++) {
    char *copy = malloc(len ? len : 1); /* exact size, so that overreads are caught */
    assert_non_null(copy);
    memcpy(copy, doc, len);
    arq_toml_free(arq_toml_parse(copy, len, err, sizeof err));
    free(copy);
  }
}

static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix) {
  size_t plen = strlen(prefix), ulen = strlen(unit), slen = strlen(suffix);
  char *s = malloc(plen + ulen * n + slen + 1);
  assert_non_null(s);
  memcpy(s, prefix, plen);
  for (size_t i = 0; i < n; i++)
    memcpy(s + plen + i * ulen, unit, ulen);
  memcpy(s + plen + ulen * n, suffix, slen + 1);
  return s;
}

static void test_deep_nesting(void **state) {
  const char *cases[][3] = {
      {"", "[", ""},        /* [[[[... */
      {"a = ", "[", ""},    /* unterminated arrays */
      {"a = ", "{b = ", "1"}, {"[", "a.", "a]"}, {"", "a.", "a = 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *s = repeat(cases[i][0], cases[i][1], 100000, cases[i][2]);
    assert_null(arq_toml_parse(s, strlen(s), err, sizeof err));
    free(s);
  }
  /* Nesting within the limit is fine. */
  char *s = repeat("a = ", "[", 100, "");
  char *closed = repeat(s, "]", 100, "");
  arq_toml_value_t *root = parse(closed);
  assert_non_null(root);
  arq_toml_free(root);
  free(s);
  free(closed);
}

static void test_huge_integers(void **state) {
  assert_rejected("a = 9223372036854775808", 1);
  assert_rejected("a = -9223372036854775809", 1);
  assert_rejected("a = 0x8000000000000000", 1);
  assert_rejected("a = 0o1777777777777777777777", 1);
  assert_rejected("a = 99999999999999999999999999999999999999999999", 1);
  assert_rejected("a = 1e99999", 1);
  arq_toml_value_t *root = parse("a = -9223372036854775808\nb = 0x7fffffffffffffff\n");
  assert_non_null(root);
  assert_true(arq_toml_int(arq_toml_table_get(root, "a")) == INT64_MIN);
  assert_true(arq_toml_int(arq_toml_table_get(root, "b")) == INT64_MAX);
  arq_toml_free(root);
}

static void test_nul_bytes(void **state) {
  assert_rejected_n("a = 1\0", 6, 1);
  assert_rejected_n("a = \"x\0y\"", 9, 1);
  assert_rejected_n("# x\0y\n", 6, 1);
  assert_rejected_n("\0", 1, 1);
  assert_rejected_n("a\0 = 1", 6, 1);
}

static void test_invalid_utf8(void **state) {
  assert_rejected("a = \"\xc0\xaf\"", 1);             /* overlong */
  assert_rejected("a = \"\xed\xa0\x80\"", 1);         /* surrogate */
  assert_rejected("a = \"\xf4\x90\x80\x80\"", 1);     /* above U+10FFFF */
  assert_rejected("a = 1\n# \xff\n", 2);              /* stray byte in a comment */
  assert_rejected("a = 1 # \xe2\x82", 1);             /* truncated at the end */
  assert_rejected("a = \"\\uD800\"", 1);              /* escaped surrogate */
}

static void test_long_keys(void **state) {
  size_t n = 1 << 20;
  char *key = repeat("", "k", n, "");
  char *doc = repeat(key, "", 0, " = 1\n");
  arq_toml_value_t *root = parse(doc);
  assert_non_null(root);
  assert_int_equal(strlen(arq_toml_table_key(root, 0)), n);
  assert_non_null(arq_toml_table_get(root, key));
  arq_toml_free(root);
  free(doc);
  free(key);
}

static void test_many_keys(void **state) {
  size_t n = 20000, cap = n * 16, len = 0;
  char *doc = malloc(cap);
  assert_non_null(doc);
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(doc + len, cap - len, "k%zu = %zu\n", i, i);
  arq_toml_value_t *root = arq_toml_parse(doc, len, err, sizeof err);
  assert_non_null(root);
  assert_int_equal(arq_toml_table_len(root), n);
  assert_int_equal(arq_toml_int(arq_toml_table_get(root, "k12345")), 12345);
  assert_null(arq_toml_table_get(root, "k20000"));
  memcpy(doc + len, "k777 = 1\n", 9);
  assert_rejected_n(doc, len + 9, (int)n + 1);
  free(doc);
  arq_toml_free(root);
}

static void test_small_error_buffer(void **state) {
  char tiny[4];
  assert_null(arq_toml_parse("a = ", 4, tiny, sizeof tiny));
  assert_string_equal(tiny, "lin");
  assert_null(arq_toml_parse("a = ", 4, NULL, 0));
}

/* The parser keeps no global state: concurrent parses give identical results. */
static const char threaded_doc[] = "[a]\nx = 1.25\ny = [\"s\", 2]\n[[b]]\nz = 1979-05-27\n";

static void *parse_many(void *arg) {
  char **out = arg;
  char local_err[64];
  for (int i = 0; i < 200; i++) {
    arq_toml_value_t *root = arq_toml_parse(threaded_doc, sizeof threaded_doc - 1, local_err,
                                            sizeof local_err);
    if (!root)
      return NULL;
    free(*out);
    *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(out, &size); /* no cmocka asserts off the main thread */
    if (f) {
      arq_toml_write_tagged_json(root, f);
      fclose(f);
    }
    arq_toml_free(root);
  }
  return NULL;
}

static void test_concurrent_parses(void **state) {
  pthread_t threads[4];
  char *json[4] = {NULL};
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, parse_many, &json[i]), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(threads[i], NULL);
  for (int i = 0; i < 4; i++) {
    assert_non_null(json[i]);
    assert_string_equal(json[i], json[0]);
  }
  for (int i = 0; i < 4; i++)
    free(json[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars_and_types),
      cmocka_unit_test(test_document_order_and_nesting),
      cmocka_unit_test(test_lines),
      cmocka_unit_test(test_error_lines),
      cmocka_unit_test(test_string_kinds),
      cmocka_unit_test(test_tagged_json),
      cmocka_unit_test(test_redefinitions),
      cmocka_unit_test(test_empty_input),
      cmocka_unit_test(test_truncated_strings),
      cmocka_unit_test(test_every_prefix),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_huge_integers),
      cmocka_unit_test(test_nul_bytes),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_long_keys),
      cmocka_unit_test(test_many_keys),
      cmocka_unit_test(test_small_error_buffer),
      cmocka_unit_test(test_concurrent_parses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
