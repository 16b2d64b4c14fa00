/*
 * schema.h — the schema registry's validator: does a byte string decode as a given
 * protobuf message type?
 *
 * DESIGN
 *   A schema is loaded once from a serialized google.protobuf.FileDescriptorSet (what
 *   `protoc --include_imports --descriptor_set_out` writes), gzip-compressed or not.
 *   Loading decodes it with protoc-c generated code (descriptor.c), resolves every type
 *   reference by fully-qualified name and compiles the result into a compact immutable
 *   form (compile.c): per message a table of fields sorted by number (plus a dense index
 *   when numbers are small), each with its expected wire type, flags and a direct
 *   pointer to its message or enum type. Validation (validate.c) walks the wire format
 *   against that form: no string look-ups, no allocation, bounded recursion.
 *
 *   Errors are named constant strings (compare `err->code` by identity with the
 *   arq_schema_err_* below); `err->message` holds the readable text, e.g.
 *   `field 2 (address).field 1 (street): invalid UTF-8`.
 *
 *   What is validated and where the validator is stricter or more lenient than the
 *   protobuf parsers is written down in docs/registry.md.
 *
 *   Threads: a loaded schema is immutable; any number of threads may validate against it
 *   at once. It must outlive every arq_schema_message_t taken from it.
 */
#ifndef ARQ_REGISTRY_SCHEMA_H
#define ARQ_REGISTRY_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- named errors --------------------------------------------------------------------- */

#define ARQ_SCHEMA_ERRORS(X)                                                            \
  /* loading: compression and decoding */                                                \
  X(gzip_corrupt, "corrupt gzip data")                                                   \
  X(gzip_too_large, "decompressed size exceeds the limit")                               \
  X(descriptor_too_large, "descriptor set exceeds the size limit")                       \
  X(descriptor_corrupt, "not a serialized FileDescriptorSet")                            \
  X(descriptor_empty, "descriptor set holds no message type")                            \
  /* loading: an invalid descriptor set */                                               \
  X(duplicate_name, "duplicate type name")                                               \
  X(unknown_type, "unknown type reference")                                              \
  X(relative_type, "type reference is not fully qualified")                              \
  X(bad_field_number, "invalid field number")                                            \
  X(duplicate_field_number, "duplicate field number")                                    \
  X(bad_field_type, "invalid field type")                                                \
  X(bad_label, "invalid field label")                                                    \
  X(bad_oneof, "invalid oneof index")                                                    \
  X(bad_map_entry, "invalid map entry")                                                  \
  X(bad_name, "invalid name")                                                            \
  X(empty_enum, "enum has no values")                                                    \
  X(unsupported_syntax, "unsupported syntax")                                            \
  X(out_of_memory, "out of memory")                                                      \
  /* validation: wire format */                                                          \
  X(too_large, "message exceeds the size limit")                                         \
  X(truncated_varint, "truncated varint")                                                \
  X(varint_too_long, "varint longer than 10 bytes")                                      \
  X(truncated_fixed, "truncated fixed-width value")                                      \
  X(truncated_length, "length-delimited field runs past the end")                        \
  X(bad_tag, "invalid tag")                                                              \
  X(bad_field_number_wire, "invalid field number")                                       \
  X(reserved_field_number, "field number in the reserved range 19000-19999")             \
  X(bad_wire_type, "invalid wire type")                                                  \
  X(unterminated_group, "group without its end marker")                                  \
  X(unexpected_end_group, "end-group marker without a matching start")                   \
  /* validation: against the schema */                                                   \
  X(wire_type_mismatch, "wire type does not match the declared type")                    \
  X(undeclared_group, "group wire type on a field not declared as a group")              \
  X(unknown_field, "unknown field")                                                      \
  X(bad_utf8, "invalid UTF-8")                                                           \
  X(bad_packed_length, "packed length is not a whole number of elements")                \
  X(bad_packed_varint, "packed field ends inside a varint")                              \
  X(enum_value, "value not in closed enum")                                              \
  X(missing_required, "missing required field")                                          \
  X(too_deep, "nesting exceeds the depth limit")                                         \
  /* API misuse */                                                                       \
  X(bad_argument, "invalid argument")

#define ARQ_SCHEMA_DECLARE_ERROR(id, text) extern const char arq_schema_err_##id[];
ARQ_SCHEMA_ERRORS(ARQ_SCHEMA_DECLARE_ERROR)
#undef ARQ_SCHEMA_DECLARE_ERROR

/** Length of the readable error text kept in arq_schema_error_t, NUL included. */
#define ARQ_SCHEMA_ERROR_TEXT 256

/**
 * The outcome of a load or a validation. On failure `code` is one of the
 * arq_schema_err_* strings; on success it is NULL and `message` is empty.
 */
typedef struct {
  const char *code;
  /** Byte offset in the validated input (or the decompressed descriptor set) where the
   *  problem was found; 0 when it has no position. */
  size_t offset;
  /** Innermost field number involved, 0 when none. */
  uint32_t field;
  /** Number of nested fields on the path to the problem (0 for the top level). */
  unsigned depth;
  /** Readable text: path, problem, position. Always NUL-terminated. */
  char message[ARQ_SCHEMA_ERROR_TEXT];
} arq_schema_error_t;

/* ---- limits --------------------------------------------------------------------------- */

/** Hard ceiling on max_depth: the walk recurses once per nesting level. */
#define ARQ_SCHEMA_DEPTH_CEILING 512u
#define ARQ_SCHEMA_DEFAULT_DEPTH 64u
#define ARQ_SCHEMA_DEFAULT_MAX_SIZE (4u * 1024u * 1024u)

typedef struct {
  /** Largest accepted message, in bytes. 0 means ARQ_SCHEMA_DEFAULT_MAX_SIZE. */
  size_t max_size;
  /** Deepest accepted nesting of messages and groups (the top level is depth 0).
   *  0 means ARQ_SCHEMA_DEFAULT_DEPTH; larger than ARQ_SCHEMA_DEPTH_CEILING is clamped. */
  unsigned max_depth;
  /** Reject field numbers the message type does not declare. */
  bool strict_unknown;
} arq_schema_limits_t;

/* ---- loading -------------------------------------------------------------------------- */

typedef struct arq_schema arq_schema_t;
typedef struct arq_schema_message arq_schema_message_t;

/** Default ceiling on a decompressed descriptor set. */
#define ARQ_SCHEMA_DEFAULT_MAX_DESCRIPTOR (16u * 1024u * 1024u)

/**
 * Load a serialized FileDescriptorSet, gzip-compressed (detected by its magic bytes) or
 * not. Decompression stops, and the load fails with arq_schema_err_gzip_too_large, as
 * soon as the output would pass `max_descriptor` bytes (0: the default); nothing larger
 * is ever allocated. On success *out owns the schema (free with arq_schema_free) and the
 * input may be released. Returns 0, or -1 with `err` filled (err may be NULL).
 */
int arq_schema_load(const uint8_t *data, size_t len, size_t max_descriptor, arq_schema_t **out,
                    arq_schema_error_t *err);

/** NULL-safe. Invalidates every message pointer taken from `s`. */
void arq_schema_free(arq_schema_t *s);

/**
 * The message type with fully-qualified name `name` ("pkg.Outer.Inner", a leading dot
 * is allowed), or NULL. Look it up once and keep the pointer: validation does no
 * look-ups by name.
 */
const arq_schema_message_t *arq_schema_find_message(const arq_schema_t *s, const char *name);

/** Number of message types in the schema (map entries and nested types included). */
size_t arq_schema_message_count(const arq_schema_t *s);
/** The i-th message type, i < arq_schema_message_count(s); NULL otherwise. */
const arq_schema_message_t *arq_schema_message_at(const arq_schema_t *s, size_t i);
/** Fully-qualified name without the leading dot. */
const char *arq_schema_message_name(const arq_schema_message_t *m);

/**
 * Inflate a gzip stream into a new malloc'd buffer of at most `limit` bytes (*out, to be
 * freed by the caller). Fails with arq_schema_err_gzip_too_large as soon as the output
 * would pass `limit`, and with arq_schema_err_gzip_corrupt on a damaged stream or bytes
 * after its end. Returns 0 or -1.
 */
int arq_schema_gunzip(const uint8_t *data, size_t len, size_t limit, uint8_t **out,
                      size_t *out_len, arq_schema_error_t *err);

/**
 * Compress `data` into a new malloc'd gzip stream (*out, freed by the caller): the form in
 * which sets are stored in the registry bucket. Returns 0, or -1 if zlib fails.
 */
int arq_schema_gzip(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len);

/* ---- validation ----------------------------------------------------------------------- */

/**
 * 0 if data[0..len) is a valid serialization of `m` (a message of schema `s`) under
 * `lim` (NULL: defaults), else -1 with `err` filled (err may be NULL). Allocates
 * nothing; safe to call concurrently.
 */
int arq_schema_validate(const arq_schema_t *s, const arq_schema_message_t *m,
                        const uint8_t *data, size_t len, const arq_schema_limits_t *lim,
                        arq_schema_error_t *err);

#endif
