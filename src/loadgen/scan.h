/*
 * scan.h — reads the few fields of an arqon.v1.Envelope that `arq bench` needs (id,
 * event type and data) straight from the protobuf bytes, without unpacking the message.
 *
 * DESIGN
 *   A fan-out run delivers hundreds of thousands of envelopes per second to one client
 *   thread; unpacking each (allocations, every field copied) made the load generator a
 *   bottleneck of its own. The scan walks the top-level fields once and the event's
 *   fields once, pointing into the input; anything malformed is refused, never guessed.
 */
#ifndef ARQ_LOADGEN_SCAN_H
#define ARQ_LOADGEN_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  const uint8_t *id, *event_type, *event_data; /* NULL when absent */
  size_t id_len, event_type_len, event_data_len;
  uint64_t seq; /* 0 when absent (the Brain's seqs start at 1) */
  bool has_event;
} arq_bench_env_t;

/** 0, or -1 when the bytes are not a well-formed protobuf message. */
int arq_bench_scan_envelope(const uint8_t *p, size_t n, arq_bench_env_t *out);

#endif
