#include "loadgen/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A sample line "<series> <value>"; returns the value's text or NULL. */
static const char *after_series(const char *line, const char *series) {
  size_t n = strlen(series);
  if (strncmp(line, series, n))
    return NULL;
  return line + n;
}

static double parse_le(const char *s, const char **end) {
  if (!strncmp(s, "+Inf", 4)) {
    *end = s + 4;
    return INFINITY;
  }
  char *e;
  double v = strtod(s, &e);
  *end = e == s ? NULL : e;
  return v;
}

int arq_prom_hist_parse(const char *text, const char *name, arq_prom_hist_t *out) {
  memset(out, 0, sizeof *out);
  char bucket[160], count[160], sum[160];
  snprintf(bucket, sizeof bucket, "%s_bucket{le=\"", name);
  snprintf(count, sizeof count, "%s_count ", name);
  snprintf(sum, sizeof sum, "%s_sum ", name);
  bool have_count = false;
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    const char *v;
    if ((v = after_series(line, bucket))) {
      const char *e;
      double le = parse_le(v, &e);
      if (!e || strncmp(e, "\"} ", 3) || out->n == ARQ_PROM_MAX_BUCKETS)
        return -1;
      char *ve;
      double c = strtod(e + 3, &ve);
      if (ve == e + 3 || (out->n && le <= out->le[out->n - 1]))
        return -1;
      out->le[out->n] = le;
      out->cum[out->n++] = c;
    } else if ((v = after_series(line, count))) {
      out->count = strtod(v, NULL);
      have_count = true;
    } else if ((v = after_series(line, sum))) {
      out->sum = strtod(v, NULL);
    }
    line = nl ? nl + 1 : NULL;
  }
  if (!out->n || !isinf(out->le[out->n - 1]) || !have_count)
    return -1;
  out->found = true;
  return 0;
}

int arq_prom_hist_delta(const arq_prom_hist_t *after, const arq_prom_hist_t *before,
                        arq_prom_hist_t *out) {
  if (after->n != before->n)
    return -1;
  *out = *after;
  for (size_t i = 0; i < after->n; i++) {
    if (after->le[i] != before->le[i])
      return -1;
    out->cum[i] = after->cum[i] - before->cum[i];
  }
  out->count = after->count - before->count;
  out->sum = after->sum - before->sum;
  return 0;
}

double arq_prom_hist_quantile(const arq_prom_hist_t *h, double q, bool *open) {
  *open = false;
  if (!h->n || h->cum[h->n - 1] <= 0)
    return NAN;
  double rank = q * h->cum[h->n - 1];
  for (size_t i = 0; i < h->n; i++) {
    if (h->cum[i] < rank)
      continue;
    if (isinf(h->le[i])) {
      *open = true;
      return i ? h->le[i - 1] : 0;
    }
    double lo = i ? h->le[i - 1] : 0, below = i ? h->cum[i - 1] : 0;
    double in = h->cum[i] - below;
    return in > 0 ? lo + (h->le[i] - lo) * (rank - below) / in : h->le[i];
  }
  return h->le[h->n - 1];
}

long arq_proc_rss_kib(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) {
      kib = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kib;
}

double arq_proc_cpu_s(long pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  bool ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  /* The command name may hold spaces and parentheses: fields are counted after its last ')'. */
  const char *p = ok ? strrchr(line, ')') : NULL;
  if (!p)
    return -1;
  unsigned long long utime = 0, stime = 0;
  /* after ")": state(3) ... utime is field 14, stime 15 */
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  long tck = sysconf(_SC_CLK_TCK);
  return (double)(utime + stime) / (double)(tck > 0 ? tck : 100);
}

int arq_url_split(const char *url, const char *scheme, char *host, size_t hostcap, uint16_t *port,
                  const char **path) {
  size_t sl = strlen(scheme);
  if (strncmp(url, scheme, sl) || strncmp(url + sl, "://", 3))
    return -1;
  const char *h = url + sl + 3;
  const char *colon = strchr(h, ':');
  const char *slash = strchr(h, '/');
  if (!colon || (slash && slash < colon) || colon == h || (size_t)(colon - h) >= hostcap)
    return -1;
  memcpy(host, h, (size_t)(colon - h));
  host[colon - h] = '\0';
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || p <= 0 || p > 65535 || (*end && *end != '/'))
    return -1;
  *port = (uint16_t)p;
  *path = *end ? end : "/";
  return 0;
}
