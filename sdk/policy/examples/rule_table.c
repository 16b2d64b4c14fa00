/* One rule per room, called through a table of function pointers: "lobby" allows
 * everything, "announcements" is read-only (403), "library" refuses data with an
 * exclamation mark (422), "sms" refuses data over 16 bytes (413); other rooms are open.
 * Built with -mreference-types (sdk/policy/CMakeLists.txt), as current compilers build by
 * default: the call through the table is then a call_indirect whose table index wasm-ld
 * writes as a padded 5-byte LEB128 (80 80 80 80 00), which the engine must read. */
#include "arqon_policy.h"

static char payload[1024];
static char room[64];

typedef int (*rule_fn)(const char *data, int n);

static int allow(const char *data, int n) {
  (void)data;
  (void)n;
  return 0;
}

static int read_only(const char *data, int n) {
  (void)data;
  (void)n;
  ARQ_REJECT(403, "room is read-only");
  return 403;
}

static int no_shouting(const char *data, int n) {
  for (int i = 0; i < n; i++)
    if (data[i] == '!') {
      ARQ_REJECT(422, "no exclamation marks in this room");
      return 422;
    }
  return 0;
}

static int short_only(const char *data, int n) {
  (void)data;
  if (n > 16) {
    ARQ_REJECT(413, "at most 16 bytes in this room");
    return 413;
  }
  return 0;
}

static const struct {
  const char *room;
  rule_fn rule;
} rules[] = {
    {"lobby", allow},
    {"announcements", read_only},
    {"library", no_shouting},
    {"sms", short_only},
};

static int same(const char *a, int alen, const char *b) {
  int blen = arq_strlen(b);
  return alen == blen && arq_memeq(a, b, alen);
}

ARQ_POLICY_EXPORT("arqon_on_message") int on_message(void) {
  int rn = host_get_header("x-arqon-room", 12, room, (int)sizeof room);
  if (rn < 0 || rn > (int)sizeof room)
    return 0;
  int r = 0;
  while (r < (int)(sizeof rules / sizeof rules[0]) && !same(room, rn, rules[r].room))
    r++;
  if (r == (int)(sizeof rules / sizeof rules[0]))
    return 0;
  int n = host_get_payload(payload, (int)sizeof payload);
  if (n > (int)sizeof payload)
    n = (int)sizeof payload;
  return rules[r].rule(payload, n);
}
