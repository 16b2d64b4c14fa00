#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Captures log output in a temporary file and returns it (caller frees). */
static FILE *capture;

static int setup(void **state) {
  capture = tmpfile();
  arq_log_configure(ARQ_LOG_INFO, ARQ_LOG_LOGFMT, fileno(capture));
  return 0;
}

static int teardown(void **state) {
  fclose(capture);
  arq_log_configure(ARQ_LOG_INFO, ARQ_LOG_LOGFMT, 2);
  return 0;
}

static char *captured(void) {
  long n = ftell(capture);
  char *s = calloc(1, (size_t)n + 1);
  rewind(capture);
  assert_int_equal(fread(s, 1, (size_t)n, capture), (size_t)n);
  rewind(capture);
  assert_int_equal(ftruncate(fileno(capture), 0), 0);
  return s;
}

static void logfmt_line(void **state) {
  ARQ_LOG(ARQ_LOG_INFO, "shield", "client connected", {"tenant_id", "T1"}, {"addr", "a b"},
          {"q", "say \"hi\"\n"}, {"skipped", NULL});
  char *s = captured();
  assert_true(!strncmp(s, "ts=", 3));
  assert_non_null(strstr(s, " level=info component=shield msg=\"client connected\" tenant_id=T1 "
                            "addr=\"a b\" q=\"say \\\"hi\\\"\\n\"\n"));
  assert_null(strstr(s, "skipped"));
  assert_int_equal(strchr(s, '\n')[1], '\0'); /* exactly one line */
  free(s);
}

static void json_line(void **state) {
  arq_log_configure(ARQ_LOG_DEBUG, ARQ_LOG_JSON, fileno(capture));
  ARQ_LOG(ARQ_LOG_WARN, "registry", "bad \"schema\"", {"error", "field 3\ttab"});
  char *s = captured();
  assert_true(!strncmp(s, "{\"ts\":\"", 7));
  assert_non_null(strstr(s, "\"level\":\"warn\",\"component\":\"registry\",\"msg\":\"bad "
                            "\\\"schema\\\"\",\"error\":\"field 3\\ttab\"}\n"));
  free(s);
}

/* The process's node goes on every line that does not name a node itself. */
static void node_on_every_line(void **state) {
  arq_log_set_node("edge-7");
  ARQ_LOG(ARQ_LOG_INFO, "shield", "one", {"tenant_id", "T1"});
  ARQ_LOG(ARQ_LOG_INFO, "brain", "two", {"node", "other"});
  arq_log_set_node(NULL);
  ARQ_LOG(ARQ_LOG_INFO, "shield", "three", {"tenant_id", "T1"});
  char *s = captured();
  assert_non_null(strstr(s, "msg=\"one\" tenant_id=T1 node=edge-7\n"));
  assert_non_null(strstr(s, "msg=\"two\" node=other\n"));
  assert_null(strstr(s, "node=edge-7 node"));
  assert_non_null(strstr(s, "msg=\"three\" tenant_id=T1\n"));
  free(s);
}

static void level_filter(void **state) {
  arq_log_set_level(ARQ_LOG_WARN);
  assert_false(arq_log_enabled(ARQ_LOG_INFO));
  ARQ_LOG(ARQ_LOG_INFO, "x", "hidden");
  ARQ_LOG(ARQ_LOG_ERROR, "x", "shown");
  arq_logf(ARQ_LOG_DEBUG, "x", "hidden %d", 1);
  arq_logf(ARQ_LOG_WARN, "x", "formatted %d", 42);
  char *s = captured();
  assert_null(strstr(s, "hidden"));
  assert_non_null(strstr(s, "msg=\"shown\""));
  assert_non_null(strstr(s, "level=warn component=x msg=\"formatted 42\""));
  free(s);
}

static void parse_names(void **state) {
  arq_log_level_t l;
  arq_log_format_t f;
  assert_int_equal(arq_log_level_parse("debug", &l), 0);
  assert_int_equal(l, ARQ_LOG_DEBUG);
  assert_int_equal(arq_log_level_parse("verbose", &l), -1);
  assert_int_equal(arq_log_level_parse(NULL, &l), -1);
  assert_int_equal(arq_log_format_parse("json", &f), 0);
  assert_int_equal(f, ARQ_LOG_JSON);
  assert_int_equal(arq_log_format_parse("xml", &f), -1);
  assert_string_equal(arq_log_level_name(ARQ_LOG_TRACE), "trace");
}

static void long_line_is_cut_whole(void **state) {
  char *big = malloc(10000);
  memset(big, 'x', 9999);
  big[9999] = '\0';
  ARQ_LOG(ARQ_LOG_ERROR, "x", "big", {"a", "1"}, {"payload", big}, {"b", "2"});
  char *s = captured();
  assert_true(strlen(s) <= 4096);
  assert_non_null(strstr(s, " a=1 truncated=true\n")); /* the big field is left out whole */
  assert_null(strstr(s, "payload="));
  free(s);
  free(big);
}

static void *writer(void *arg) {
  for (int i = 0; i < 2000; i++)
    ARQ_LOG(ARQ_LOG_INFO, "thread", "line", {"who", (const char *)arg},
            {"pad", "0123456789012345678901234567890123456789"});
  return NULL;
}

static void threads_never_interleave(void **state) {
  pthread_t t[4];
  const char *names[4] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, writer, (void *)names[i]);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  char *s = captured();
  int lines = 0;
  for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
    lines++;
    assert_non_null(strstr(line, "component=thread msg=\"line\" who="));
    assert_non_null(strstr(line, " pad=0123456789012345678901234567890123456789"));
    assert_int_equal(line[strlen(line) - 1], '9');
  }
  assert_int_equal(lines, 8000);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(logfmt_line, setup, teardown),
      cmocka_unit_test_setup_teardown(json_line, setup, teardown),
      cmocka_unit_test_setup_teardown(node_on_every_line, setup, teardown),
      cmocka_unit_test_setup_teardown(level_filter, setup, teardown),
      cmocka_unit_test(parse_names),
      cmocka_unit_test_setup_teardown(long_line_is_cut_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(threads_never_interleave, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
