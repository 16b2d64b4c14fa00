/*
 * descriptor.h — decoding a serialized FileDescriptorSet into a flat list of the message
 * and enum types it declares, each with its fully-qualified name (internal).
 *
 * The types point into the protoc-c decoded set, which lives until
 * arq__descriptors_free; compile.c turns them into the schema's own form.
 */
#ifndef ARQ_REGISTRY_DESCRIPTOR_H
#define ARQ_REGISTRY_DESCRIPTOR_H

#include "registry/schema.h"

#include "google/protobuf/descriptor.pb-c.h"

typedef struct {
  char *name; /* fully qualified, no leading dot; owned */
  const Google__Protobuf__DescriptorProto *proto;
  bool proto3;
} arq__raw_message_t;

typedef struct {
  char *name; /* fully qualified, no leading dot; owned */
  const Google__Protobuf__EnumDescriptorProto *proto;
  bool proto3;
} arq__raw_enum_t;

/* An `extend` declaration's field: it belongs to the message named by its extendee. */
typedef struct {
  const Google__Protobuf__FieldDescriptorProto *proto;
  bool proto3;
} arq__raw_extension_t;

typedef struct {
  Google__Protobuf__FileDescriptorSet *set;
  size_t n_messages, n_enums, n_extensions;
  arq__raw_message_t *messages;
  arq__raw_enum_t *enums;
  arq__raw_extension_t *extensions;
} arq__descriptors_t;

/** Decode and list the types of `data`; 0, or -1 with err filled. */
int arq__descriptors_decode(const uint8_t *data, size_t len, arq__descriptors_t *out,
                            arq_schema_error_t *err);
/** NULL-safe; releases everything decode made. */
void arq__descriptors_free(arq__descriptors_t *d);

/** Compile decoded types into a schema (compile.c); 0, or -1 with err filled. */
int arq__schema_compile(const arq__descriptors_t *d, arq_schema_t **out,
                        arq_schema_error_t *err);

/** True if `s` is a protobuf identifier ([A-Za-z_][A-Za-z0-9_]*). */
bool arq__identifier_ok(const char *s);

#endif
