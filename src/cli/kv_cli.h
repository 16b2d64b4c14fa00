/* What `arq policy` and `arq schema` share: reaching a KV bucket and listing it. */
#ifndef ARQ_CLI_KV_CLI_H
#define ARQ_CLI_KV_CLI_H

#include <nats/nats.h>

#include "common/config.h"

typedef struct {
  natsConnection *nc;
  jsCtx *js;
  kvStore *kv;
  arq_config_t cfg;
} arq_cli_kv_t;

/** Loads `config` (may be NULL), applies `nats_url` (may be NULL), connects and opens the
 *  bucket that `bucket_of` picks from the config. Prints the reason and returns -1 on
 *  failure; arq_cli_kv_close() is needed either way. */
int arq_cli_kv_open(arq_cli_kv_t *k, const char *prog, const char *config, const char *nats_url,
                    const char *(*bucket_of)(const arq_config_t *cfg));
void arq_cli_kv_close(arq_cli_kv_t *k);
/** Prints "key<TAB>N bytes<TAB>revision R" per key. Returns the exit status. */
int arq_cli_kv_list(arq_cli_kv_t *k, const char *prog);

#endif
