/*
 * spent.c — NATS messages destroyed in groups (see spent.h).
 */
#include "spine/spent.h"

#include <pthread.h>
#include <stddef.h>

#define SPENT_GROUP 64

static pthread_mutex_t spent_lock = PTHREAD_MUTEX_INITIALIZER;
static natsMsg *spent[SPENT_GROUP];
static size_t nspent;

void arq_spent_msg(natsMsg *m) {
  if (!m)
    return;
  natsMsg *group[SPENT_GROUP];
  size_t n = 0;
  pthread_mutex_lock(&spent_lock);
  spent[nspent++] = m;
  if (nspent == SPENT_GROUP) {
    for (n = 0; n < nspent; n++)
      group[n] = spent[n];
    nspent = 0;
  }
  pthread_mutex_unlock(&spent_lock);
  for (size_t i = 0; i < n; i++)
    natsMsg_Destroy(group[i]);
}

void arq_spent_flush(void) {
  natsMsg *group[SPENT_GROUP];
  pthread_mutex_lock(&spent_lock);
  size_t n = nspent;
  for (size_t i = 0; i < n; i++)
    group[i] = spent[i];
  nspent = 0;
  pthread_mutex_unlock(&spent_lock);
  for (size_t i = 0; i < n; i++)
    natsMsg_Destroy(group[i]);
}
