/*
 * ingress.c — the thread that creates ARQON_INGRESS when it is missing (ingress.h).
 */
#include "shield/ingress.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/deadline.h"
#include "common/log.h"
#include "shield/nats_link.h"
#include "shield/shield.h"
#include "spine/streams.h"

#define INGRESS_SETUP_WAIT_MS 60000
#define INGRESS_RETRY_MS 1000
#define INGRESS_REQUEST_MS 2000

struct arq_ingress {
  arq_shield_t *s;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop;
};

/* Sleeps up to ms, or until stopped; true when stopped. */
static bool wait_or_stop(arq_ingress_t *g, int ms) {
  struct timespec until = arq_deadline_ms(ms);
  pthread_mutex_lock(&g->lock);
  while (!g->stop && pthread_cond_timedwait(&g->cond, &g->lock, &until) == 0) {
  }
  bool stop = g->stop;
  pthread_mutex_unlock(&g->lock);
  return stop;
}

static void *run(void *arg) {
  arq_ingress_t *g = arg;
  jsStreamConfig sc;
  arq_stream_config(g->s->cfg, ARQ_STREAM_ID_INGRESS, &sc);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = INGRESS_REQUEST_MS;
  jsCtx *js = NULL;
  char err[512] = "NATS not connected";
  for (int waited = 0; waited < INGRESS_SETUP_WAIT_MS; waited += INGRESS_RETRY_MS) {
    if (arq_link_connected(g->s->link)) {
      if (!js && natsConnection_JetStream(&js, arq_link_connection(g->s->link), &jo) != NATS_OK)
        js = NULL;
      bool created = false;
      if (js && arq_stream_create_if_absent(js, &sc, &created, err, sizeof err) == NATS_OK) {
        if (created)
          ARQ_LOG(ARQ_LOG_INFO, "spine", "stream created (room events wait there for a Brain)",
                  {"stream", sc.Name});
        jsCtx_Destroy(js);
        return NULL;
      }
    }
    if (wait_or_stop(g, INGRESS_RETRY_MS)) {
      jsCtx_Destroy(js);
      return NULL;
    }
  }
  ARQ_LOG(ARQ_LOG_WARN, "spine",
          "the ingress stream could not be found or created: room events are answered 503 until a "
          "Brain creates it",
          {"stream", sc.Name}, {"error", err});
  jsCtx_Destroy(js);
  return NULL;
}

arq_ingress_t *arq_ingress_start(arq_shield_t *s) {
  arq_ingress_t *g = calloc(1, sizeof *g);
  if (!g)
    arq_oom("ingress");
  g->s = s;
  pthread_mutex_init(&g->lock, NULL);
  arq_cond_init_monotonic(&g->cond);
  if (pthread_create(&g->thread, NULL, run, g)) {
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
    return NULL;
  }
  return g;
}

void arq_ingress_stop(arq_ingress_t *g) {
  if (!g)
    return;
  pthread_mutex_lock(&g->lock);
  g->stop = true;
  pthread_cond_signal(&g->cond);
  pthread_mutex_unlock(&g->lock);
  pthread_join(g->thread, NULL);
  pthread_cond_destroy(&g->cond);
  pthread_mutex_destroy(&g->lock);
  free(g);
}
