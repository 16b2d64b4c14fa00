/*
 * schema_validate — throughput of arq_schema_validate (src/registry) on a ~1 KiB message,
 * side by side with decoding the same bytes with protoc-c generated code for that type
 * (unpack + free_unpacked), which is what a consumer that trusts nothing would do instead.
 *
 *   schema_validate [SECONDS_PER_ROUND]   (default 1; three rounds each, the best is kept)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/schema.h"
#include "schema_bench.pb-c.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  static uint8_t buf[1 << 16];
  *len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return buf;
}

/* An event of about 1 KiB, every field kind represented. */
static uint8_t *build_event(size_t *len) {
  static Arq__Bench__Location loc = ARQ__BENCH__LOCATION__INIT;
  loc.lat = 48.8566;
  loc.lon = 2.3522;
  loc.city = "Paris";
  loc.country = "FR";
  static Arq__Bench__LineItem items[4];
  static Arq__Bench__LineItem *item_ptrs[4];
  static char *labels[] = {"fragile", "gift", "express"};
  static char skus[4][16];
  for (int i = 0; i < 4; i++) {
    arq__bench__line_item__init(&items[i]);
    snprintf(skus[i], sizeof skus[i], "SKU-%05d", 1000 + i * 37);
    items[i].sku = skus[i];
    items[i].quantity = (uint32_t)(i + 1);
    items[i].price_cents = 1999 * (i + 1) - 5000;
    items[i].n_labels = 3;
    items[i].labels = labels;
    item_ptrs[i] = &items[i];
  }
  static Arq__Bench__Attribute attrs[6];
  static Arq__Bench__Attribute *attr_ptrs[6];
  static char keys[6][24], vals[6][48];
  for (int i = 0; i < 6; i++) {
    arq__bench__attribute__init(&attrs[i]);
    snprintf(keys[i], sizeof keys[i], "attr_%d", i);
    snprintf(vals[i], sizeof vals[i], "value-%d-é✓-%08x", i, 0x9e3779b9u * (unsigned)i);
    attrs[i].key = keys[i];
    attrs[i].value = vals[i];
    attr_ptrs[i] = &attrs[i];
  }
  static Arq__Bench__Event__LabelsEntry entries[4];
  static Arq__Bench__Event__LabelsEntry *entry_ptrs[4];
  static const char *lk[] = {"region", "tier", "source", "campaign"};
  static const char *lv[] = {"eu-west-3", "gold", "mobile-app", "autumn-sale-2026"};
  for (int i = 0; i < 4; i++) {
    arq__bench__event__labels_entry__init(&entries[i]);
    entries[i].key = (char *)lk[i];
    entries[i].value = (char *)lv[i];
    entry_ptrs[i] = &entries[i];
  }
  static int64_t counters[16];
  static uint32_t checksums[8];
  for (int i = 0; i < 16; i++)
    counters[i] = (int64_t)i * 1234567 - 3;
  for (int i = 0; i < 8; i++)
    checksums[i] = 0xdeadbeefu ^ (uint32_t)i;
  static uint8_t payload[200];
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t)(i * 7);

  Arq__Bench__Event e = ARQ__BENCH__EVENT__INIT;
  e.event_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  e.tenant_id = "tenant-acme";
  e.user_id = "user-8c1e1f0a";
  e.timestamp_ms = 1795305600123;
  e.kind = ARQ__BENCH__EVENT__KIND__UPDATED;
  e.location = &loc;
  e.n_items = 4;
  e.items = item_ptrs;
  e.n_attributes = 6;
  e.attributes = attr_ptrs;
  e.n_labels = 4;
  e.labels = entry_ptrs;
  e.n_counters = 16;
  e.counters = counters;
  e.n_checksums = 8;
  e.checksums = checksums;
  e.payload.len = sizeof payload;
  e.payload.data = payload;
  e.urgent = 1;
  e.description = "Order updated by the customer from the mobile application; two items "
                  "were added and the delivery address changed to the office.";
  *len = arq__bench__event__get_packed_size(&e);
  uint8_t *buf = malloc(*len);
  arq__bench__event__pack(&e, buf);
  return buf;
}

typedef int (*op_t)(const void *ctx, const uint8_t *b, size_t n);

typedef struct {
  const arq_schema_t *s;
  const arq_schema_message_t *m;
} vctx_t;

static int op_validate(const void *ctx, const uint8_t *b, size_t n) {
  const vctx_t *v = ctx;
  return arq_schema_validate(v->s, v->m, b, n, NULL, NULL);
}

static int op_unpack(const void *ctx, const uint8_t *b, size_t n) {
  Arq__Bench__Event *e = arq__bench__event__unpack(NULL, n, b);
  if (!e)
    return -1;
  arq__bench__event__free_unpacked(e, NULL);
  return 0;
}

/* Best of three rounds of `seconds` each: nanoseconds per message. */
static double measure(op_t op, const void *ctx, const uint8_t *b, size_t n, double seconds) {
  double best = 1e30;
  for (int round = 0; round < 3; round++) {
    long iters = 0;
    double t0 = now(), t;
    do {
      for (int i = 0; i < 1000; i++)
        if (op(ctx, b, n)) {
          fprintf(stderr, "operation failed\n");
          exit(1);
        }
      iters += 1000;
      t = now() - t0;
    } while (t < seconds);
    double ns = t * 1e9 / (double)iters;
    if (ns < best)
      best = ns;
  }
  return best;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  if (seconds <= 0)
    seconds = 1.0;
  size_t desc_len;
  uint8_t *desc = read_file(ARQ_BENCH_SCHEMA, &desc_len);
  arq_schema_t *s;
  arq_schema_error_t err;
  if (!desc || arq_schema_load(desc, desc_len, 0, &s, &err)) {
    fprintf(stderr, "%s: %s\n", ARQ_BENCH_SCHEMA, desc ? err.message : "cannot read");
    return 1;
  }
  vctx_t v = {s, arq_schema_find_message(s, "arq.bench.Event")};
  size_t len;
  uint8_t *msg = build_event(&len);
  if (arq_schema_validate(s, v.m, msg, len, NULL, &err)) {
    fprintf(stderr, "benchmark message rejected: %s\n", err.message);
    return 1;
  }
  double ns_v = measure(op_validate, &v, msg, len, seconds);
  double ns_u = measure(op_unpack, NULL, msg, len, seconds);
  printf("message: arq.bench.Event, %zu bytes\n", len);
  printf("%-36s %10s %10s\n", "operation", "ns/msg", "MB/s");
  printf("%-36s %10.0f %10.1f\n", "arq_schema_validate", ns_v, (double)len * 1e3 / ns_v);
  printf("%-36s %10.0f %10.1f\n", "protoc-c unpack + free_unpacked", ns_u,
         (double)len * 1e3 / ns_u);
  printf("validate is %.2fx the speed of unpack\n", ns_u / ns_v);
  free(msg);
  arq_schema_free(s);
  return 0;
}
