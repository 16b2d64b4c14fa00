/*
 * bench_metrics.h — the former place of arq_url_split, now loadgen/metrics.h. Kept only for
 * cmd_pubsub.c, which is being changed apart: remove this header once it includes the new one.
 */
#ifndef ARQ_CLI_BENCH_METRICS_H
#define ARQ_CLI_BENCH_METRICS_H

#include "loadgen/metrics.h"

#endif
