#include "loadgen/responder.h"

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arq_responder {
  natsConnection *nc;
  natsSubscription *sub;
  atomic_uint_least64_t forwarded;
};

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  (void)sub;
  arq_responder_t *r = closure;
  const char *in = natsMsg_GetSubject(msg);
  char out[256];
  /* "in.t.…" becomes "out.t.…": same tenant and room, egress side. */
  int n = snprintf(out, sizeof out, "out%s", in + 2);
  if (n > 0 && (size_t)n < sizeof out &&
      natsConnection_Publish(nc, out, natsMsg_GetData(msg), natsMsg_GetDataLength(msg)) == NATS_OK)
    atomic_fetch_add_explicit(&r->forwarded, 1, memory_order_relaxed);
  natsMsg_Destroy(msg);
}

arq_responder_t *arq_responder_start(const char *url, const char *tenant, char *err, size_t errcap) {
  arq_responder_t *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  char subject[128];
  snprintf(subject, sizeof subject, "in.t.%s.r.>", tenant);
  natsOptions *opts = NULL;
  natsStatus st = natsOptions_Create(&opts);
  if (st == NATS_OK) st = natsOptions_SetURL(opts, url);
  if (st == NATS_OK) st = natsOptions_SetName(opts, "arq-bench-responder");
  /* nats.c's flusher thread sleeps 1 ms before each flush to batch publishes; the stand-in
   * for the Brain must not add that to the round trip it is measuring, so it writes at once. */
  if (st == NATS_OK) st = natsOptions_SetSendAsap(opts, true);
  if (st == NATS_OK) st = natsConnection_Connect(&r->nc, opts);
  if (st == NATS_OK) st = natsConnection_Subscribe(&r->sub, r->nc, subject, on_msg, r);
  /* A load test must not lose messages to the client library's default pending limit. */
  if (st == NATS_OK) st = natsSubscription_SetPendingLimits(r->sub, -1, -1);
  if (st == NATS_OK) st = natsConnection_Flush(r->nc);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) {
    snprintf(err, errcap, "responder on %s: %s", url, natsStatus_GetText(st));
    arq_responder_stop(r);
    return NULL;
  }
  return r;
}

uint64_t arq_responder_forwarded(const arq_responder_t *r) {
  return atomic_load_explicit(&r->forwarded, memory_order_relaxed);
}

void arq_responder_stop(arq_responder_t *r) {
  if (!r)
    return;
  if (r->sub) {
    natsSubscription_Unsubscribe(r->sub);
    natsSubscription_Destroy(r->sub);
  }
  if (r->nc) {
    natsConnection_FlushTimeout(r->nc, 1000);
    natsConnection_Destroy(r->nc);
  }
  free(r);
  /* The library's threads and pools go too, so a leak checker sees only our own leaks. */
  nats_Close();
}
