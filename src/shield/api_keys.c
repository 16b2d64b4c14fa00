#include "shield/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"

#define DIGEST_LEN 32

typedef struct {
  unsigned char digest[DIGEST_LEN];
  char tenant[ARQ_ID_MAX_LEN + 1];
} entry_t;

struct arq_api_keys {
  entry_t *entries;
  size_t len, cap;
};

static void digest_of(const char *key, size_t len, unsigned char out[DIGEST_LEN]) {
  unsigned int n = 0;
  if (!EVP_Digest(key, len, out, &n, EVP_sha256(), NULL) || n != DIGEST_LEN)
    arq_oom("SHA-256"); /* only fails without memory */
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The next whitespace-separated field of [*p, end), or false at the end or a comment. */
static bool field(const char **p, const char *end, const char **start, size_t *len) {
  while (*p < end && is_space(**p))
    (*p)++;
  if (*p == end || **p == '#')
    return false;
  *start = *p;
  while (*p < end && !is_space(**p))
    (*p)++;
  *len = (size_t)(*p - *start);
  return true;
}

static arq_api_keys_t *fail(arq_api_keys_t *k, char *err, size_t errcap, const char *path, size_t line,
                            const char *problem) {
  snprintf(err, errcap, "%s:%zu: %s", path, line, problem);
  arq_api_keys_free(k);
  return NULL;
}

arq_api_keys_t *arq_api_keys_parse(const char *path, const char *data, size_t len, char *err,
                                   size_t errcap) {
  arq_api_keys_t *k = calloc(1, sizeof *k);
  if (!k)
    arq_oom("api keys");
  size_t line = 0;
  for (const char *p = data, *end = data + len; p < end;) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    line++;
    const char *key, *tenant, *extra;
    size_t key_len, tenant_len, extra_len;
    const char *q = p;
    p = eol + 1;
    if (!field(&q, eol, &key, &key_len))
      continue; /* blank or comment */
    if (memchr(key, '\0', key_len))
      return fail(k, err, errcap, path, line, "a NUL byte in a key");
    if (!field(&q, eol, &tenant, &tenant_len))
      return fail(k, err, errcap, path, line, "expected `<key> <tenant>` or `<key> *`");
    if (field(&q, eol, &extra, &extra_len))
      return fail(k, err, errcap, path, line, "more than two fields (`<key> <tenant>`)");
    if (key_len < ARQ_API_KEY_MIN_LEN)
      return fail(k, err, errcap, path, line, "key shorter than 16 characters");
    if (key_len > ARQ_API_KEY_MAX_LEN)
      return fail(k, err, errcap, path, line, "key longer than 256 characters");
    bool every = tenant_len == 1 && tenant[0] == '*';
    if (!every && !arq_id_valid(tenant, tenant_len))
      return fail(k, err, errcap, path, line, "tenant is neither a valid id nor *");
    if (k->len == ARQ_API_KEYS_MAX)
      return fail(k, err, errcap, path, line, "more than 10000 keys");
    entry_t e;
    digest_of(key, key_len, e.digest);
    memcpy(e.tenant, tenant, tenant_len);
    e.tenant[tenant_len] = '\0';
    for (size_t i = 0; i < k->len; i++)
      if (!memcmp(k->entries[i].digest, e.digest, DIGEST_LEN))
        return fail(k, err, errcap, path, line, "key listed twice");
    if (k->len == k->cap) {
      k->cap = k->cap ? 2 * k->cap : 8;
      if (!(k->entries = realloc(k->entries, k->cap * sizeof *k->entries)))
        arq_oom("api keys");
    }
    k->entries[k->len++] = e;
    OPENSSL_cleanse(&e, sizeof e);
  }
  return k;
}

arq_api_keys_t *arq_api_keys_load(const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errcap, "%s: cannot read", path);
    return NULL;
  }
  /* A keys file is small; refuse one that is not, rather than read it whole. */
  enum { MAX_FILE = ARQ_API_KEYS_MAX * (ARQ_API_KEY_MAX_LEN + ARQ_ID_MAX_LEN + 8) };
  char *data = malloc(MAX_FILE + 1);
  if (!data)
    arq_oom("api keys");
  size_t len = fread(data, 1, MAX_FILE + 1, f);
  bool failed = ferror(f);
  fclose(f);
  arq_api_keys_t *k = NULL;
  if (failed)
    snprintf(err, errcap, "%s: cannot read", path);
  else if (len > MAX_FILE)
    snprintf(err, errcap, "%s: larger than any keys file of 10000 keys", path);
  else
    k = arq_api_keys_parse(path, data, len, err, errcap);
  OPENSSL_cleanse(data, len);
  free(data);
  return k;
}

void arq_api_keys_free(arq_api_keys_t *k) {
  if (!k)
    return;
  free(k->entries);
  free(k);
}

size_t arq_api_keys_count(const arq_api_keys_t *k) { return k ? k->len : 0; }

bool arq_api_keys_find(const arq_api_keys_t *k, const char *key, size_t len, char *tenant) {
  if (!k || len < ARQ_API_KEY_MIN_LEN || len > ARQ_API_KEY_MAX_LEN)
    return false;
  unsigned char d[DIGEST_LEN];
  digest_of(key, len, d);
  size_t found = SIZE_MAX;
  for (size_t i = 0; i < k->len; i++) /* every entry, whatever matched */
    if (!CRYPTO_memcmp(d, k->entries[i].digest, DIGEST_LEN))
      found = i;
  if (found == SIZE_MAX)
    return false;
  memcpy(tenant, k->entries[found].tenant, sizeof k->entries[found].tenant);
  return true;
}
