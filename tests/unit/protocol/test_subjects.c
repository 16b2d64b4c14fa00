/* Unit tests for the protocol's names: subjects (built and read), connection ids, header
 * names and traceparent (src/protocol). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/conn_id.h"
#include "protocol/headers.h"
#include "protocol/subjects.h"

static void subjects_are_built_as_the_spec_names_them(void **state) {
  char s[ARQ_SUBJECT_CAP];
  arq_subject_ingress(s, sizeof s, "T1", "lobby");
  assert_string_equal(s, "in.t.T1.r.lobby");
  arq_subject_room(s, sizeof s, "T1", "lobby");
  assert_string_equal(s, "out.t.T1.r.lobby");
  arq_subject_brain(s, sizeof s, "T1", "join");
  assert_string_equal(s, "sys.brain.T1.join");
  arq_subject_heartbeat(s, sizeof s, "edge-1");
  assert_string_equal(s, "sys.shield.edge-1.hb");
  arq_subject_audit(s, sizeof s, "T1");
  assert_string_equal(s, "sys.audit.T1");
  arq_subject_user(s, sizeof s, "T1", "bob");
  assert_string_equal(s, "out.t.T1.u.bob");
  arq_subject_disconnect(s, sizeof s, "T1", "bob");
  assert_string_equal(s, "sys.shield.disconnect.T1.bob");
  arq_subject_shadow(s, sizeof s, "in.t.T1.r.lobby");
  assert_string_equal(s, "shadow.in.t.T1.r.lobby");
  arq_subject_canary_report(s, sizeof s, "_global");
  assert_string_equal(s, "sys.shield.canary.report._global");
  arq_subject_node_conns(s, sizeof s, "edge-1");
  assert_string_equal(s, "out.t.*.c.edge-1.*");
  /* The longest ids fit, even in a shadow copy. */
  char id[ARQ_ID_MAX_LEN + 1], in[ARQ_SUBJECT_CAP];
  memset(id, 'a', ARQ_ID_MAX_LEN);
  id[ARQ_ID_MAX_LEN] = '\0';
  assert_true(arq_subject_ingress(in, sizeof in, id, id) < (int)sizeof in);
  assert_true(arq_subject_shadow(s, sizeof s, in) < (int)sizeof s);
  assert_true(arq_subject_brain(s, sizeof s, id, id) < (int)sizeof s);
}

static void subjects_are_read_into_valid_ids(void **state) {
  char t[ARQ_ID_MAX_LEN + 1], r[ARQ_ID_MAX_LEN + 1], n[ARQ_ID_MAX_LEN + 1];
  assert_true(arq_subject_parse_ingress("in.t.T1.r.lobby", t, r));
  assert_string_equal(t, "T1");
  assert_string_equal(r, "lobby");
  const char *bad[] = {"in.t.T1.u.x", "in.t..r.x", "in.t.T1.r.", "in.t.T1.r.a.b", "in.t.T1",
                       "in.x.T1.r.a", "in.t.T*.r.a", "in.t.T1.rr.a", "out.t.T1.r.a", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(arq_subject_parse_ingress(bad[i], t, r));
  char longroom[200] = "in.t.T.r.";
  memset(longroom + 9, 'a', 65);
  assert_false(arq_subject_parse_ingress(longroom, t, r));

  char c[ARQ_ID_MAX_LEN + 1];
  assert_true(arq_subject_parse_brain("sys.brain.T1.join", t, c));
  assert_string_equal(c, "join");
  assert_false(arq_subject_parse_brain("sys.brain.T1.join.x", t, c));
  assert_false(arq_subject_parse_brain("sys.brainT1.join", t, c));

  assert_true(arq_subject_parse_heartbeat("sys.shield.edge-1.hb", n));
  assert_string_equal(n, "edge-1");
  assert_false(arq_subject_parse_heartbeat("sys.shield.edge-1.hb.x", n));
  assert_false(arq_subject_parse_heartbeat("sys.shield.e.dge.hb", n));
  assert_false(arq_subject_parse_heartbeat("sys.shield..hb", n));

  assert_true(arq_subject_parse_disconnect("sys.shield.disconnect.T1.bob", t, r));
  assert_string_equal(t, "T1");
  assert_string_equal(r, "bob");
  assert_false(arq_subject_parse_disconnect("sys.shield.disconnect.T1", t, r));
  assert_false(arq_subject_parse_disconnect("sys.shield.disconnect.T1.bob.x", t, r));
  assert_false(arq_subject_parse_disconnect("sys.shield.disconnect.T1.", t, r));
  assert_false(arq_subject_parse_disconnect("sys.shield.disconnect.hb", t, r));

  assert_true(arq_subject_parse_canary_report("sys.shield.canary.report.T1", t));
  assert_string_equal(t, "T1");
  assert_false(arq_subject_parse_canary_report("sys.shield.canary.report.T1.canary", t));
  assert_false(arq_subject_parse_canary_report("sys.shield.canary.report.", t));
  assert_false(arq_subject_parse_canary_report("sys.shield.canary.T1", t));
  /* never a heartbeat (sys.shield.<node>.hb), whatever the tenant is called */
  assert_false(arq_subject_parse_heartbeat("sys.shield.canary.report.hb", n));

  arq_egress_kind_t kind;
  assert_true(arq_subject_parse_egress("out.t.a-b.r.c_d", &kind, t, NULL, r));
  assert_int_equal(kind, ARQ_EGRESS_ROOM);
  assert_string_equal(r, "c_d");
  assert_true(arq_subject_parse_egress("out.t.T1.u.alice", &kind, t, NULL, r));
  assert_int_equal(kind, ARQ_EGRESS_USER);
  assert_true(arq_subject_parse_egress("out.t.T1.c.edge-1.0a1b2c3d-1-42", &kind, t, n, r));
  assert_int_equal(kind, ARQ_EGRESS_CONN);
  assert_string_equal(n, "edge-1");
  assert_string_equal(r, "0a1b2c3d-1-42");
  const char *bad_out[] = {"out.t.T1.c.edge-1", "out.t.T1.x.a", "out.t.T1.u.a.b", "out.t.T1.c..x",
                           "in.t.T1.r.a", "out.t.T1.r.*"};
  for (size_t i = 0; i < sizeof bad_out / sizeof bad_out[0]; i++)
    assert_false(arq_subject_parse_egress(bad_out[i], &kind, t, n, r));
}

static void conn_ids(void **state) {
  char id[ARQ_CONN_ID_CAP], in[ARQ_ID_MAX_LEN + 1];
  arq_conn_id_format(id, sizeof id, "0a1b2c3d", 1, 42);
  assert_string_equal(id, "0a1b2c3d-1-42");
  assert_int_equal(arq_conn_id_instance(id, in), 0);
  assert_string_equal(in, "0a1b2c3d");
  assert_int_equal(arq_conn_id_instance("-1-2", in), -1);
  assert_int_equal(arq_conn_id_instance("abc", in), -1);
  assert_int_equal(arq_conn_id_instance("abc-", in), -1);
  assert_int_equal(arq_conn_id_instance("a.b-1", in), -1);
  assert_int_equal(arq_conn_id_instance(NULL, in), -1);
}

static void reserved_headers(void **state) {
  const char *reserved[] = {"x-arqon-sender", "X-Arqon-Tenant", "x-arqon-", "traceparent",
                            "TraceParent", "nats-msg-id", "Nats-Expected-Stream"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    assert_true(arq_header_reserved(reserved[i], strlen(reserved[i])));
  const char *free_names[] = {"x-arqon", "tracestate", "traceparentx", "natsmsg", "x-app", ""};
  for (size_t i = 0; i < sizeof free_names / sizeof free_names[0]; i++)
    assert_false(arq_header_reserved(free_names[i], strlen(free_names[i])));
}

static void traceparent(void **state) {
  const char *trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  char tp[ARQ_TRACEPARENT_LEN + 1], back[33];
  arq_traceparent_format(tp, trace, 0x00f067aa0ba902b7u);
  assert_string_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert_true(arq_traceparent_trace_id(tp, back));
  assert_string_equal(back, trace);
  const char *bad[] = {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                       "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                       "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(arq_traceparent_trace_id(bad[i], back));
  assert_false(arq_traceparent_trace_id(NULL, back));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(subjects_are_built_as_the_spec_names_them),
      cmocka_unit_test(subjects_are_read_into_valid_ids),
      cmocka_unit_test(conn_ids),
      cmocka_unit_test(reserved_headers),
      cmocka_unit_test(traceparent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
