/* arqon-brain — the ArqonBus state service: presence, rooms, history (see brain.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "brain/brain.h"
#include "common/log.h"
#include "common/redis_url.h"
#include "spine/kv.h"
#include "spine/retired.h"
#include "spine/spent.h"
#include "common/program.h"

#define SHUTDOWN_DEADLINE_S 4 /* SIGTERM ends the process within 5 s, whatever it waits on */

static arq_brain_t *g_brain; /* for the signal handler only */

static void on_signal(int sig) {
  if (g_brain) {
    atomic_store(&g_brain->stop, true);
    arq_queue_wake(&g_brain->queue);
  }
}

/* A graceful stop hands leases back; if something it waits on (a Redis or NATS call near
 * its timeout) would take it past the deadline, the process ends anyway: the leases then
 * lapse after lease_ttl_s, and the stream still holds every message. */
static void *shutdown_watchdog(void *arg) {
  arq_brain_t *b = arg;
  struct timespec ts = {SHUTDOWN_DEADLINE_S, 0};
  nanosleep(&ts, NULL);
  ARQ_LOG(ARQ_LOG_WARN, "brain", "shutdown deadline reached: exiting; leases lapse", {"brain", b->id});
  _exit(0);
  return NULL;
}

static void register_metrics(arq_brain_t *b) {
  arq_metrics_t *m = b->metrics;
  arq_brain_metrics_t *x = &b->m;
  x->rooms = arq_metrics_gauge(m, "brain_rooms", "Rooms with at least one member.", NULL);
  x->presence_entries = arq_metrics_gauge(m, "brain_presence_entries", "Connections present in rooms (all Brains).", NULL);
  x->partitions_owned = arq_metrics_gauge(m, "brain_partitions_owned", "Room partitions this Brain sequences.", NULL);
  x->queue_len = arq_metrics_gauge(m, "brain_queue_length", "Control jobs (requests, heartbeats, probe answers) waiting for the worker.", NULL);
  x->shield_nodes = arq_metrics_gauge(m, "brain_shield_nodes", "Shield nodes heard from within the expiry.", NULL);
  x->lag = arq_metrics_gauge(m, "brain_ingress_lag_messages", "Room events in ARQON_INGRESS after the last batch this Brain sequenced.", NULL);
  x->ingress_wait = arq_metrics_histogram(m, "brain_ingress_wait_seconds",
                                          "From ARQON_INGRESS storing a room event to its batch being committed.",
                                          NULL, arq_metrics_latency_buckets, arq_metrics_latency_nbuckets);
  x->notice_lag = arq_metrics_gauge(m, "brain_notice_lag_messages", "Join and leave notices in ARQON_NOTICES after the last one applied.", NULL);
  x->batches = arq_metrics_counter(m, "brain_batches_total", "Sequenced batches committed to Redis.", NULL);
  x->requests_refused = arq_metrics_counter(m, "brain_requests_refused_total", "Presence and history requests answered 503 because too many were waiting, or one waited longer than its Shield does.", NULL);
  x->sequenced = arq_metrics_counter(m, "brain_messages_sequenced_total", "Room messages given a seq and published.", NULL);
  x->duplicates = arq_metrics_counter(m, "brain_messages_replayed_total", "Ingress messages seen again after a takeover or reset (skipped or republished with their seq).", NULL);
  x->dropped = arq_metrics_counter(m, "brain_messages_dropped_total", "Messages refused (header/envelope mismatch), each with an audit record.", NULL);
  x->ownership_changes = arq_metrics_counter(m, "brain_ownership_changes_total", "Partitions acquired, released or lost.", NULL);
  x->presence_expired = arq_metrics_counter(m, "brain_presence_expired_total", "Presence entries removed because their Shield went silent.", NULL);
  x->requests = arq_metrics_counter(m, "brain_requests_total", "Presence and history requests answered.", NULL);
  x->redis_errors = arq_metrics_counter(m, "brain_redis_errors_total", "Failed Redis commands.", NULL);
  x->nats_errors = arq_metrics_counter(m, "brain_nats_errors_total", "Failed NATS operations.", NULL);
  x->queue_overflows = arq_metrics_counter(m, "brain_queue_overflows_total", "Control jobs refused by a full work queue.", NULL);
  x->sequence_duration = arq_metrics_histogram(m, "brain_sequence_latency_seconds",
                                               "From the Shield's timestamp to the sequenced batch committed.",
                                               NULL, arq_metrics_latency_buckets, arq_metrics_latency_nbuckets);
  x->partition_owned = calloc(b->partitions, sizeof *x->partition_owned);
  if (!x->partition_owned)
    arq_oom("metrics");
  for (uint32_t p = 0; p < b->partitions; p++) {
    char ps[16];
    snprintf(ps, sizeof ps, "%u", p);
    x->partition_owned[p] = arq_metrics_gauge(m, "brain_partition_owned", "1 while this Brain holds the partition's lease.",
                                              (const char *[]){"partition", ps, NULL});
  }
}

static void run_job(arq_brain_t *b, arq_job_t *j) {
  switch (j->kind) {
  case JOB_REQUEST:
    arq_brain_request(b, &j->msg, j->queued_ms);
    break;
  case JOB_HEARTBEAT:
    arq_presence_heartbeat(b, j->msg);
    break;
  case JOB_PROBE:
    arq_presence_probe_answer(b, j->msg);
    break;
  }
}

static void tick(arq_brain_t *b) {
  int64_t now = arq_monotonic_ms();
  arq_leases_check_fenced(b);
  arq_leases_tick(b, now);
  arq_notices_save(b);
  arq_presence_tick(b, now);
  pthread_mutex_lock(&b->queue.lock);
  arq_gauge_set(b->m.queue_len, (int64_t)b->queue.len);
  pthread_mutex_unlock(&b->queue.lock);
}

static void work(arq_brain_t *b) {
  int64_t next_tick = 0;
  while (!atomic_load(&b->stop)) {
    int64_t now = arq_monotonic_ms();
    if (now >= next_tick) {
      tick(b);
      next_tick = now + ARQ_BRAIN_TICK_MS;
    }
    arq_notices_poll(b);
    arq_job_t *j = arq_queue_pop(&b->queue, arq_brain_requests_wait_ms(b, ARQ_BRAIN_TICK_MS));
    if (j) {
      run_job(b, j);
      arq_job_free(j);
    }
    arq_brain_requests_retry(b, false);
  }
}

int main(int argc, char **argv) {
  arq_program_t program = {.name = "arqon-brain",
                           .description = "the ArqonBus state service: presence, rooms, history"};
  arq_config_t cfg;
  int rc = arq_program_start(&program, argc, argv, &cfg);
  if (rc >= 0)
    return rc;

  arq_brain_t *b = calloc(1, sizeof *b);
  if (!b)
    arq_oom("brain");
  b->cfg = &cfg;
  b->partitions = (uint32_t)cfg.brain.partitions;
  b->part = calloc(b->partitions, sizeof *b->part);
  if (!b->part)
    arq_oom("partitions");
  uint8_t rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    memset(rnd, 0x42, sizeof rnd);
  for (int i = 0; i < 8; i++)
    snprintf(b->id + 2 * i, 3, "%02x", rnd[i]);
  b->started_ms = arq_monotonic_ms();
  arq_queue_init(&b->queue);
  pthread_mutex_init(&b->own_lock, NULL);
  arq_store_init(&b->store, &cfg, NULL);
  arq_strmap_init(&b->instances);
  arq_strmap_init(&b->nodes);
  b->metrics = arq_metrics_new();
  register_metrics(b);
  b->store.errors = b->m.redis_errors;

  g_brain = b;
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[512] = "";
  arq_metrics_http_t *http = NULL;
  rc = 1;
  if (arq_store_check(&b->store, err, sizeof err))
    goto out;
  if (arq_brain_nats_open(b, err, sizeof err))
    goto out;
  if (!(http = arq_metrics_http_start(b, err, sizeof err)))
    goto out;
  arq_notices_init(b);
  if (arq_sequencer_start(b, err, sizeof err))
    goto out;
  arq_leases_tick(b, arq_monotonic_ms());
  if (arq_brain_nats_subscribe(b, err, sizeof err))
    goto out;
  atomic_store(&b->ready, true);
  char where[512], valkey[256];
  ARQ_LOG(ARQ_LOG_INFO, "brain", "running", {"brain", b->id}, {"metrics", cfg.brain.metrics_listen},
          {"nats", arq_nats_where(&cfg, where, sizeof where)},
          {"valkey", arq_redis_url_redacted(cfg.valkey.url, valkey, sizeof valkey)});
  work(b);
  rc = 0;
  ARQ_LOG(ARQ_LOG_INFO, "brain", "stopping: leases handed back", {"brain", b->id});

out:
  if (rc && err[0]) {
    fprintf(stderr, "arqon-brain: %s\n", err);
    ARQ_LOG(ARQ_LOG_ERROR, "brain", "cannot start", {"error", err});
  }
  atomic_store(&b->stop, true);
  pthread_t watchdog;
  if (rc == 0 && pthread_create(&watchdog, NULL, shutdown_watchdog, b) == 0)
    pthread_detach(watchdog);
  arq_sequencer_stop(b); /* finishes its batch: every commit is in before leases go back */
  if (b->nc)
    arq_brain_requests_retry(b, true); /* kept requests get their answer (403) */
  /* Without NATS, closing first makes every call below fail at once instead of waiting
   * for its timeout (deleting each partition's consumer would wait seconds each). */
  if (b->nc && natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED)
    natsConnection_Close(b->nc);
  arq_leases_release_all(b);
  arq_notices_stop(b);
  arq_brain_nats_close(b); /* after this no callback runs: the queue is ours alone */
  arq_sequencer_free(b);
  arq_notices_free(b);
  arq_metrics_http_stop(http);
  arq_queue_free(&b->queue);
  arq_store_close(&b->store);
  pthread_mutex_destroy(&b->own_lock);
  arq_presence_free(b);
  arq_metrics_free(b->metrics);
  free(b->m.partition_owned);
  free(b->part);
  g_brain = NULL;
  free(b);
  arq_config_free(&cfg);
  /* The connection is closed: no message is in use, no subscription is read. */
  arq_sub_retired_flush();
  arq_spent_flush();
  nats_CloseAndWait(2000);
  return rc;
}
