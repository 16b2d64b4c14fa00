/*
 * ws_deflate.c — permessage-deflate (RFC 7692): the offer we accept, and the per-thread
 * inflater and deflater (contract and design in ws.h).
 *
 * Both directions run without context takeover, so each message is a raw deflate stream of
 * its own: the streams are reset per message and nothing outlives a call but the zlib state
 * itself and the inflater's output buffer, both per thread, never per connection.
 */
#include "net/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#define WINDOW_BITS ARQ_WS_PMD_WINDOW_BITS
#define DEFLATE_LEVEL 6
#define DEFLATE_MEM_LEVEL 8
#define INFLATE_FIRST_CAP (16 * 1024)

/* ---------------------------------------------------------------- negotiation */

static bool is_tchar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

typedef struct {
  const char *p, *end;
} cursor_t;

static void skip_ows(cursor_t *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

/* A token at the cursor: its bounds, or false when there is none. */
static bool token(cursor_t *c, const char **s, size_t *n) {
  const char *start = c->p;
  while (c->p < c->end && is_tchar(*c->p))
    c->p++;
  *s = start;
  *n = (size_t)(c->p - start);
  return *n > 0;
}

/* A token or a quoted-string (RFC 7692 4: its content must be a token; no escapes). */
static bool value(cursor_t *c, const char **s, size_t *n) {
  if (c->p < c->end && *c->p == '"') {
    c->p++;
    if (!token(c, s, n) || c->p >= c->end || *c->p != '"')
      return false;
    c->p++;
    return true;
  }
  return token(c, s, n);
}

static bool is(const char *s, size_t n, const char *lit) {
  return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* 8..15 written plainly ("9", "10"; no sign, no leading zero). */
static int window_bits(const char *s, size_t n) {
  if (n == 1 && s[0] >= '8' && s[0] <= '9')
    return s[0] - '0';
  if (n == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5')
    return 10 + s[1] - '0';
  return -1;
}

typedef struct {
  bool ok; /* an offer we accept */
  bool server_nct, client_nct, server_bits_given, client_bits_given;
  int server_bits;
} offer_t;

static void offer_param(offer_t *o, const char *name, size_t nlen, const char *val, size_t vlen,
                        bool has_value) {
  if (is(name, nlen, "server_no_context_takeover") && !has_value && !o->server_nct) {
    o->server_nct = true;
  } else if (is(name, nlen, "client_no_context_takeover") && !has_value && !o->client_nct) {
    o->client_nct = true;
  } else if (is(name, nlen, "server_max_window_bits") && has_value && !o->server_bits_given &&
             (o->server_bits = window_bits(val, vlen)) > 0) {
    o->server_bits_given = true;
  } else if (is(name, nlen, "client_max_window_bits") && !o->client_bits_given &&
             (!has_value || window_bits(val, vlen) > 0)) {
    o->client_bits_given = true; /* we inflate with the largest window: any value does */
  } else {
    o->ok = false; /* unknown, repeated or malformed: decline this offer */
  }
}

/* Parses one header value; returns true (and fills *best) at the first acceptable offer. */
static bool scan(const char *v, size_t len, offer_t *best) {
  cursor_t c = {v, v + len};
  for (;;) {
    skip_ows(&c);
    if (c.p >= c.end)
      return false;
    if (*c.p == ',') { /* empty list elements are allowed */
      c.p++;
      continue;
    }
    const char *name;
    size_t nlen;
    if (!token(&c, &name, &nlen))
      return false; /* malformed: nothing after this point is trusted */
    offer_t o = {.ok = is(name, nlen, "permessage-deflate")};
    for (;;) {
      skip_ows(&c);
      if (c.p >= c.end || *c.p == ',')
        break;
      if (*c.p != ';')
        return false;
      c.p++;
      skip_ows(&c);
      const char *pn, *pv = NULL;
      size_t pnlen, pvlen = 0;
      if (!token(&c, &pn, &pnlen))
        return false;
      skip_ows(&c);
      bool has_value = c.p < c.end && *c.p == '=';
      if (has_value) {
        c.p++;
        skip_ows(&c);
        if (!value(&c, &pv, &pvlen))
          return false;
      }
      if (o.ok)
        offer_param(&o, pn, pnlen, pv, pvlen, has_value);
    }
    if (o.ok) {
      *best = o;
      return true;
    }
  }
}

void arq_ws_pmd_negotiate(const arq_http_request_t *r, arq_ws_pmd_t *out) {
  memset(out, 0, sizeof *out);
  out->server_window_bits = WINDOW_BITS;
  static const char name[] = "Sec-WebSocket-Extensions";
  offer_t o;
  for (size_t i = 0; i < r->nheaders; i++) {
    const arq_http_header_t *h = &r->headers[i];
    if (h->name_len != sizeof name - 1 || strncasecmp(h->name, name, sizeof name - 1) != 0)
      continue;
    if (!scan(h->value, h->value_len, &o))
      continue;
    out->accepted = true;
    int n = snprintf(out->response, sizeof out->response,
                     "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover");
    if (o.server_bits_given) { /* accepted by echoing it (RFC 7692 7.1.2.1) */
      out->server_window_bits = (uint8_t)o.server_bits;
      n += snprintf(out->response + n, sizeof out->response - (size_t)n,
                    "; server_max_window_bits=%d", o.server_bits);
    }
    snprintf(out->response + n, sizeof out->response - (size_t)n, "\r\n");
    return;
  }
}

/* ---------------------------------------------------------------- inflate */

struct arq_ws_inflater {
  z_stream zs;
  uint8_t *buf;
  size_t cap;
  size_t peak; /* the most output of one message (failed ones too) since the last trim */
};

arq_ws_inflater_t *arq_ws_inflater_new(void) {
  arq_ws_inflater_t *z = calloc(1, sizeof *z);
  if (!z)
    arq_oom("inflater");
  if (inflateInit2(&z->zs, -WINDOW_BITS) != Z_OK)
    arq_oom("inflater");
  return z;
}

void arq_ws_inflater_free(arq_ws_inflater_t *z) {
  if (!z)
    return;
  inflateEnd(&z->zs);
  free(z->buf);
  free(z);
}

bool arq_ws_inflater_trim(arq_ws_inflater_t *z, size_t keep) {
  bool recent = z->peak > keep;
  z->peak = 0;
  if (z->cap <= keep)
    return true;
  if (recent)
    return false; /* still in use: a stream of large messages does not reallocate each time */
  free(z->buf);
  z->buf = NULL;
  z->cap = 0;
  return true;
}

size_t arq_ws_inflater_capacity(const arq_ws_inflater_t *z) { return z->cap; }

/* Grows the output buffer toward max (never past it). */
static void grow(arq_ws_inflater_t *z, size_t max) {
  size_t cap = z->cap ? z->cap * 2 : INFLATE_FIRST_CAP;
  if (cap > max)
    cap = max;
  uint8_t *p = realloc(z->buf, cap ? cap : 1);
  if (!p)
    arq_oom("inflated message");
  z->buf = p;
  z->cap = cap;
}

const char *arq_ws_inflate(arq_ws_inflater_t *z, const uint8_t *in, size_t len, size_t max,
                           const uint8_t **out, size_t *out_len) {
  static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
  z_stream *zs = &z->zs;
  inflateReset(zs);
  size_t have = 0;
  uint8_t probe;
  const uint8_t *parts[2] = {in, tail};
  size_t lens[2] = {len, sizeof tail};
  for (int part = 0; part < 2; part++) {
    zs->next_in = (Bytef *)(uintptr_t)parts[part];
    size_t left = lens[part];
    for (;;) {
      uInt chunk = left > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)left;
      zs->avail_in = chunk;
      bool probing = false;
      if (have == z->cap && z->cap < max)
        grow(z, max);
      /* the buffer may be larger than this message's bound (grown by an earlier one) */
      size_t room = (z->cap < max ? z->cap : max) - have;
      if (room > 0) {
        zs->next_out = z->buf + have;
        zs->avail_out = (uInt)(room > UINT32_MAX / 2 ? UINT32_MAX / 2 : room);
      } else { /* at the bound: one more byte of output would cross it */
        zs->next_out = &probe;
        zs->avail_out = 1;
        probing = true;
      }
      uInt out_before = zs->avail_out;
      int rc = inflate(zs, Z_SYNC_FLUSH);
      left -= chunk - zs->avail_in;
      if (probing && zs->avail_out == 0)
        return arq_ws_err_inflate_too_big;
      if (!probing)
        have += out_before - zs->avail_out;
      if (have > z->peak)
        z->peak = have;
      if (rc == Z_STREAM_END)
        goto done; /* a final block: whatever follows (the tail) is not data */
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return arq_ws_err_inflate_corrupt;
      if (left == 0 && zs->avail_out > 0)
        break; /* input used up and all output flushed */
      if (rc == Z_BUF_ERROR)
        break; /* no progress possible (zlib says so only when nothing is left to give) */
    }
  }
done:
  *out = z->buf ? z->buf : (const uint8_t *)"";
  *out_len = have;
  return NULL;
}

/* ---------------------------------------------------------------- deflate */

struct arq_ws_deflater {
  z_stream zs;
};

arq_ws_deflater_t *arq_ws_deflater_new(void) {
  arq_ws_deflater_t *d = calloc(1, sizeof *d);
  if (!d)
    arq_oom("deflater");
  if (deflateInit2(&d->zs, DEFLATE_LEVEL, Z_DEFLATED, -WINDOW_BITS, DEFLATE_MEM_LEVEL,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    arq_oom("deflater");
  return d;
}

void arq_ws_deflater_free(arq_ws_deflater_t *d) {
  if (!d)
    return;
  deflateEnd(&d->zs);
  free(d);
}

void arq_ws_deflate(arq_ws_deflater_t *d, const uint8_t *in, size_t len, arq_buf_t *out) {
  z_stream *zs = &d->zs;
  deflateReset(zs);
  arq_buf_reset(out);
  zs->next_in = (Bytef *)(uintptr_t)in;
  size_t left = len;
  for (;;) {
    uInt chunk = left > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)left;
    zs->avail_in = chunk;
    size_t room = (size_t)deflateBound(zs, chunk) + 16;
    arq_buf_reserve(out, room);
    zs->next_out = (Bytef *)out->data + out->len;
    zs->avail_out = (uInt)room;
    deflate(zs, left == chunk ? Z_SYNC_FLUSH : Z_NO_FLUSH);
    out->len += room - zs->avail_out;
    left -= chunk - zs->avail_in;
    if (left == 0 && zs->avail_out > 0)
      break;
  }
  /* Z_SYNC_FLUSH ends with an empty stored block, 00 00 FF FF: the receiver adds it back. */
  if (out->len >= 4 && !memcmp(out->data + out->len - 4, "\x00\x00\xff\xff", 4))
    out->len -= 4;
}
