/*
 * metrics.h — what `arq bench` reads about the server under test: a Prometheus
 * histogram scraped from /metrics (compared before and after a run), and a process's
 * resident memory from /proc.
 */
#ifndef ARQ_LOADGEN_METRICS_H
#define ARQ_LOADGEN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARQ_PROM_MAX_BUCKETS 64

/** One histogram's cumulative buckets, as exposed (le ascending, +Inf last). */
typedef struct {
  size_t n;
  double le[ARQ_PROM_MAX_BUCKETS];
  double cum[ARQ_PROM_MAX_BUCKETS];
  double count, sum;
  bool found;
} arq_prom_hist_t;

/** Reads histogram `name` (series name_bucket{le="..."}, name_count, name_sum, without other
 *  labels) from exposition text. 0, or -1 when it is absent or malformed. */
int arq_prom_hist_parse(const char *text, const char *name, arq_prom_hist_t *out);
/** after - before, bucket by bucket (the observations of one run); -1 if the bounds differ. */
int arq_prom_hist_delta(const arq_prom_hist_t *after, const arq_prom_hist_t *before,
                        arq_prom_hist_t *out);
/** The q-quantile (0..1), interpolated linearly inside its bucket as Prometheus's
 *  histogram_quantile does; *open is set when it falls in the +Inf bucket (the value is then
 *  the last finite bound, a lower limit). NaN when the histogram is empty. */
double arq_prom_hist_quantile(const arq_prom_hist_t *h, double q, bool *open);

/** VmRSS of a process in KiB, or -1. */
long arq_proc_rss_kib(long pid);
/** CPU time (user + system, all threads) a process has used, in seconds, or -1. */
double arq_proc_cpu_s(long pid);

/** Splits "scheme://host:port/path": host into host (NUL-terminated), port, path (points
 *  into url; "/" when absent). 0, or -1. */
int arq_url_split(const char *url, const char *scheme, char *host, size_t hostcap, uint16_t *port,
                  const char **path);

#endif
