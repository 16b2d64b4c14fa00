#include "spine/watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "spine/kv.h"

#define WATCH_POLL_MS 500
#define RETRY_MS 1000

struct arq_kv_watch {
  const arq_config_t *cfg;
  arq_kv_watch_spec_t spec;
  pthread_t thread;
  atomic_bool stopping;
  bool ready_told;
};

/* One watch of the bucket, until it fails or we stop. */
static void watch_once(arq_kv_watch_t *w, natsConnection *nc) {
  char err[256];
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  kvWatcher *watcher = NULL;
  if (arq_kv_open(nc, w->spec.bucket, true, w->spec.replicas, &js, &kv, err, sizeof err) != NATS_OK) {
    ARQ_LOG(ARQ_LOG_WARN, w->spec.component, "bucket unavailable; retrying", {"error", err});
    return;
  }
  time_t started = time(NULL);
  if (kvStore_WatchAll(&watcher, kv, NULL) == NATS_OK) {
    while (!atomic_load(&w->stopping)) {
      if (w->spec.refresh_s > 0 && time(NULL) - started >= w->spec.refresh_s)
        break; /* the next watch delivers every entry again */
      kvEntry *e = NULL;
      natsStatus st = kvWatcher_Next(&e, watcher, WATCH_POLL_MS);
      if (st == NATS_TIMEOUT)
        continue;
      if (st != NATS_OK)
        break;
      if (!e) { /* the entries present at the start have all been delivered */
        if (!w->ready_told && w->spec.on_ready)
          w->spec.on_ready(w->spec.arg);
        w->ready_told = true;
        continue;
      }
      w->spec.on_entry(w->spec.arg, e);
      kvEntry_Destroy(e);
    }
    kvWatcher_Destroy(watcher);
  }
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
}

static void *watch_main(void *arg) {
  arq_kv_watch_t *w = arg;
  char err[256];
  natsConnection *nc = NULL;
  while (!atomic_load(&w->stopping)) {
    if (!nc && arq_nats_connect(w->cfg, w->spec.component, 2000, &nc, err, sizeof err) != NATS_OK) {
      nc = NULL;
      ARQ_LOG(ARQ_LOG_WARN, w->spec.component, "cannot reach NATS; retrying", {"error", err});
    } else {
      watch_once(w, nc);
    }
    for (int i = 0; i < RETRY_MS / 50 && !atomic_load(&w->stopping); i++)
      usleep(50000);
  }
  if (nc) {
    natsConnection_Close(nc);
    natsConnection_Destroy(nc);
  }
  return NULL;
}

arq_kv_watch_t *arq_kv_watch_start(const arq_config_t *cfg, const arq_kv_watch_spec_t *spec) {
  arq_kv_watch_t *w = calloc(1, sizeof *w);
  if (!w)
    arq_oom("kv watch");
  w->cfg = cfg;
  w->spec = *spec;
  if (pthread_create(&w->thread, NULL, watch_main, w)) {
    free(w);
    return NULL;
  }
  return w;
}

void arq_kv_watch_stop(arq_kv_watch_t *w) {
  if (!w)
    return;
  atomic_store(&w->stopping, true);
  pthread_join(w->thread, NULL);
  free(w);
}
