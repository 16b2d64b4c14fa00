/*
 * gzip.c — bounded inflation of a gzip stream.
 *
 * DESIGN
 *   A schema arrives from a KV store that anyone with write access can fill, so the
 *   decompressed size is never trusted: neither the ISIZE trailer nor the ratio. The
 *   output buffer starts small, doubles only while the stream keeps producing, and can
 *   never grow past the caller's limit: a bomb fails after at most `limit` bytes of work
 *   and memory, however large it would expand.
 */
#include "registry/compiled.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A first guess that avoids most re-allocations for ordinary descriptor sets. */
static size_t initial_capacity(size_t in_len, size_t limit) {
  size_t guess = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
  if (guess < 4096)
    guess = 4096;
  return guess < limit ? guess : limit;
}

int arq_schema_gunzip(const uint8_t *data, size_t len, size_t limit, uint8_t **out,
                      size_t *out_len, arq_schema_error_t *err) {
  if (!data || !out || !out_len)
    return arq__schema_fail(err, arq_schema_err_bad_argument, 0, "gunzip: invalid argument");
  *out = NULL;
  *out_len = 0;
  z_stream zs = {0};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return arq__schema_fail(err, arq_schema_err_out_of_memory, 0, "gunzip: out of memory");

  int rc = -1;
  size_t cap = initial_capacity(len, limit);
  /* One spare byte beyond the limit lets the stream prove it is too large. */
  uint8_t *buf = malloc(cap + 1);
  size_t have = 0, consumed = 0;
  if (!buf) {
    arq__schema_fail(err, arq_schema_err_out_of_memory, 0, "gunzip: out of memory");
    goto done;
  }
  for (;;) {
    size_t in_chunk = len - consumed > UINT_MAX ? UINT_MAX : len - consumed;
    size_t room = cap + 1 - have;
    size_t out_chunk = room > UINT_MAX ? UINT_MAX : room;
    zs.next_in = (Bytef *)(uintptr_t)(data + consumed);
    zs.avail_in = (uInt)in_chunk;
    zs.next_out = buf + have;
    zs.avail_out = (uInt)out_chunk;
    int z = inflate(&zs, Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    have += out_chunk - zs.avail_out;
    if (have > limit) {
      arq__schema_fail(err, arq_schema_err_gzip_too_large, 0,
                       "decompressed size exceeds the limit of %zu bytes", limit);
      goto done;
    }
    if (z == Z_STREAM_END) {
      if (consumed != len) {
        arq__schema_fail(err, arq_schema_err_gzip_corrupt, consumed,
                         "corrupt gzip data: %zu bytes after the end of the stream",
                         len - consumed);
        goto done;
      }
      break;
    }
    if (z == Z_BUF_ERROR && consumed == len && zs.avail_out != 0) {
      arq__schema_fail(err, arq_schema_err_gzip_corrupt, consumed,
                       "corrupt gzip data: truncated stream");
      goto done;
    }
    if (z != Z_OK && z != Z_BUF_ERROR) {
      arq__schema_fail(err, arq_schema_err_gzip_corrupt, consumed, "corrupt gzip data: %s",
                       zs.msg ? zs.msg : "inflate failed");
      goto done;
    }
    if (have == cap + 1 || zs.avail_out == 0) {
      /* Full: grow, but never past limit (+1 spare byte). */
      size_t next = cap > limit / 2 ? limit : cap * 2;
      if (next <= cap) {
        /* cap == limit already and the spare byte was used: too large. */
        arq__schema_fail(err, arq_schema_err_gzip_too_large, 0,
                         "decompressed size exceeds the limit of %zu bytes", limit);
        goto done;
      }
      uint8_t *grown = realloc(buf, next + 1);
      if (!grown) {
        arq__schema_fail(err, arq_schema_err_out_of_memory, 0, "gunzip: out of memory");
        goto done;
      }
      buf = grown;
      cap = next;
    } else if (consumed == len && z == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      /* inflate made what progress it could and wants more input that does not exist. */
      arq__schema_fail(err, arq_schema_err_gzip_corrupt, consumed,
                       "corrupt gzip data: truncated stream");
      goto done;
    }
  }
  *out = buf;
  *out_len = have;
  buf = NULL;
  rc = 0;
done:
  free(buf);
  inflateEnd(&zs);
  return rc;
}

int arq_schema_gzip(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  *out = NULL;
  *out_len = 0;
  if (len > UINT32_MAX || deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  uLong bound = deflateBound(&zs, (uLong)len);
  uint8_t *buf = malloc(bound);
  if (!buf) {
    deflateEnd(&zs);
    return -1;
  }
  zs.next_in = (Bytef *)(uintptr_t)data;
  zs.avail_in = (uInt)len;
  zs.next_out = buf;
  zs.avail_out = (uInt)bound;
  int z = deflate(&zs, Z_FINISH);
  size_t produced = (size_t)zs.total_out;
  deflateEnd(&zs);
  if (z != Z_STREAM_END) {
    free(buf);
    return -1;
  }
  *out = buf;
  *out_len = produced;
  return 0;
}
