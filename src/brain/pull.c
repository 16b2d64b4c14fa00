/*
 * pull.c — a bounded JetStream pull consumer (see pull.h for the design).
 *
 * The wire protocol: a request on $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> with
 * {"batch","max_bytes","expires"} and a reply inbox; the server sends up to `batch`
 * messages there as they become available, each with reply subject
 * $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>, and
 * ends a request early with a status message (404 no messages, 408 expired, 409 refused).
 */
#include "brain/pull.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "brain/brain.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "spine/retired.h"

/* A request stays open while its batch is not full: messages are delivered as they come. */
#define REQUEST_EXPIRES_MS 5000
/* nats-server 2.9 ends a request that expires while it is delivering without telling (no
 * 408): a request is taken as over this long after its expiry, whatever was heard. */
#define REQUEST_GRACE_MS 100
/* The server sends an idle heartbeat (status 100) this often while a request waits. A
 * request that hears nothing for HEARTBEAT_MISSED_MS is lost: the consumer's leader died
 * or moved with a node of the cluster, and nothing else would say so (the new leader
 * never saw the request; the stream is silent, not refused). */
#define HEARTBEAT_MS 1000
#define HEARTBEAT_MISSED_MS (3 * HEARTBEAT_MS)
#define INACTIVE_THRESHOLD_S 10 /* the server deletes a consumer nobody pulls from */

struct arq_pull {
  natsConnection *nc;
  jsCtx *js;
  char stream[64], inbox_prefix[96];
  size_t cap, max_bytes;
  jsOptions api; /* for creating and deleting the consumer */
  void (*wake)(void *);
  void *wake_arg;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  natsMsg **ring;
  arq_pull_meta_t *metas;
  size_t head, len, bytes;

  uint64_t generation;
  natsSubscription *sub;
  char consumer[64];
  char inbox[128];     /* <prefix>.<generation>: the subscription is on <inbox>.* */
  char req_reply[160]; /* <inbox>.<n>: the reply subject of the request outstanding */
  uint64_t req_no;
  arq_buf_t req_body; /* the request's JSON, reused */
  char next_subject[256];
  bool running, broken;
  bool req_active;
  size_t req_left;
  int64_t req_deadline_ms;
  bool heard;       /* a delivery or status came since maybe_request last looked */
  int64_t heard_ms; /* when maybe_request last saw one (or sent the request) */
  uint64_t next_cseq;
};

/* Reads the numbers of a $JS.ACK reply subject (v1: 9 tokens; v2 with domain and account
 * hash: 12). False when `reply` is not one. */
static bool parse_ack(const char *reply, uint64_t *sseq, uint64_t *cseq, arq_pull_meta_t *meta) {
  if (!reply || strncmp(reply, "$JS.ACK.", 8))
    return false;
  const char *tok[16];
  size_t n = 0;
  for (const char *s = reply; n < 16;) {
    tok[n++] = s;
    s = strchr(s, '.');
    if (!s)
      break;
    s++;
  }
  size_t first; /* index of <delivered> */
  if (n == 9)
    first = 4;
  else if (n >= 11)
    first = 6;
  else
    return false;
  *sseq = strtoull(tok[first + 1], NULL, 10);
  *cseq = strtoull(tok[first + 2], NULL, 10);
  meta->stream_seq = *sseq;
  meta->stored_ns = strtoll(tok[first + 3], NULL, 10);
  meta->pending = strtoull(tok[first + 4], NULL, 10);
  return *sseq > 0 && *cseq > 0;
}

static void mark_broken(arq_pull_t *p, const char *why) {
  if (!p->broken)
    ARQ_LOG(ARQ_LOG_WARN, "brain", "ingress consumer broken; it restarts from the checkpoint",
            {"stream", p->stream}, {"reason", why});
  p->broken = true;
  p->req_active = false;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  arq_pull_t *p = closure;
  pthread_mutex_lock(&p->lock);
  if (!p->running || sub != p->sub) {
    pthread_mutex_unlock(&p->lock); /* from a consumer that was replaced */
    natsMsg_Destroy(msg);
    return;
  }
  const char *status = NULL;
  arq_pull_meta_t meta = {0};
  uint64_t sseq = 0, cseq = 0;
  if (natsMsgHeader_Get(msg, "Status", &status) == NATS_OK && status) {
    const char *desc = NULL;
    if (strcmp(natsMsg_GetSubject(msg), p->req_reply)) {
      pthread_mutex_unlock(&p->lock); /* about a request that is over already */
      natsMsg_Destroy(msg);
      return;
    }
    p->heard = true;
    natsMsgHeader_Get(msg, "Description", &desc);
    if (!strcmp(status, "404") || !strcmp(status, "408") ||
        (!strcmp(status, "409") && desc && strstr(desc, "MaxBytes")))
      p->req_active = false; /* the request is over: the next one goes out when asked */
    else if (strcmp(status, "100")) /* 100: idle heartbeat */
      mark_broken(p, desc ? desc : status);
    natsMsg_Destroy(msg);
  } else if (!parse_ack(natsMsg_GetReply(msg), &sseq, &cseq, &meta)) {
    natsMsg_Destroy(msg);
    mark_broken(p, "a delivery without JetStream metadata");
  } else if (cseq != p->next_cseq) {
    natsMsg_Destroy(msg);
    mark_broken(p, "a gap in the consumer's sequence");
  } else if (p->len == p->cap) {
    natsMsg_Destroy(msg); /* cannot happen: requests never ask for more than there is room */
    mark_broken(p, "more messages than requested");
  } else {
    p->heard = true; /* no clock read per delivery: maybe_request stamps it */
    p->next_cseq++;
    size_t at = (p->head + p->len) % p->cap;
    p->ring[at] = msg;
    p->metas[at] = meta;
    p->len++;
    p->bytes += (size_t)natsMsg_GetDataLength(msg);
    if (p->req_left && --p->req_left == 0)
      p->req_active = false;
  }
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
  if (p->wake)
    p->wake(p->wake_arg);
}

arq_pull_t *arq_pull_new(natsConnection *nc, jsCtx *js, const char *stream,
                         const char *inbox_prefix, size_t capacity, size_t max_bytes,
                         int api_wait_ms, void (*wake)(void *), void *wake_arg) {
  arq_pull_t *p = calloc(1, sizeof *p);
  if (!p)
    arq_oom("pull consumer");
  p->nc = nc;
  p->js = js;
  snprintf(p->stream, sizeof p->stream, "%s", stream);
  snprintf(p->inbox_prefix, sizeof p->inbox_prefix, "%s", inbox_prefix);
  p->cap = capacity;
  p->max_bytes = max_bytes;
  jsOptions_Init(&p->api);
  p->api.Wait = api_wait_ms;
  p->wake = wake;
  p->wake_arg = wake_arg;
  p->ring = calloc(capacity, sizeof *p->ring);
  p->metas = calloc(capacity, sizeof *p->metas);
  if (!p->ring || !p->metas)
    arq_oom("pull consumer");
  pthread_mutex_init(&p->lock, NULL);
  arq_cond_init_monotonic(&p->cond);
  return p;
}

static void drop_buffered(arq_pull_t *p) {
  for (; p->len; p->len--, p->head = (p->head + 1) % p->cap)
    natsMsg_Destroy(p->ring[p->head]);
  p->head = 0;
  p->bytes = 0;
}

void arq_pull_stop(arq_pull_t *p) {
  pthread_mutex_lock(&p->lock);
  bool was = p->running;
  p->running = false;
  p->req_active = false;
  drop_buffered(p);
  natsSubscription *sub = p->sub;
  p->sub = NULL;
  char consumer[sizeof p->consumer];
  memcpy(consumer, p->consumer, sizeof consumer);
  pthread_mutex_unlock(&p->lock);
  arq_sub_retire(sub); /* destroyed a second later: spine/retired.h says why */
  /* The server would delete it after INACTIVE_THRESHOLD_S anyway; deleting at once frees
   * it now, unless NATS is away (the call would only wait for its timeout). */
  if (was && *consumer && natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED)
    js_DeleteConsumer(p->js, p->stream, consumer, &p->api, NULL);
}

int arq_pull_start(arq_pull_t *p, uint64_t start_seq) {
  arq_pull_stop(p);
  pthread_mutex_lock(&p->lock);
  p->generation++;
  snprintf(p->inbox, sizeof p->inbox, "%s.%llu", p->inbox_prefix, (unsigned long long)p->generation);
  p->broken = false;
  p->next_cseq = 1;
  pthread_mutex_unlock(&p->lock);

  /* Deliveries carry the stream's subject, not the inbox: a message belongs to the current
   * consumer when it came through the current subscription. */
  natsSubscription *sub = NULL;
  pthread_mutex_lock(&p->lock);
  char wildcard[sizeof p->inbox + 2];
  snprintf(wildcard, sizeof wildcard, "%s.*", p->inbox);
  natsStatus st = natsConnection_Subscribe(&sub, p->nc, wildcard, on_msg, p);
  p->sub = sub;
  pthread_mutex_unlock(&p->lock);
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.AckPolicy = js_AckNone; /* the Brain's checkpoints in Redis say what is done */
  cc.DeliverPolicy = js_DeliverByStartSequence;
  cc.OptStartSeq = start_seq ? start_seq : 1;
  cc.InactiveThreshold = INACTIVE_THRESHOLD_S * 1000000000LL;
  cc.MaxWaiting = 4;
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  if (st == NATS_OK)
    st = js_AddConsumer(&ci, p->js, p->stream, &cc, &p->api, &jerr);
  if (st != NATS_OK) {
    const char *last = nats_GetLastError(NULL);
    ARQ_LOG(ARQ_LOG_WARN, "brain", "cannot create the ingress consumer; retrying",
            {"stream", p->stream}, {"error", last ? last : natsStatus_GetText(st)});
    pthread_mutex_lock(&p->lock);
    p->sub = NULL;
    pthread_mutex_unlock(&p->lock);
    arq_sub_retire(sub);
    jsConsumerInfo_Destroy(ci);
    return -1;
  }
  pthread_mutex_lock(&p->lock);
  snprintf(p->consumer, sizeof p->consumer, "%s", ci->Name);
  snprintf(p->next_subject, sizeof p->next_subject, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", p->stream,
           ci->Name);
  p->running = true;
  pthread_mutex_unlock(&p->lock);
  jsConsumerInfo_Destroy(ci);
  return 0;
}

/* Asks for as much as the ring has room for, once a quarter of it is free (or it is empty,
 * so that a slow trickle is not held back). Called with the lock held. */
static void maybe_request(arq_pull_t *p) {
  if (!p->running || p->broken)
    return;
  int64_t now = arq_monotonic_ms();
  if (p->heard) {
    p->heard = false;
    p->heard_ms = now;
  }
  if (p->req_active && now - p->heard_ms > HEARTBEAT_MISSED_MS) {
    mark_broken(p, "no heartbeat from the consumer (its server went away?)");
    return;
  }
  if (p->req_active && now <= p->req_deadline_ms)
    return;
  p->req_active = false;
  size_t free_msgs = p->cap - p->len;
  size_t free_bytes = p->bytes < p->max_bytes ? p->max_bytes - p->bytes : 0;
  if (free_msgs == 0 || free_bytes == 0)
    return;
  if (p->len && (free_msgs < p->cap / 4 || free_bytes < p->max_bytes / 4))
    return;
  arq_buf_reset(&p->req_body);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &p->req_body);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "batch", 5);
  arq_json_w_uint64(&w, free_msgs);
  arq_json_w_key(&w, "max_bytes", 9);
  arq_json_w_uint64(&w, free_bytes);
  arq_json_w_key(&w, "expires", 7); /* nanoseconds */
  arq_json_w_int64(&w, (int64_t)REQUEST_EXPIRES_MS * 1000000);
  arq_json_w_key(&w, "idle_heartbeat", 14);
  arq_json_w_int64(&w, (int64_t)HEARTBEAT_MS * 1000000);
  arq_json_w_object_end(&w);
  /* Each request has a reply subject of its own, so that a late status is recognised as an
   * older request's. */
  snprintf(p->req_reply, sizeof p->req_reply, "%s.%llu", p->inbox, (unsigned long long)++p->req_no);
  if (natsConnection_PublishRequestString(p->nc, p->next_subject, p->req_reply, p->req_body.data) != NATS_OK)
    return; /* NATS away: asked again on the next call */
  p->req_active = true;
  p->heard_ms = now;
  p->req_left = free_msgs;
  p->req_deadline_ms = now + REQUEST_EXPIRES_MS + REQUEST_GRACE_MS;
}

natsMsg *arq_pull_next(arq_pull_t *p, int timeout_ms, arq_pull_meta_t *meta) {
  struct timespec until = arq_deadline_ms(timeout_ms);
  pthread_mutex_lock(&p->lock);
  maybe_request(p);
  while (!p->len && p->running && !p->broken && timeout_ms > 0) {
    if (pthread_cond_timedwait(&p->cond, &p->lock, &until) == ETIMEDOUT)
      break;
    maybe_request(p); /* a request that ended (408) is renewed at once */
  }
  natsMsg *m = NULL;
  if (p->len && p->running && !p->broken) {
    m = p->ring[p->head];
    if (meta)
      *meta = p->metas[p->head];
    p->head = (p->head + 1) % p->cap;
    p->len--;
    p->bytes -= (size_t)natsMsg_GetDataLength(m);
    maybe_request(p);
  }
  pthread_mutex_unlock(&p->lock);
  return m;
}

bool arq_pull_broken(arq_pull_t *p) {
  pthread_mutex_lock(&p->lock);
  bool b = p->broken;
  pthread_mutex_unlock(&p->lock);
  return b;
}

bool arq_pull_running(const arq_pull_t *p) { return p->running; }

void arq_pull_free(arq_pull_t *p) {
  if (!p)
    return;
  arq_pull_stop(p);
  pthread_cond_destroy(&p->cond);
  pthread_mutex_destroy(&p->lock);
  free(p->ring);
  free(p->metas);
  arq_buf_free(&p->req_body);
  free(p);
}
