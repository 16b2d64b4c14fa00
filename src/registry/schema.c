/*
 * schema.c — the life of a schema: load (gunzip if needed, decode, compile), look-ups by
 * name, release.
 */
#include "registry/compiled.h"
#include "registry/descriptor.h"

#include <stdlib.h>
#include <string.h>

int arq_schema_load(const uint8_t *data, size_t len, size_t max_descriptor, arq_schema_t **out,
                    arq_schema_error_t *err) {
  if (err) {
    memset(err, 0, sizeof *err);
  }
  if (!out || (!data && len))
    return arq__schema_fail(err, arq_schema_err_bad_argument, 0, "load: invalid argument");
  *out = NULL;
  if (!max_descriptor)
    max_descriptor = ARQ_SCHEMA_DEFAULT_MAX_DESCRIPTOR;

  uint8_t *plain = NULL;
  const uint8_t *bytes = data;
  size_t n = len;
  if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    if (arq_schema_gunzip(data, len, max_descriptor, &plain, &n, err))
      return -1;
    bytes = plain;
  } else if (len > max_descriptor) {
    return arq__schema_fail(err, arq_schema_err_descriptor_too_large, 0,
                            "descriptor set of %zu bytes exceeds the limit of %zu", len,
                            max_descriptor);
  }

  arq__descriptors_t d;
  int rc = arq__descriptors_decode(bytes ? bytes : (const uint8_t *)"", n, &d, err);
  if (rc == 0)
    rc = arq__schema_compile(&d, out, err);
  arq__descriptors_free(&d);
  free(plain);
  return rc;
}

void arq_schema_free(arq_schema_t *s) {
  if (!s)
    return;
  if (s->messages)
    for (size_t i = 0; i < s->n_messages; i++) {
      free(s->messages[i].fields);
      free(s->messages[i].dense);
    }
  if (s->enums)
    for (size_t i = 0; i < s->n_enums; i++)
      free(s->enums[i].values);
  free(s->messages);
  free(s->enums);
  free(s->names);
  free(s->by_name);
  free(s);
}

static int cmp_name_key(const void *key, const void *elem) {
  return strcmp(key, (*(const arq_schema_message_t *const *)elem)->name);
}

const arq_schema_message_t *arq_schema_find_message(const arq_schema_t *s, const char *name) {
  if (!s || !name)
    return NULL;
  if (*name == '.')
    name++;
  const arq_schema_message_t *const *m =
      bsearch(name, s->by_name, s->n_messages, sizeof *s->by_name, cmp_name_key);
  return m ? *m : NULL;
}

size_t arq_schema_message_count(const arq_schema_t *s) {
  return s ? s->n_messages : 0;
}

const arq_schema_message_t *arq_schema_message_at(const arq_schema_t *s, size_t i) {
  return s && i < s->n_messages ? &s->messages[i] : NULL;
}

const char *arq_schema_message_name(const arq_schema_message_t *m) {
  return m ? m->name : NULL;
}
