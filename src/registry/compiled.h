/*
 * compiled.h — the compact, immutable form a schema is compiled into (internal).
 *
 * DESIGN
 *   Everything the validator needs is precomputed here so that the walk does no string
 *   work: a field carries its wire type, its value kind, its flags and a direct pointer
 *   to its message or enum type. Fields of a message are sorted by number; messages whose
 *   numbers are small also get a dense number -> field index table. All memory of a
 *   schema belongs to the schema and is released by arq_schema_free.
 */
#ifndef ARQ_REGISTRY_COMPILED_H
#define ARQ_REGISTRY_COMPILED_H

#include "registry/schema.h"

#include <stddef.h>
#include <stdint.h>

/** Protobuf wire types. */
enum {
  ARQ__WIRE_VARINT = 0,
  ARQ__WIRE_FIXED64 = 1,
  ARQ__WIRE_LEN = 2,
  ARQ__WIRE_START_GROUP = 3,
  ARQ__WIRE_END_GROUP = 4,
  ARQ__WIRE_FIXED32 = 5,
};

/** How the value of a field is checked once its wire type is right. */
typedef enum {
  ARQ__KIND_VARINT,  /* int32/64, uint32/64, sint32/64, bool, open enum: any varint */
  ARQ__KIND_ENUM,    /* closed enum: the varint, as int32, must be a declared value */
  ARQ__KIND_FIXED32, /* fixed32, sfixed32, float */
  ARQ__KIND_FIXED64, /* fixed64, sfixed64, double */
  ARQ__KIND_STRING,  /* UTF-8 checked */
  ARQ__KIND_BYTES,
  ARQ__KIND_MESSAGE, /* length-delimited, nested walk (maps are messages too) */
  ARQ__KIND_GROUP,   /* start/end group markers around a nested walk */
} arq__kind_t;

enum {
  ARQ__F_REPEATED = 1u << 0,
  ARQ__F_PACKED = 1u << 1,   /* serializers pack it; parsers accept both encodings */
  ARQ__F_PACKABLE = 1u << 2, /* repeated scalar: wire type 2 is also accepted */
  ARQ__F_REQUIRED = 1u << 3,
  ARQ__F_MAP = 1u << 4,
};

/** Required fields past this many per message are checked by a second scan. */
#define ARQ__REQUIRED_BITS 64u
/** Largest field number served by the dense index. */
#define ARQ__DENSE_MAX 1024u

typedef struct arq_schema_enum {
  const char *name; /* fully qualified, no leading dot */
  bool closed;
  uint32_t n_values;
  int32_t *values; /* sorted, distinct */
  int32_t min, max;
  bool contiguous; /* values are exactly min..max */
} arq__enum_t;

typedef struct {
  uint32_t number;
  uint8_t kind;  /* arq__kind_t */
  uint8_t wire;  /* expected wire type of one element */
  uint8_t flags; /* ARQ__F_* */
  int32_t oneof; /* index of the real oneof, -1 when none */
  uint32_t required_index; /* rank among the message's required fields */
  const char *name;
  const arq_schema_message_t *message; /* KIND_MESSAGE, KIND_GROUP */
  const arq__enum_t *enumeration;      /* KIND_ENUM */
} arq__field_t;

struct arq_schema_message {
  const char *name; /* fully qualified, no leading dot */
  uint32_t n_fields;
  arq__field_t *fields; /* sorted by number */
  uint32_t dense_len;   /* 0: binary search only */
  uint16_t *dense;      /* number -> 1 + index into fields, 0: undeclared */
  uint32_t n_required;
  uint64_t required_mask; /* the first ARQ__REQUIRED_BITS required fields */
  uint32_t n_oneofs;
  bool map_entry;
};

struct arq_schema {
  size_t n_messages;
  arq_schema_message_t *messages;
  size_t n_enums;
  arq__enum_t *enums;
  /* every name of the schema, in one block */
  char *names;
  /* messages sorted by name, for arq_schema_find_message */
  const arq_schema_message_t **by_name;
};

/** The declared field with this number, or NULL. */
static inline const arq__field_t *arq__field_find(const arq_schema_message_t *m, uint32_t number) {
  if (number < m->dense_len) {
    uint16_t i = m->dense[number];
    return i ? &m->fields[i - 1] : NULL;
  }
  uint32_t lo = 0, hi = m->n_fields;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t n = m->fields[mid].number;
    if (n == number)
      return &m->fields[mid];
    if (n < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/** Fill `err` (if any) with `code` and printf-style text. Returns -1. */
int arq__schema_fail(arq_schema_error_t *err, const char *code, size_t offset, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

#endif
