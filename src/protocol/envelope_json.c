/*
 * envelope_json.c — the proto3 JSON mapping of arqon.v1.Envelope (see envelope_json.h).
 *
 * The three messages are described by small field tables (JSON names, kind, offset into
 * the protobuf-c struct), so that decoding and encoding share one description and cannot
 * disagree about a name.
 */
#include "protocol/envelope_json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"

/* ---- the arena ----
 *
 * Blocks are malloc'd with a small header and bumped through. When the newest block has no
 * room, a new one of twice its size (at least what is asked) becomes the newest; a request
 * larger than a quarter of that gets a block of its own, linked behind the newest, so the
 * newest block's tail is not abandoned. Requests are rounded to ALIGN, not to a chunk. */

struct arq_envelope_block {
  struct arq_envelope_block *next;
  size_t size; /* bytes of data */
  /* data follows, at an offset that is a multiple of ALIGN */
};

/* Enough for every protobuf-c field: pointers, size_t, 64-bit integers, doubles. */
typedef union {
  void *p;
  size_t z;
  uint64_t u;
  double d;
} pb_field_align_t;

#define ALIGN (_Alignof(pb_field_align_t))
#define HEADER ((sizeof(struct arq_envelope_block) + ALIGN - 1) & ~(ALIGN - 1))
#define FIRST_BLOCK ((size_t)4096 - HEADER)

_Static_assert((ALIGN & (ALIGN - 1)) == 0, "alignment is a power of two");
_Static_assert(ARQ_ENVELOPE_ARENA_KEEP >= 2 * (size_t)4096, "the kept block holds a first block");

static char *block_data(struct arq_envelope_block *b) { return (char *)b + HEADER; }

static struct arq_envelope_block *block_new(size_t size) {
  if (size > SIZE_MAX - HEADER)
    arq_oom("envelope arena");
  struct arq_envelope_block *b = malloc(HEADER + size);
  if (!b)
    arq_oom("envelope arena");
  b->next = NULL;
  b->size = size;
  return b;
}

static void blocks_free(struct arq_envelope_block *b) {
  while (b) {
    struct arq_envelope_block *next = b->next;
    free(b);
    b = next;
  }
}

/* The heap held by the parsed-JSON arrays. The doc's fields are private to json.c, which
 * offers no accessor for them; this reads them to decide whether a reset gives them back. */
static size_t json_footprint(const arq_json_doc_t *d) {
  return d->_capvals * sizeof *d->_vals + d->_capstack * sizeof *d->_stack + d->_capstr +
         d->_capsort * sizeof *d->_sort;
}

void arq_envelope_arena_init(arq_envelope_arena_t *a, const arq_json_limits_t *limits) {
  memset(a, 0, sizeof *a);
  a->_budget = SIZE_MAX;
  arq_json_limits_t lim = {ARQ_ENVELOPE_JSON_MAX_BYTES, ARQ_ENVELOPE_JSON_MAX_DEPTH,
                           ARQ_ENVELOPE_JSON_MAX_VALUES};
  if (limits) {
    if (limits->max_bytes)
      lim.max_bytes = limits->max_bytes;
    if (limits->max_depth)
      lim.max_depth = limits->max_depth;
    if (limits->max_values && limits->max_values < lim.max_values)
      lim.max_values = limits->max_values;
  }
  arq_json_doc_init(&a->json, &lim);
}

void arq_envelope_arena_reset(arq_envelope_arena_t *a) {
  struct arq_envelope_block *b = a->_blocks;
  if (b && (b->next || b->size > ARQ_ENVELOPE_ARENA_KEEP - HEADER)) {
    /* The message did not fit in one block: replace them all by one block that would have
     * held it twice, up to the size kept, so that the steady state is a single block and no
     * malloc per message, while a rare large message gives its memory back now. */
    size_t want = a->_given < FIRST_BLOCK / 2 ? FIRST_BLOCK : 2 * a->_given;
    if (want > ARQ_ENVELOPE_ARENA_KEEP - HEADER)
      want = ARQ_ENVELOPE_ARENA_KEEP - HEADER;
    blocks_free(b);
    a->_blocks = block_new(want);
  }
  if (json_footprint(&a->json) > ARQ_ENVELOPE_ARENA_KEEP)
    arq_json_doc_free(&a->json); /* keeps the limits; the next parse grows what it needs */
  a->_used = 0;
  a->_given = 0;
  a->_budget = SIZE_MAX;
  a->_refused = 0;
}

void arq_envelope_arena_free(arq_envelope_arena_t *a) {
  blocks_free(a->_blocks);
  a->_blocks = NULL;
  a->_used = a->_given = 0;
  arq_json_doc_free(&a->json);
}

size_t arq_envelope_arena_footprint(const arq_envelope_arena_t *a) {
  size_t n = json_footprint(&a->json);
  for (const struct arq_envelope_block *b = a->_blocks; b; b = b->next)
    n += HEADER + b->size;
  return n;
}

void *arq_envelope_arena_alloc(arq_envelope_arena_t *a, size_t n) {
  if (n > SIZE_MAX / 2)
    arq_oom("envelope arena");
  n = n ? (n + ALIGN - 1) & ~(ALIGN - 1) : ALIGN;
  a->_given += n;
  struct arq_envelope_block *head = a->_blocks;
  if (head && head->size - a->_used >= n) {
    void *p = block_data(head) + a->_used;
    a->_used += n;
    return p;
  }
  size_t next = head ? 2 * head->size : FIRST_BLOCK;
  if (head && n > next / 4) {
    /* A large request gets a block of its own, behind the newest one. */
    struct arq_envelope_block *own = block_new(n);
    own->next = head->next;
    head->next = own;
    return block_data(own);
  }
  struct arq_envelope_block *b = block_new(n > next ? n : next);
  b->next = head;
  a->_blocks = b;
  a->_used = n;
  return block_data(b);
}

/* protobuf-c's allocator: the arena, within the budget of the message being unpacked. */
static void *pb_alloc(void *data, size_t size) {
  arq_envelope_arena_t *a = data;
  size_t n = size > SIZE_MAX / 2 ? SIZE_MAX : size ? (size + ALIGN - 1) & ~(ALIGN - 1) : ALIGN;
  if (n > a->_budget || a->_given > a->_budget - n) {
    a->_refused = 1;
    return NULL; /* protobuf-c gives up, and the unpack returns NULL */
  }
  return arq_envelope_arena_alloc(a, size);
}

static void pb_free(void *data, void *ptr) {}

ProtobufCAllocator arq_envelope_arena_allocator(arq_envelope_arena_t *a) {
  ProtobufCAllocator al = {.alloc = pb_alloc, .free = pb_free, .allocator_data = a};
  return al;
}

Arqon__V1__Envelope *arq_envelope_unpack(const uint8_t *data, size_t len,
                                         arq_envelope_arena_t *arena, char *err, size_t errcap) {
  if (errcap)
    err[0] = '\0';
  arq_envelope_arena_reset(arena);
  size_t budget = len > (SIZE_MAX - ARQ_ENVELOPE_DECODE_SLACK) / ARQ_ENVELOPE_DECODE_FACTOR
                      ? SIZE_MAX
                      : len * ARQ_ENVELOPE_DECODE_FACTOR + ARQ_ENVELOPE_DECODE_SLACK;
  arena->_budget = budget;
  ProtobufCAllocator al = arq_envelope_arena_allocator(arena);
  Arqon__V1__Envelope *e = arqon__v1__envelope__unpack(&al, len, data ? data : (const uint8_t *)"");
  arena->_budget = SIZE_MAX;
  if (!e) {
    if (!errcap)
      return NULL;
    if (arena->_refused)
      snprintf(err, errcap,
               "malformed envelope: decoding it needs more than %zu bytes (too many fields)",
               budget);
    else
      snprintf(err, errcap, "malformed envelope: not a valid arqon.v1.Envelope");
    return NULL;
  }
  if (e->n_headers > ARQ_ENVELOPE_MAX_HEADERS) {
    if (errcap)
      snprintf(err, errcap, "malformed envelope: %zu headers, at most %u are allowed",
               e->n_headers, ARQ_ENVELOPE_MAX_HEADERS);
    return NULL;
  }
  return e;
}

/* ---- field tables ---- */

typedef enum {
  K_STRING,
  K_BYTES,
  K_INT64,
  K_UINT64,
  K_SIGNAL_TYPE,
  K_HEADERS,
  K_CMD,
  K_EVENT,
  K_SIGNAL,
} kind_t;

typedef struct {
  const char *name; /* as in the .proto */
  size_t name_len;
  const char *json_name; /* lowerCamelCase */
  size_t json_len;
  kind_t kind;
  size_t offset;
} field_t;

#define F(st, name, json, kind)                                                           \
  {#name, sizeof #name - 1, json, sizeof json - 1, kind, offsetof(st, name)}

static const field_t envelope_fields[] = {
    F(Arqon__V1__Envelope, trace_id, "traceId", K_STRING),
    F(Arqon__V1__Envelope, tenant_id, "tenantId", K_STRING),
    F(Arqon__V1__Envelope, room_id, "roomId", K_STRING),
    F(Arqon__V1__Envelope, timestamp, "timestamp", K_INT64),
    F(Arqon__V1__Envelope, twist_id, "twistId", K_STRING),
    F(Arqon__V1__Envelope, headers, "headers", K_HEADERS),
    F(Arqon__V1__Envelope, id, "id", K_STRING),
    F(Arqon__V1__Envelope, seq, "seq", K_UINT64),
    F(Arqon__V1__Envelope, sender, "sender", K_STRING),
    F(Arqon__V1__Envelope, signature, "signature", K_BYTES),
    F(Arqon__V1__Envelope, conn_id, "connId", K_STRING),
    F(Arqon__V1__Envelope, cmd, "cmd", K_CMD),
    F(Arqon__V1__Envelope, event, "event", K_EVENT),
    F(Arqon__V1__Envelope, signal, "signal", K_SIGNAL),
};

static const field_t command_fields[] = {
    F(Arqon__V1__Command, type, "type", K_STRING),
    F(Arqon__V1__Command, data, "data", K_BYTES),
};

static const field_t event_fields[] = {
    F(Arqon__V1__Event, type, "type", K_STRING),
    F(Arqon__V1__Event, data, "data", K_BYTES),
};

static const field_t signal_fields[] = {
    F(Arqon__V1__SystemSignal, type, "type", K_SIGNAL_TYPE),
    F(Arqon__V1__SystemSignal, reason, "reason", K_STRING),
};

#define COUNT(a) (sizeof a / sizeof a[0])

static bool is_oneof(kind_t k) { return k == K_CMD || k == K_EVENT || k == K_SIGNAL; }

/* ---- decoding ---- */

typedef struct {
  arq_envelope_arena_t *arena;
  char *err;
  size_t errcap;
} decoder_t;

__attribute__((format(printf, 3, 4))) static int bad(decoder_t *d, const arq_json_value_t *at,
                                                      const char *fmt, ...) {
  if (!d->errcap)
    return ARQ_ENVELOPE_EINVAL;
  int n = snprintf(d->err, d->errcap, "byte %zu: ", arq_json_offset(at));
  if (n >= 0 && (size_t)n < d->errcap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err + n, d->errcap - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return ARQ_ENVELOPE_EINVAL;
}

/* A key from the wire, made safe and short for an error message. */
static const char *printable(const arq_json_value_t *key, char *buf, size_t cap) {
  size_t n;
  const char *s = arq_json_string(key, &n);
  size_t o = 0;
  for (size_t i = 0; i < n && o + 4 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
  }
  if (o + 4 >= cap && n > o) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

static int get_string(decoder_t *d, const field_t *f, const arq_json_value_t *v, char **out) {
  size_t n;
  const char *s = arq_json_string(v, &n);
  if (!s)
    return bad(d, v, "field \"%s\": expected a string, got %s", f->name,
               arq_json_type_name(arq_json_type(v)));
  if (memchr(s, '\0', n))
    return bad(d, v, "field \"%s\": U+0000 is not allowed in strings", f->name);
  *out = (char *)s; /* owned by the arena's document, which outlives the message */
  return 0;
}

static int get_bytes(decoder_t *d, const field_t *f, const arq_json_value_t *v,
                     ProtobufCBinaryData *out) {
  size_t n;
  const char *s = arq_json_string(v, &n);
  if (!s)
    return bad(d, v, "field \"%s\": expected a base64 string, got %s", f->name,
               arq_json_type_name(arq_json_type(v)));
  uint8_t *buf = arq_envelope_arena_alloc(d->arena, ARQ_BASE64_DECODED_CAP(n));
  long got = arq_base64_decode(s, n, buf);
  if (got < 0)
    return bad(d, v, "field \"%s\": invalid base64", f->name);
  out->data = got ? buf : NULL;
  out->len = (size_t)got;
  return 0;
}

/* int64/uint64: a JSON number, or a string holding one; integral and in range. */
static int get_integer(decoder_t *d, const field_t *f, const arq_json_value_t *v, bool is_signed,
                       int64_t *i64, uint64_t *u64) {
  arq_json_number_t num;
  size_t n;
  const char *text = arq_json_string(v, &n);
  if (text) {
    if (arq_json_number_parse(text, n, &num))
      return bad(d, v, "field \"%s\": not a number", f->name);
  } else if (arq_json_number_of(v, &num)) {
    return bad(d, v, "field \"%s\": expected an integer, got %s", f->name,
               arq_json_type_name(arq_json_type(v)));
  }
  if (!num.integral)
    return bad(d, v, "field \"%s\": %s", f->name,
               num.d >= 9.2e18 || num.d <= -9.2e18 ? "out of range" : "not an integer");
  if (is_signed ? arq_json_number_int64(&num, i64) : arq_json_number_uint64(&num, u64))
    return bad(d, v, "field \"%s\": out of range for %s", f->name, is_signed ? "int64" : "uint64");
  return 0;
}

static int get_signal_type(decoder_t *d, const field_t *f, const arq_json_value_t *v,
                           Arqon__V1__SystemSignal__Type *out) {
  if (arq_json_type(v) == ARQ_JSON_STRING) {
    size_t n;
    const char *s = arq_json_string(v, &n);
    const ProtobufCEnumValue *ev =
        memchr(s, '\0', n) ? NULL
                           : protobuf_c_enum_descriptor_get_value_by_name(
                                 &arqon__v1__system_signal__type__descriptor, s);
    if (!ev) {
      char name[48];
      return bad(d, v, "field \"%s\": unknown enum name \"%s\"", f->name,
                 printable(v, name, sizeof name));
    }
    *out = (Arqon__V1__SystemSignal__Type)ev->value;
    return 0;
  }
  int64_t i;
  if (arq_json_type(v) != ARQ_JSON_NUMBER)
    return bad(d, v, "field \"%s\": expected an enum name or number, got %s", f->name,
               arq_json_type_name(arq_json_type(v)));
  if (arq_json_int64(v, &i) || i < INT32_MIN || i > INT32_MAX)
    return bad(d, v, "field \"%s\": enum number must be an int32", f->name);
  /* proto3 enums are open: numbers without a name are kept, as the binary format does */
  *out = (Arqon__V1__SystemSignal__Type)i;
  return 0;
}

static int get_headers(decoder_t *d, const field_t *f, const arq_json_value_t *v,
                       Arqon__V1__Envelope *e) {
  if (arq_json_type(v) != ARQ_JSON_OBJECT)
    return bad(d, v, "field \"%s\": expected an object of strings, got %s", f->name,
               arq_json_type_name(arq_json_type(v)));
  size_t n = arq_json_len(v);
  if (!n)
    return 0;
  if (n > ARQ_ENVELOPE_MAX_HEADERS)
    return bad(d, v, "field \"headers\": %zu entries, at most %u are allowed", n,
               ARQ_ENVELOPE_MAX_HEADERS);
  Arqon__V1__Envelope__HeadersEntry **list =
      arq_envelope_arena_alloc(d->arena, n * sizeof *list);
  Arqon__V1__Envelope__HeadersEntry *entries =
      arq_envelope_arena_alloc(d->arena, n * sizeof *entries);
  for (size_t i = 0; i < n; i++) {
    const arq_json_value_t *k = arq_json_object_key(v, i), *val = arq_json_object_value(v, i);
    size_t kn, vn;
    const char *ks = arq_json_string(k, &kn);
    const char *vs = arq_json_string(val, &vn);
    char name[48];
    if (!vs)
      return bad(d, val, "field \"headers\": value of \"%s\" must be a string, got %s",
                 printable(k, name, sizeof name), arq_json_type_name(arq_json_type(val)));
    if (memchr(ks, '\0', kn) || memchr(vs, '\0', vn))
      return bad(d, memchr(ks, '\0', kn) ? k : val,
                 "field \"headers\": U+0000 is not allowed in strings");
    arqon__v1__envelope__headers_entry__init(&entries[i]);
    entries[i].key = (char *)ks;
    entries[i].value = (char *)vs;
    list[i] = &entries[i];
  }
  e->headers = list;
  e->n_headers = n;
  return 0;
}

static int decode_message(decoder_t *d, const arq_json_value_t *obj, const field_t *fields,
                          size_t nfields, void *msg, const char *what);

static int get_payload(decoder_t *d, const field_t *f, const arq_json_value_t *v,
                       Arqon__V1__Envelope *e) {
  switch (f->kind) {
  case K_CMD: {
    Arqon__V1__Command *c = arq_envelope_arena_alloc(d->arena, sizeof *c);
    arqon__v1__command__init(c);
    e->payload_case = ARQON__V1__ENVELOPE__PAYLOAD_CMD;
    e->cmd = c;
    return decode_message(d, v, command_fields, COUNT(command_fields), c, "cmd");
  }
  case K_EVENT: {
    Arqon__V1__Event *ev = arq_envelope_arena_alloc(d->arena, sizeof *ev);
    arqon__v1__event__init(ev);
    e->payload_case = ARQON__V1__ENVELOPE__PAYLOAD_EVENT;
    e->event = ev;
    return decode_message(d, v, event_fields, COUNT(event_fields), ev, "event");
  }
  default: {
    Arqon__V1__SystemSignal *s = arq_envelope_arena_alloc(d->arena, sizeof *s);
    arqon__v1__system_signal__init(s);
    e->payload_case = ARQON__V1__ENVELOPE__PAYLOAD_SIGNAL;
    e->signal = s;
    return decode_message(d, v, signal_fields, COUNT(signal_fields), s, "signal");
  }
  }
}

static int decode_message(decoder_t *d, const arq_json_value_t *obj, const field_t *fields,
                          size_t nfields, void *msg, const char *what) {
  if (arq_json_type(obj) != ARQ_JSON_OBJECT)
    return bad(d, obj, "%s: expected an object, got %s", what,
               arq_json_type_name(arq_json_type(obj)));
  const arq_json_value_t *seen[16] = {0};
  const arq_json_value_t *oneof = NULL;
  char name[48];
  for (size_t m = 0; m < arq_json_len(obj); m++) {
    const arq_json_value_t *key = arq_json_object_key(obj, m);
    const arq_json_value_t *v = arq_json_object_value(obj, m);
    size_t kn;
    const char *ks = arq_json_string(key, &kn);
    const field_t *f = NULL;
    size_t fi = 0;
    for (; fi < nfields; fi++) {
      if ((fields[fi].name_len == kn && !memcmp(fields[fi].name, ks, kn)) ||
          (fields[fi].json_len == kn && !memcmp(fields[fi].json_name, ks, kn))) {
        f = &fields[fi];
        break;
      }
    }
    if (!f)
      return bad(d, key, "%s: unknown field \"%s\"", what, printable(key, name, sizeof name));
    if (seen[fi])
      return bad(d, key, "%s: field \"%s\" given twice", what, f->name);
    seen[fi] = key;
    if (is_oneof(f->kind) && arq_json_type(v) != ARQ_JSON_NULL) {
      if (oneof)
        return bad(d, key, "%s: more than one of cmd, event, signal is set", what);
      oneof = key;
    }
    if (arq_json_type(v) == ARQ_JSON_NULL)
      continue; /* null means the default value */
    char *base = msg;
    void *at = base + f->offset;
    int rc = 0;
    switch (f->kind) {
    case K_STRING: rc = get_string(d, f, v, at); break;
    case K_BYTES: rc = get_bytes(d, f, v, at); break;
    case K_INT64: rc = get_integer(d, f, v, true, at, NULL); break;
    case K_UINT64: rc = get_integer(d, f, v, false, NULL, at); break;
    case K_SIGNAL_TYPE: rc = get_signal_type(d, f, v, at); break;
    case K_HEADERS: rc = get_headers(d, f, v, msg); break;
    case K_CMD:
    case K_EVENT:
    case K_SIGNAL: rc = get_payload(d, f, v, msg); break;
    }
    if (rc)
      return rc;
  }
  return 0;
}

int arq_envelope_from_json(const char *json, size_t len, Arqon__V1__Envelope *out,
                           arq_envelope_arena_t *arena, char *err, size_t errcap) {
  arqon__v1__envelope__init(out);
  arq_envelope_arena_reset(arena);
  if (errcap)
    err[0] = '\0';
  arq_json_error_t jerr;
  const arq_json_value_t *root = arq_json_parse(&arena->json, json, len, &jerr);
  if (!root) {
    if (errcap)
      arq_json_error_format(&jerr, err, errcap);
    return jerr.code == ARQ_JSON_E_TOO_LARGE ? ARQ_ENVELOPE_ETOOBIG : ARQ_ENVELOPE_EINVAL;
  }
  decoder_t d = {.arena = arena, .err = err, .errcap = errcap};
  int rc = decode_message(&d, root, envelope_fields, COUNT(envelope_fields), out, "envelope");
  if (rc)
    arqon__v1__envelope__init(out);
  return rc;
}

/* ---- encoding ---- */

static void put_key(arq_json_writer_t *w, const field_t *f) {
  arq_json_w_key(w, f->json_name, f->json_len);
}

static void put_bytes(arq_json_writer_t *w, const field_t *f, const ProtobufCBinaryData *b) {
  if (!b->len || !b->data)
    return;
  put_key(w, f);
  arq_json_w_raw(w, "\"", 1);
  arq_base64_append(w->out, b->data, b->len);
  arq_buf_putc(w->out, '"');
}

/* 64-bit integers are strings in proto3 JSON: JavaScript numbers stop being exact at 2^53. */
static void put_quoted(arq_json_writer_t *w, const field_t *f, uint64_t magnitude, bool neg) {
  put_key(w, f);
  arq_json_w_raw(w, "\"", 1);
  if (neg)
    arq_buf_putc(w->out, '-');
  arq_json_write_uint64(w->out, magnitude);
  arq_buf_putc(w->out, '"');
}

static const char *entry_key(const Arqon__V1__Envelope *e, size_t i) {
  const Arqon__V1__Envelope__HeadersEntry *h = e->headers[i];
  return h && h->key ? h->key : "";
}

/* Keys are compared as the JSON writer will write them: every ill-formed UTF-8 byte becomes
 * U+FFFD there, so two keys that differ only in such bytes (or in a byte against a real
 * U+FFFD) are the same JSON key. A cursor yields the written bytes one at a time. */
typedef struct {
  const unsigned char *p, *end;
  const unsigned char *unit;
  size_t unit_len, pos;
} key_cursor_t;

static int next_written_byte(key_cursor_t *c) {
  static const unsigned char replacement[] = {0xef, 0xbf, 0xbd};
  if (c->pos == c->unit_len) {
    if (c->p >= c->end)
      return -1;
    size_t n = *c->p < 0x80 ? 1 : arq_utf8_seq_len(c->p, (size_t)(c->end - c->p));
    c->unit = n ? c->p : replacement;
    c->unit_len = n ? n : sizeof replacement;
    c->p += n ? n : 1;
    c->pos = 0;
  }
  return c->unit[c->pos++];
}

static int json_key_cmp(const char *a, const char *b) {
  key_cursor_t x = {(const unsigned char *)a, (const unsigned char *)a + strlen(a), NULL, 0, 0};
  key_cursor_t y = {(const unsigned char *)b, (const unsigned char *)b + strlen(b), NULL, 0, 0};
  for (;;) {
    int cx = next_written_byte(&x), cy = next_written_byte(&y);
    if (cx != cy)
      return cx < cy ? -1 : 1;
    if (cx < 0)
      return 0;
  }
}

static int entry_cmp(const void *a, const void *b, void *ctx) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = json_key_cmp(entry_key(ctx, x), entry_key(ctx, y));
  return c ? c : (x < y ? -1 : x > y);
}

#define FEW_HEADERS 16

/* Map keys must be unique in JSON; in the binary format the last entry for a key wins,
 * so earlier duplicates are skipped. The usual handful of headers is checked pairwise
 * without allocating; a long list is sorted, so a hostile one costs n log n, not n². */
static void put_headers(arq_json_writer_t *w, const field_t *f, const Arqon__V1__Envelope *e) {
  size_t n = e->n_headers;
  if (!n || !e->headers)
    return;
  bool few[FEW_HEADERS] = {false};
  bool *skip = few;
  if (n <= FEW_HEADERS) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n && !skip[i]; j++)
        skip[i] = !json_key_cmp(entry_key(e, i), entry_key(e, j));
  } else {
    size_t *order = malloc(n * sizeof *order);
    skip = calloc(n, sizeof *skip);
    if (!order || !skip)
      arq_oom("envelope headers");
    for (size_t i = 0; i < n; i++)
      order[i] = i;
    qsort_r(order, n, sizeof *order, entry_cmp, (void *)e);
    for (size_t i = 0; i + 1 < n; i++)
      if (!json_key_cmp(entry_key(e, order[i]), entry_key(e, order[i + 1])))
        skip[order[i]] = true;
    free(order);
  }
  put_key(w, f);
  arq_json_w_object_begin(w);
  for (size_t i = 0; i < n; i++) {
    const Arqon__V1__Envelope__HeadersEntry *h = e->headers[i];
    if (skip[i] || !h)
      continue;
    const char *k = h->key ? h->key : "", *v = h->value ? h->value : "";
    arq_json_w_key(w, k, strlen(k));
    arq_json_w_string(w, v, strlen(v));
  }
  arq_json_w_object_end(w);
  if (skip != few)
    free(skip);
}

static void put_signal_type(arq_json_writer_t *w, const field_t *f,
                            Arqon__V1__SystemSignal__Type type) {
  /* the enum's C type may be unsigned; the wire value is an int32 */
  int32_t v = (int32_t)type;
  if (!v)
    return;
  put_key(w, f);
  const ProtobufCEnumValue *ev =
      protobuf_c_enum_descriptor_get_value(&arqon__v1__system_signal__type__descriptor, v);
  if (ev)
    arq_json_w_string(w, ev->name, strlen(ev->name));
  else
    arq_json_w_int64(w, v); /* open enum: a value without a name goes out as its number */
}

static void encode_message(arq_json_writer_t *w, const void *msg, const field_t *fields,
                           size_t nfields);

/* A oneof member is written when selected, even empty: {"cmd":{}} differs from {}. */
static void put_payload(arq_json_writer_t *w, const field_t *f, const Arqon__V1__Envelope *e) {
  static const Arqon__V1__Command no_cmd = ARQON__V1__COMMAND__INIT;
  static const Arqon__V1__Event no_event = ARQON__V1__EVENT__INIT;
  static const Arqon__V1__SystemSignal no_signal = ARQON__V1__SYSTEM_SIGNAL__INIT;
  if (f->kind == K_CMD && e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_CMD) {
    put_key(w, f);
    encode_message(w, e->cmd ? e->cmd : &no_cmd, command_fields, COUNT(command_fields));
  } else if (f->kind == K_EVENT && e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_EVENT) {
    put_key(w, f);
    encode_message(w, e->event ? e->event : &no_event, event_fields, COUNT(event_fields));
  } else if (f->kind == K_SIGNAL && e->payload_case == ARQON__V1__ENVELOPE__PAYLOAD_SIGNAL) {
    put_key(w, f);
    encode_message(w, e->signal ? e->signal : &no_signal, signal_fields, COUNT(signal_fields));
  }
}

/* Fields go out in table order, which is field-number order, with defaults omitted. */
static void encode_message(arq_json_writer_t *w, const void *msg, const field_t *fields,
                           size_t nfields) {
  const char *base = msg;
  arq_json_w_object_begin(w);
  for (size_t i = 0; i < nfields; i++) {
    const field_t *f = &fields[i];
    const void *at = base + f->offset;
    switch (f->kind) {
    case K_STRING: {
      const char *str = *(const char *const *)at;
      if (str && *str) {
        put_key(w, f);
        arq_json_w_string(w, str, strlen(str));
      }
      break;
    }
    case K_BYTES: put_bytes(w, f, at); break;
    case K_INT64: {
      int64_t v = *(const int64_t *)at;
      if (v)
        put_quoted(w, f, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
      break;
    }
    case K_UINT64: {
      uint64_t v = *(const uint64_t *)at;
      if (v)
        put_quoted(w, f, v, false);
      break;
    }
    case K_SIGNAL_TYPE: put_signal_type(w, f, *(const Arqon__V1__SystemSignal__Type *)at); break;
    case K_HEADERS: put_headers(w, f, msg); break;
    case K_CMD:
    case K_EVENT:
    case K_SIGNAL: put_payload(w, f, msg); break;
    }
  }
  arq_json_w_object_end(w);
}

size_t arq_envelope_pack(const Arqon__V1__Envelope *e, arq_buf_t *out) {
  arq_buf_reset(out);
  arq_buf_reserve(out, arqon__v1__envelope__get_packed_size(e));
  out->len = arqon__v1__envelope__pack(e, (uint8_t *)out->data);
  return out->len;
}

void arq_envelope_to_json(const Arqon__V1__Envelope *e, arq_buf_t *out) {
  arq_json_writer_t w;
  arq_json_writer_init(&w, out);
  encode_message(&w, e, envelope_fields, COUNT(envelope_fields));
}
