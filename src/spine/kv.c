#include "spine/kv.h"

#include <stdio.h>
#include <stdlib.h>

natsStatus arq_nats_options(const arq_config_t *cfg, const char *name, natsOptions **opts,
                            char *err, size_t errcap) {
  char perr[256];
  *opts = NULL;
  char *password = arq_config_nats_password(cfg, perr, sizeof perr);
  if (!password && perr[0]) {
    snprintf(err, errcap, "%s", perr);
    return NATS_ERR;
  }
  natsStatus st = natsOptions_Create(opts);
  /* A cluster: the first server that answers, in the order listed (list them in another
   * order on each host to spread the load); nats.c fails over to the others. */
  if (st == NATS_OK && cfg->nats.servers.len)
    st = natsOptions_SetServers(*opts, (const char **)cfg->nats.servers.items, (int)cfg->nats.servers.len);
  if (st == NATS_OK && cfg->nats.servers.len)
    st = natsOptions_SetNoRandomize(*opts, true);
  else if (st == NATS_OK)
    st = natsOptions_SetURL(*opts, cfg->nats.url);
  if (st == NATS_OK) st = natsOptions_SetName(*opts, name);
  if (st == NATS_OK && cfg->nats.user) st = natsOptions_SetUserInfo(*opts, cfg->nats.user, password);
  free(password);
  if (st != NATS_OK) {
    snprintf(err, errcap, "NATS options: %s", natsStatus_GetText(st));
    natsOptions_Destroy(*opts);
    *opts = NULL;
  }
  return st;
}

const char *arq_nats_where(const arq_config_t *cfg, char *buf, size_t cap) {
  if (!cfg->nats.servers.len)
    return cfg->nats.url;
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < cfg->nats.servers.len && off < cap; i++) {
    int n = snprintf(buf + off, cap - off, "%s%s", i ? "," : "", cfg->nats.servers.items[i]);
    off += n > 0 ? (size_t)n : 0;
  }
  return buf;
}

natsStatus arq_nats_connect(const arq_config_t *cfg, const char *name, int timeout_ms,
                            natsConnection **nc, char *err, size_t errcap) {
  natsOptions *opts = NULL;
  natsStatus st = arq_nats_options(cfg, name, &opts, err, errcap);
  if (st != NATS_OK)
    return st;
  st = natsOptions_SetTimeout(opts, timeout_ms);
  if (st == NATS_OK) st = natsConnection_Connect(nc, opts);
  if (st != NATS_OK) {
    const char *last = nats_GetLastError(NULL);
    char where[512];
    snprintf(err, errcap, "cannot connect to %s: %s", arq_nats_where(cfg, where, sizeof where),
             last && *last ? last : natsStatus_GetText(st));
  }
  natsOptions_Destroy(opts);
  return st;
}

natsStatus arq_kv_open(natsConnection *nc, const char *name, bool create, int64_t replicas, jsCtx **js,
                       kvStore **kv, char *err, size_t errcap) {
  *js = NULL;
  *kv = NULL;
  natsStatus st = natsConnection_JetStream(js, nc, NULL);
  if (st == NATS_OK) {
    st = js_KeyValue(kv, *js, name);
    if (st == NATS_NOT_FOUND && create) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = name;
      cfg.History = 1;
      cfg.Replicas = (int)replicas;
      st = js_CreateKeyValue(kv, *js, &cfg);
    }
  }
  kvStatus *sts = NULL;
  if (st == NATS_OK && kvStore_Status(&sts, *kv) == NATS_OK) {
    int64_t have = kvStatus_Replicas(sts);
    kvStatus_Destroy(sts);
    if (have != replicas) {
      snprintf(err, errcap, "KV bucket %s has %lld replicas but [nats] stream_replicas is %lld: "
               "change the setting, or the bucket (nats kv ... / nats stream edit KV_%s --replicas %lld)",
               name, (long long)have, (long long)replicas, name, (long long)replicas);
      kvStore_Destroy(*kv);
      jsCtx_Destroy(*js);
      *js = NULL;
      *kv = NULL;
      return NATS_MISMATCH;
    }
  }
  if (st != NATS_OK) {
    snprintf(err, errcap, "KV bucket %s: %s", name, natsStatus_GetText(st));
    jsCtx_Destroy(*js);
    *js = NULL;
    *kv = NULL;
  }
  return st;
}
