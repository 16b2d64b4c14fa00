/*
 * api_keys.h — the server API's keys ([api] keys_file): one key per line, `<key> <tenant>`
 * or `<key> *` (every tenant); `#` starts a comment; blank lines are ignored.
 *
 * DESIGN
 *   Only a SHA-256 digest of each key is kept, and a key is looked up by comparing its
 *   digest with every entry's in constant time (CRYPTO_memcmp), so neither the time of a
 *   refusal nor the memory of the process tells anything about a key. The file is read at
 *   start (a bad file stops the Shield there) and again on SIGHUP (a bad file then keeps
 *   the keys in force and says why in the log).
 */
#ifndef ARQ_SHIELD_API_KEYS_H
#define ARQ_SHIELD_API_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ids.h"

#define ARQ_API_KEY_MIN_LEN 16
#define ARQ_API_KEY_MAX_LEN 256
#define ARQ_API_KEYS_MAX 10000

typedef struct arq_api_keys arq_api_keys_t;

/** Reads a keys file. NULL with `file:line: problem` in err for anything but well-formed
 *  lines: a key shorter than ARQ_API_KEY_MIN_LEN or longer than ARQ_API_KEY_MAX_LEN, a
 *  tenant that is neither a valid id nor `*`, more than two fields, a key listed twice,
 *  more than ARQ_API_KEYS_MAX keys. */
arq_api_keys_t *arq_api_keys_load(const char *path, char *err, size_t errcap);
/** The same from bytes in memory (`path` names them in errors). */
arq_api_keys_t *arq_api_keys_parse(const char *path, const char *data, size_t len, char *err,
                                   size_t errcap);
void arq_api_keys_free(arq_api_keys_t *k);
size_t arq_api_keys_count(const arq_api_keys_t *k);

/** Looks a presented key up: true when it is listed, with its tenant copied to `tenant`
 *  (ARQ_ID_MAX_LEN + 1 bytes; "*" for a key of every tenant). */
bool arq_api_keys_find(const arq_api_keys_t *k, const char *key, size_t len, char *tenant);

#endif
