/*
 * envelope_json.h — arqon.v1.Envelope in the proto3 canonical JSON mapping (SPEC section 3:
 * text frames carry the same message as binary frames, as JSON).
 *
 * DESIGN
 *   Decoding parses the frame with the strict parser of common/json.h, then maps the DOM
 *   onto the protobuf-c structs. Everything the decoded message points to lives in an
 *   arq_envelope_arena_t: its strings point straight into the parsed document (no copy),
 *   and sub-messages, header entries and base64-decoded bytes come from a bump allocator.
 *   The decoded message is an ordinary Arqon__V1__Envelope: arqon__v1__envelope__pack()
 *   accepts it, but it must NOT be passed to arqon__v1__envelope__free_unpacked() (the
 *   arena owns it).
 *
 *   The arena is reused message after message (one per Shield worker). Its bump region is
 *   a list of blocks that grow geometrically within a message, so a message costs what it
 *   allocates plus at most about as much again, never a block per allocation. On reset the
 *   arena keeps at most ARQ_ENVELOPE_ARENA_KEEP bytes of blocks, sized to the messages it
 *   has seen, and as much again of parsed JSON: messages up to that size decode without
 *   calling malloc, and a larger one costs its memory only until the reset that follows it.
 *
 *   Client input is bounded on both routes. A header map may carry at most
 *   ARQ_ENVELOPE_MAX_HEADERS entries (binary: every map entry on the wire counts, also
 *   repeated keys). Binary frames decoded with arq_envelope_unpack() may make protobuf-c
 *   allocate at most ARQ_ENVELOPE_DECODE_FACTOR times their size plus
 *   ARQ_ENVELOPE_DECODE_SLACK: a frame of tiny fields (an empty map entry is 2 bytes on the
 *   wire and about 110 bytes decoded; an unknown varint field 2 and about 100) is refused
 *   instead of making the arena dozens of times larger than the frame.
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
#ifndef ARQ_PROTOCOL_ENVELOPE_JSON_H
#define ARQ_PROTOCOL_ENVELOPE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "arqon/v1/envelope.pb-c.h"
#include "common/buf.h"
#include "common/json.h"

struct arq_envelope_block;

/* Memory for decoded envelopes. Fields are private. */
typedef struct {
  arq_json_doc_t json; /* the parsed text; decoded strings point into it */
  struct arq_envelope_block *_blocks; /* newest first; allocation bumps through the newest */
  size_t _used;   /* bytes used in the newest block */
  size_t _given;  /* bytes handed out since the last reset */
  size_t _budget; /* what the protobuf-c allocator may hand out before the next reset */
  int _refused;   /* the protobuf-c allocator refused a request since the last reset */
} arq_envelope_arena_t;

/* At most this many entries in an envelope's headers map. Policies, mirroring and the NATS
 * headers built from them walk the list; real clients send a handful. */
#define ARQ_ENVELOPE_MAX_HEADERS 64u

/* What a reset keeps: at most this many bytes of blocks, and the parsed-JSON arrays while
 * they hold at most this many bytes. Envelopes are usually a few hundred bytes to a few KiB. */
#define ARQ_ENVELOPE_ARENA_KEEP ((size_t)64 << 10)

/* arq_envelope_unpack() lets protobuf-c allocate at most FACTOR * len + SLACK bytes. A
 * well-formed envelope needs about its size plus ~130 bytes per header entry and ~100 per
 * other field, so the slack covers 64 headers and the fixed fields many times over. */
#define ARQ_ENVELOPE_DECODE_FACTOR 2u
#define ARQ_ENVELOPE_DECODE_SLACK ((size_t)64 << 10)

/* Defaults for the JSON text of one envelope, applied where `limits` is NULL or a field of
 * it is 0. An envelope is shallow (depth 3) and its size is dominated by strings, so few
 * values and little depth suffice; tight bounds keep a hostile frame such as [0,0,0,...]
 * from growing the arena to tens of bytes per input byte. A valid envelope has at most
 * 1 + 2 * 14 + 2 * ARQ_ENVELOPE_MAX_HEADERS + 4 = 161 values (keys count), so max_values is
 * also a ceiling: larger limits are lowered to it. With these, the parsed JSON of one
 * message holds at most about 2 * max_bytes + 200 * max_values bytes (~2.2 MiB for 1 MiB). */
#define ARQ_ENVELOPE_JSON_MAX_BYTES ((size_t)1 << 20)
#define ARQ_ENVELOPE_JSON_MAX_DEPTH 16u
#define ARQ_ENVELOPE_JSON_MAX_VALUES ((size_t)1024)

/** Prepares an arena. `limits` bounds the JSON text (see the defaults above; max_values is
 *  at most ARQ_ENVELOPE_JSON_MAX_VALUES). */
void arq_envelope_arena_init(arq_envelope_arena_t *a, const arq_json_limits_t *limits);
/** Forgets everything allocated from the arena (envelopes decoded into it become invalid).
 *  Keeps memory for reuse up to ARQ_ENVELOPE_ARENA_KEEP (blocks) and as much of parsed
 *  JSON, frees the rest, and lifts the budget set by arq_envelope_unpack(). */
void arq_envelope_arena_reset(arq_envelope_arena_t *a);
void arq_envelope_arena_free(arq_envelope_arena_t *a);
/** `n` bytes aligned for any protobuf-c field, valid until the next reset. Never NULL
 *  (aborts through arq_oom() when malloc fails), whatever the budget. */
void *arq_envelope_arena_alloc(arq_envelope_arena_t *a, size_t n);
/** Bytes of heap the arena holds now: its blocks and the parsed-JSON arrays. */
size_t arq_envelope_arena_footprint(const arq_envelope_arena_t *a);
/** A protobuf-c allocator drawing from the arena (free is a no-op), so that binary frames
 *  can be unpacked without per-message malloc too: arqon__v1__envelope__unpack(&alloc, ...).
 *  Outside arq_envelope_unpack() it has no budget: use it for input the Shield trusts (its
 *  own Brain's replies, envelopes other Shields already checked), and arq_envelope_unpack()
 *  for client frames. */
ProtobufCAllocator arq_envelope_arena_allocator(arq_envelope_arena_t *a);

#define ARQ_ENVELOPE_EINVAL (-1)  /* not JSON, or not an Envelope in the JSON mapping */
#define ARQ_ENVELOPE_ETOOBIG (-2) /* larger than the arena's JSON limits allow */

/**
 * Decodes `len` bytes of JSON into `*out`. Resets `arena` first: the previous envelope
 * decoded with it becomes invalid. A headers object of more than ARQ_ENVELOPE_MAX_HEADERS
 * members is refused (ARQ_ENVELOPE_EINVAL). Returns 0; or ARQ_ENVELOPE_EINVAL / ARQ_ENVELOPE_ETOOBIG
 * with "byte N: problem" in `err` (at most `errcap` bytes, NUL-terminated), `*out` then
 * being left initialised to an empty envelope.
 */
int arq_envelope_from_json(const char *json, size_t len, Arqon__V1__Envelope *out,
                           arq_envelope_arena_t *arena, char *err, size_t errcap);

/**
 * Unpacks `len` bytes of a binary arqon.v1.Envelope into `arena`, which is reset first (the
 * previous envelope decoded with it becomes invalid). protobuf-c may take at most
 * ARQ_ENVELOPE_DECODE_FACTOR * len + ARQ_ENVELOPE_DECODE_SLACK bytes from the arena, and
 * the headers map may have at most ARQ_ENVELOPE_MAX_HEADERS entries. Returns the envelope,
 * owned by the arena until its next reset; or NULL with the reason in `err` (at most
 * `errcap` bytes, NUL-terminated), which a client can be shown (400).
 */
Arqon__V1__Envelope *arq_envelope_unpack(const uint8_t *data, size_t len,
                                         arq_envelope_arena_t *arena, char *err, size_t errcap);

/** Replaces `out`'s content with the protobuf encoding of `e`; returns its length. (The
 *  buffer is reused: nothing is allocated once it has grown to the largest envelope.) */
size_t arq_envelope_pack(const Arqon__V1__Envelope *e, arq_buf_t *out);

/** Appends the canonical JSON of `e` (one line, no newline) to `out`. */
void arq_envelope_to_json(const Arqon__V1__Envelope *e, arq_buf_t *out);

#endif
