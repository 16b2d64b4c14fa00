/*
 * envelope_json.h — arqon.v1.Envelope in the proto3 canonical JSON mapping (SPEC section 3:
 * text frames carry the same message as binary frames, as JSON).
 *
 * DESIGN
 *   Decoding parses the frame with the strict parser of common/json.h, then maps the DOM
 *   onto the protobuf-c structs. Everything the decoded message points to lives in an
 *   arq_envelope_arena_t: its strings point straight into the parsed document (no copy),
 *   and sub-messages, header entries and base64-decoded bytes come from a bump allocator.
 *   The arena is reused message after message, so once it has grown to the size of the
 *   largest message seen, decoding performs no allocation at all. The decoded message is
 *   an ordinary Arqon__V1__Envelope: arqon__v1__envelope__pack() accepts it, but it must
 *   NOT be passed to arqon__v1__envelope__free_unpacked() (the arena owns it).
 *
 *   What is accepted is what proto3 JSON parsers accept: the .proto field names and the
 *   lowerCamelCase ones (the same field under both names is an error), 64-bit integers as
 *   numbers or decimal strings (integral values only: 1e3 yes, 1.5 no, no overflow), bytes
 *   as standard or URL-safe base64 with or without padding, `headers` as an object of
 *   strings, the enum SystemSignal.type by name or number, and null as "default". Unknown
 *   fields and a second member of the payload oneof are errors. Strings containing U+0000
 *   are refused: protobuf-c stores strings NUL-terminated and would silently cut them.
 *
 *   Encoding writes the canonical form: lowerCamelCase names, default values omitted,
 *   64-bit integers as decimal strings, bytes as standard padded base64, enums by name
 *   (by number when the value has no name), map keys unique (the last entry wins, as in
 *   the binary format), invalid UTF-8 in strings replaced by U+FFFD.
 */
#ifndef ARQ_SHIELD_ENVELOPE_JSON_H
#define ARQ_SHIELD_ENVELOPE_JSON_H

#include <stddef.h>

#include "arqon/v1/envelope.pb-c.h"
#include "common/buf.h"
#include "common/json.h"

struct arq_envelope_chunk;

/* Memory for decoded envelopes. Fields are private. */
typedef struct {
  arq_json_doc_t json; /* the parsed text; decoded strings point into it */
  char *_block;        /* bump region */
  size_t _used, _cap;
  struct arq_envelope_chunk *_chunks; /* overflow of the current message, merged on reset */
  size_t _chunk_bytes;
} arq_envelope_arena_t;

/* Defaults for the JSON text of one envelope, applied where `limits` is NULL or a field of
 * it is 0. An envelope is shallow (depth 3) and its size is dominated by strings, so few
 * values and little depth suffice; tight bounds keep a hostile frame such as [0,0,0,...]
 * from growing the arena (whose memory is kept for reuse) to tens of bytes per input byte.
 * With these, an arena holds at most about max_bytes + 80 * max_values bytes for JSON. */
#define ARQ_ENVELOPE_JSON_MAX_BYTES ((size_t)1 << 20)
#define ARQ_ENVELOPE_JSON_MAX_DEPTH 16u
#define ARQ_ENVELOPE_JSON_MAX_VALUES ((size_t)1 << 14)

/** Prepares an arena. `limits` bounds the JSON text (see the defaults above). */
void arq_envelope_arena_init(arq_envelope_arena_t *a, const arq_json_limits_t *limits);
/** Forgets everything allocated from the arena (envelopes decoded into it become invalid),
 *  keeping the memory for reuse. */
void arq_envelope_arena_reset(arq_envelope_arena_t *a);
void arq_envelope_arena_free(arq_envelope_arena_t *a);
/** `n` bytes aligned for any protobuf-c field, valid until the next reset. Never NULL. */
void *arq_envelope_arena_alloc(arq_envelope_arena_t *a, size_t n);
/** A protobuf-c allocator drawing from the arena (free is a no-op), so that binary frames
 *  can be unpacked without per-message malloc too: arqon__v1__envelope__unpack(&alloc, ...). */
ProtobufCAllocator arq_envelope_arena_allocator(arq_envelope_arena_t *a);

#define ARQ_ENVELOPE_EINVAL (-1)  /* not JSON, or not an Envelope in the JSON mapping */
#define ARQ_ENVELOPE_ETOOBIG (-2) /* larger than the arena's JSON limits allow */

/**
 * Decodes `len` bytes of JSON into `*out`. Resets `arena` first: the previous envelope
 * decoded with it becomes invalid. Returns 0; or ARQ_ENVELOPE_EINVAL / ARQ_ENVELOPE_ETOOBIG
 * with "byte N: problem" in `err` (at most `errcap` bytes, NUL-terminated), `*out` then
 * being left initialised to an empty envelope.
 */
int arq_envelope_from_json(const char *json, size_t len, Arqon__V1__Envelope *out,
                           arq_envelope_arena_t *arena, char *err, size_t errcap);

/** Appends the canonical JSON of `e` (one line, no newline) to `out`. */
void arq_envelope_to_json(const Arqon__V1__Envelope *e, arq_buf_t *out);

#endif
