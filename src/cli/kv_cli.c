#include "cli/kv_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spine/kv.h"

int arq_cli_kv_open(arq_cli_kv_t *k, const char *prog, const char *config, const char *nats_url,
                    const char *(*bucket_of)(const arq_config_t *cfg)) {
  char err[512];
  memset(k, 0, sizeof *k);
  arq_config_defaults(&k->cfg);
  if (config && arq_config_load(&k->cfg, config, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return -1;
  }
  if (nats_url) { /* --nats: this one server, whatever the config lists */
    free(k->cfg.nats.url);
    k->cfg.nats.url = strdup(nats_url);
    for (size_t i = 0; i < k->cfg.nats.servers.len; i++)
      free(k->cfg.nats.servers.items[i]);
    free(k->cfg.nats.servers.items);
    k->cfg.nats.servers.items = NULL;
    k->cfg.nats.servers.len = 0;
  }
  if (arq_nats_connect(&k->cfg, prog, 5000, &k->nc, err, sizeof err) != NATS_OK) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return -1;
  }
  if (arq_kv_open(k->nc, bucket_of(&k->cfg), true, k->cfg.nats.stream_replicas, &k->js, &k->kv, err,
                  sizeof err) != NATS_OK) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return -1;
  }
  return 0;
}

void arq_cli_kv_close(arq_cli_kv_t *k) {
  kvStore_Destroy(k->kv);
  jsCtx_Destroy(k->js);
  natsConnection_Destroy(k->nc);
  arq_config_free(&k->cfg);
}

int arq_cli_kv_list(arq_cli_kv_t *k, const char *prog) {
  kvKeysList keys = {0};
  natsStatus st = kvStore_Keys(&keys, k->kv, NULL);
  if (st == NATS_NOT_FOUND || (st == NATS_OK && keys.Count == 0)) {
    kvKeysList_Destroy(&keys);
    return 0;
  }
  if (st != NATS_OK) {
    fprintf(stderr, "%s: list: %s\n", prog, natsStatus_GetText(st));
    return 1;
  }
  for (int i = 0; i < keys.Count; i++) {
    kvEntry *e = NULL;
    if (kvStore_Get(&e, k->kv, keys.Keys[i]) == NATS_OK) {
      printf("%s\t%d bytes\trevision %llu\n", keys.Keys[i], kvEntry_ValueLen(e),
             (unsigned long long)kvEntry_Revision(e));
      kvEntry_Destroy(e);
    }
  }
  kvKeysList_Destroy(&keys);
  return 0;
}
