/* libFuzzer target for the Envelope JSON mapping. Each input is tried two ways:
 *   as JSON: decode; if accepted, encode canonically, decode that, and the two messages
 *     must pack to the same protobuf bytes (and the binary must unpack and encode to the
 *     same canonical JSON);
 *   as binary: unpack with arq_envelope_unpack (protobuf-c into an arena, with its budget
 *     and header cap); if accepted, the canonical JSON must decode, and encoding the result
 *     must give the same JSON again.
 * Arenas are reused across inputs, as the Shield reuses them across messages. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/envelope_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static arq_envelope_arena_t a1, a2;
static arq_buf_t json1, json2, pb1, pb2;

static void pack_into(const Arqon__V1__Envelope *e, arq_buf_t *b) {
  arq_buf_reset(b);
  size_t n = arqon__v1__envelope__get_packed_size(e);
  arq_buf_reserve(b, n);
  b->len = arqon__v1__envelope__pack(e, (uint8_t *)b->data);
  if (b->len != n)
    abort();
}

static void encode_into(const Arqon__V1__Envelope *e, arq_buf_t *b) {
  arq_buf_reset(b);
  arq_envelope_to_json(e, b);
}

static void mismatch(const char *what) {
  fprintf(stderr, "%s\nfirst:  %s\nsecond: %s\n", what, json1.data ? json1.data : "",
          json2.data ? json2.data : "");
  abort();
}

static void as_json(const uint8_t *data, size_t size) {
  char err[256];
  Arqon__V1__Envelope e1, e2;
  if (arq_envelope_from_json((const char *)data, size, &e1, &a1, err, sizeof err)) {
    if (!err[0])
      abort(); /* every refusal says why */
    return;
  }
  pack_into(&e1, &pb1);
  encode_into(&e1, &json1);
  if (arq_envelope_from_json(json1.data, json1.len, &e2, &a2, err, sizeof err)) {
    fprintf(stderr, "canonical JSON rejected: %s\n", err);
    mismatch("re-decode failed");
  }
  pack_into(&e2, &pb2);
  if (pb1.len != pb2.len || memcmp(pb1.data, pb2.data, pb1.len))
    mismatch("json -> pb -> json -> pb changed the message");
  /* the binary route gives the same JSON */
  Arqon__V1__Envelope *u = arqon__v1__envelope__unpack(NULL, pb1.len, (const uint8_t *)pb1.data);
  if (!u)
    mismatch("packed envelope does not unpack");
  encode_into(u, &json2);
  arqon__v1__envelope__free_unpacked(u, NULL);
  if (json1.len != json2.len || memcmp(json1.data, json2.data, json1.len))
    mismatch("decode+encode and pack+unpack+encode disagree");
}

static void as_binary(const uint8_t *data, size_t size) {
  char err[256];
  /* as the Shield unpacks client frames: into an arena, within its budget and header cap */
  Arqon__V1__Envelope *u = arq_envelope_unpack(data, size, &a2, err, sizeof err);
  if (!u) {
    if (!err[0])
      abort(); /* every refusal says why */
    return;
  }
  encode_into(u, &json1);
  Arqon__V1__Envelope e;
  if (arq_envelope_from_json(json1.data, json1.len, &e, &a1, err, sizeof err)) {
    fprintf(stderr, "encoder output rejected: %s\n", err);
    mismatch("pb2json output does not decode");
  }
  encode_into(&e, &json2);
  if (json1.len != json2.len || memcmp(json1.data, json2.data, json1.len))
    mismatch("pb -> json -> pb -> json is not stable");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    arq_envelope_arena_init(&a1, NULL);
    arq_envelope_arena_init(&a2, NULL);
    arq_buf_init(&json1);
    arq_buf_init(&json2);
    arq_buf_init(&pb1);
    arq_buf_init(&pb2);
    ready = 1;
  }
  as_json(data, size);
  as_binary(data, size);
  return 0;
}
