/*
 * retired.c — subscriptions destroyed a while after they are unsubscribed (see retired.h).
 */
#include "spine/retired.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/deadline.h"

#define RETIRED_KEEP_MS 1000

typedef struct {
  natsSubscription *sub;
  int64_t at_ms;
} retired_t;

static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static retired_t *retired;
static size_t nretired, retired_cap;

void arq_sub_retire(natsSubscription *sub) {
  if (!sub)
    return;
  natsSubscription_Unsubscribe(sub);
  int64_t now = arq_monotonic_ms();
  pthread_mutex_lock(&retired_lock);
  size_t kept = 0;
  for (size_t i = 0; i < nretired; i++) {
    if (now - retired[i].at_ms >= RETIRED_KEEP_MS)
      natsSubscription_Destroy(retired[i].sub);
    else
      retired[kept++] = retired[i];
  }
  nretired = kept;
  if (nretired == retired_cap) {
    size_t cap = retired_cap ? 2 * retired_cap : 16;
    retired_t *grown = realloc(retired, cap * sizeof *grown);
    if (!grown)
      arq_oom("retired subscriptions");
    retired = grown;
    retired_cap = cap;
  }
  retired[nretired++] = (retired_t){sub, now};
  pthread_mutex_unlock(&retired_lock);
}

void arq_sub_retired_flush(void) {
  pthread_mutex_lock(&retired_lock);
  for (size_t i = 0; i < nretired; i++)
    natsSubscription_Destroy(retired[i].sub);
  free(retired);
  retired = NULL;
  nretired = retired_cap = 0;
  pthread_mutex_unlock(&retired_lock);
}
