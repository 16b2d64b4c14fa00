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
  if (st == NATS_OK) st = natsOptions_SetURL(*opts, cfg->nats.url);
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
    snprintf(err, errcap, "cannot connect to %s: %s", cfg->nats.url, last && *last ? last : natsStatus_GetText(st));
  }
  natsOptions_Destroy(opts);
  return st;
}

natsStatus arq_kv_open(natsConnection *nc, const char *name, bool create, jsCtx **js,
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
      st = js_CreateKeyValue(kv, *js, &cfg);
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
