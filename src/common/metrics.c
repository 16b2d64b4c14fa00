#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_GAUGE_FN } kind_t;

typedef struct series {
  struct series *next;
  char *labels; /* rendered `a="x",b="y"`, or "" */
  union {
    arq_counter_t counter;
    arq_gauge_t gauge;
    arq_histogram_t histogram;
    struct {
      double (*read)(void *arg);
      void *arg;
    } fn;
  } u;
} series_t;

typedef struct family {
  struct family *next;
  char *name;
  char *help;
  kind_t kind;
  series_t *series, **series_tail;
} family_t;

struct arq_metrics {
  pthread_mutex_t lock;
  family_t *families, **families_tail;
};

const double arq_metrics_latency_buckets[] = {1e-6,   2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,
                                              1e-4,   2.5e-4, 5e-4,   1e-3, 2.5e-3, 5e-3,
                                              1e-2,   2.5e-2, 5e-2,   0.1,  0.25,   0.5, 1.0};
const size_t arq_metrics_latency_nbuckets =
    sizeof arq_metrics_latency_buckets / sizeof arq_metrics_latency_buckets[0];

static const char *const kind_names[] = {"counter", "gauge", "histogram", "gauge"};

static char *xstrdup(const char *s) {
  char *p = strdup(s ? s : "");
  if (!p)
    arq_oom("metrics");
  return p;
}

static __attribute__((noreturn)) void misuse(const char *name, const char *problem) {
  fprintf(stderr, "fatal: metric %s: %s\n", name, problem);
  abort();
}

static bool valid_name(const char *s, bool allow_colon) {
  if (!s || !*s || (*s >= '0' && *s <= '9'))
    return false;
  for (; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || (allow_colon && c == ':')))
      return false;
  }
  return true;
}

static void escape_label_value(arq_buf_t *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\')
      arq_buf_puts(b, "\\\\");
    else if (*s == '"')
      arq_buf_puts(b, "\\\"");
    else if (*s == '\n')
      arq_buf_puts(b, "\\n");
    else
      arq_buf_putc(b, *s);
  }
}

static char *render_labels(const char *name, const char *const *labels) {
  arq_buf_t b;
  arq_buf_init(&b);
  arq_buf_reserve(&b, 0);
  for (size_t i = 0; labels && labels[i]; i += 2) {
    if (!labels[i + 1])
      misuse(name, "label without a value");
    if (!valid_name(labels[i], false) || !strncmp(labels[i], "__", 2) || !strcmp(labels[i], "le"))
      misuse(name, "invalid label name");
    arq_buf_printf(&b, "%s%s=\"", i ? "," : "", labels[i]);
    escape_label_value(&b, labels[i + 1]);
    arq_buf_putc(&b, '"');
  }
  return b.data;
}

arq_metrics_t *arq_metrics_new(void) {
  arq_metrics_t *m = calloc(1, sizeof *m);
  if (!m)
    arq_oom("metrics");
  pthread_mutex_init(&m->lock, NULL);
  m->families_tail = &m->families;
  return m;
}

void arq_metrics_free(arq_metrics_t *m) {
  if (!m)
    return;
  for (family_t *f = m->families, *fn; f; f = fn) {
    fn = f->next;
    for (series_t *s = f->series, *sn; s; s = sn) {
      sn = s->next;
      free(s->labels);
      free(s);
    }
    free(f->name);
    free(f->help);
    free(f);
  }
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* Finds or creates the series; the caller holds the lock. *created says which. */
static series_t *lookup(arq_metrics_t *m, const char *name, const char *help, kind_t kind,
                        const char *const *labels, bool *created) {
  if (!valid_name(name, true))
    misuse(name ? name : "(null)", "invalid metric name");
  family_t *f = m->families;
  while (f && strcmp(f->name, name))
    f = f->next;
  if (!f) {
    f = calloc(1, sizeof *f);
    if (!f)
      arq_oom("metrics");
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    f->kind = kind;
    f->series_tail = &f->series;
    *m->families_tail = f;
    m->families_tail = &f->next;
  } else if (f->kind != kind) {
    misuse(name, "registered twice with different kinds");
  }
  char *rendered = render_labels(name, labels);
  for (series_t *s = f->series; s; s = s->next) {
    if (!strcmp(s->labels, rendered)) {
      free(rendered);
      *created = false;
      return s;
    }
  }
  series_t *s = calloc(1, sizeof *s);
  if (!s)
    arq_oom("metrics");
  s->labels = rendered;
  *f->series_tail = s;
  f->series_tail = &s->next;
  *created = true;
  return s;
}

arq_counter_t *arq_metrics_counter(arq_metrics_t *m, const char *name, const char *help,
                                   const char *const *labels) {
  bool created;
  pthread_mutex_lock(&m->lock);
  series_t *s = lookup(m, name, help, KIND_COUNTER, labels, &created);
  pthread_mutex_unlock(&m->lock);
  return &s->u.counter;
}

arq_gauge_t *arq_metrics_gauge(arq_metrics_t *m, const char *name, const char *help,
                               const char *const *labels) {
  bool created;
  pthread_mutex_lock(&m->lock);
  series_t *s = lookup(m, name, help, KIND_GAUGE, labels, &created);
  pthread_mutex_unlock(&m->lock);
  return &s->u.gauge;
}

arq_histogram_t *arq_metrics_histogram(arq_metrics_t *m, const char *name, const char *help,
                                       const char *const *labels, const double *bounds,
                                       size_t nbounds) {
  if (nbounds == 0 || nbounds > ARQ_HISTOGRAM_MAX_BUCKETS)
    misuse(name, "histogram needs 1 to 32 bucket bounds");
  for (size_t i = 0; i < nbounds; i++)
    if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
      misuse(name, "histogram bounds must be finite and increasing");
  bool created;
  pthread_mutex_lock(&m->lock);
  series_t *s = lookup(m, name, help, KIND_HISTOGRAM, labels, &created);
  arq_histogram_t *h = &s->u.histogram;
  if (created) {
    h->nbounds = nbounds;
    memcpy(h->bounds, bounds, nbounds * sizeof *bounds);
  } else if (h->nbounds != nbounds || memcmp(h->bounds, bounds, nbounds * sizeof *bounds)) {
    pthread_mutex_unlock(&m->lock);
    misuse(name, "registered twice with different buckets");
  }
  pthread_mutex_unlock(&m->lock);
  return h;
}

void arq_metrics_gauge_fn(arq_metrics_t *m, const char *name, const char *help,
                          double (*read)(void *arg), void *arg) {
  bool created;
  pthread_mutex_lock(&m->lock);
  series_t *s = lookup(m, name, help, KIND_GAUGE_FN, NULL, &created);
  s->u.fn.read = read;
  s->u.fn.arg = arg;
  pthread_mutex_unlock(&m->lock);
}

static uint64_t double_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double bits_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

void arq_histogram_observe(arq_histogram_t *h, double v) {
  size_t i = 0;
  while (i < h->nbounds && v > h->bounds[i])
    i++;
  atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
  uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old,
                                                double_bits(bits_double(old) + v),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

uint64_t arq_histogram_count(const arq_histogram_t *h) {
  uint64_t n = 0;
  for (size_t i = 0; i <= h->nbounds; i++)
    n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
  return n;
}

double arq_histogram_sum(const arq_histogram_t *h) {
  return bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed));
}

/* The shortest of %.15g / %.17g that reads back as the same double. */
static void format_double(char *out, size_t cap, double v) {
  if (isnan(v)) {
    snprintf(out, cap, "NaN");
  } else if (isinf(v)) {
    snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
  } else {
    snprintf(out, cap, "%.15g", v);
    if (strtod(out, NULL) != v)
      snprintf(out, cap, "%.17g", v);
  }
}

static void write_double(arq_buf_t *out, double v) {
  char text[40];
  format_double(text, sizeof text, v);
  arq_buf_puts(out, text);
}

static void write_help(arq_buf_t *out, const family_t *f) {
  arq_buf_printf(out, "# HELP %s ", f->name);
  for (const char *p = f->help; *p; p++) {
    if (*p == '\\')
      arq_buf_puts(out, "\\\\");
    else if (*p == '\n')
      arq_buf_puts(out, "\\n");
    else
      arq_buf_putc(out, *p);
  }
  arq_buf_printf(out, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]);
}

static void write_sample(arq_buf_t *out, const char *name, const char *suffix,
                         const char *labels, const char *extra_label) {
  arq_buf_printf(out, "%s%s", name, suffix);
  if (*labels || extra_label)
    arq_buf_printf(out, "{%s%s%s}", labels, *labels && extra_label ? "," : "",
                   extra_label ? extra_label : "");
  arq_buf_putc(out, ' ');
}

static void write_histogram(arq_buf_t *out, const family_t *f, const series_t *s) {
  const arq_histogram_t *h = &s->u.histogram;
  uint64_t cumulative = 0;
  char le[64], bound[40];
  for (size_t i = 0; i <= h->nbounds; i++) {
    cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    format_double(bound, sizeof bound, i < h->nbounds ? h->bounds[i] : INFINITY);
    snprintf(le, sizeof le, "le=\"%s\"", bound);
    write_sample(out, f->name, "_bucket", s->labels, le);
    arq_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
  }
  write_sample(out, f->name, "_sum", s->labels, NULL);
  write_double(out, arq_histogram_sum(h));
  arq_buf_putc(out, '\n');
  write_sample(out, f->name, "_count", s->labels, NULL);
  arq_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
}

void arq_metrics_write(arq_metrics_t *m, arq_buf_t *out) {
  pthread_mutex_lock(&m->lock);
  for (const family_t *f = m->families; f; f = f->next) {
    write_help(out, f);
    for (const series_t *s = f->series; s; s = s->next) {
      switch (f->kind) {
      case KIND_COUNTER:
        write_sample(out, f->name, "", s->labels, NULL);
        arq_buf_printf(out, "%llu\n", (unsigned long long)arq_counter_get(&s->u.counter));
        break;
      case KIND_GAUGE:
        write_sample(out, f->name, "", s->labels, NULL);
        arq_buf_printf(out, "%lld\n", (long long)arq_gauge_get(&s->u.gauge));
        break;
      case KIND_GAUGE_FN:
        write_sample(out, f->name, "", s->labels, NULL);
        write_double(out, s->u.fn.read(s->u.fn.arg));
        arq_buf_putc(out, '\n');
        break;
      case KIND_HISTOGRAM:
        write_histogram(out, f, s);
        break;
      }
    }
  }
  pthread_mutex_unlock(&m->lock);
}
