/*
 * cmd_wasm.c — `arq wasm`: run a module from the command line, and the runner for
 * the WebAssembly core spec tests (wast2json output).
 *
 * DESIGN
 *   `run` instantiates one module without imports and applies the actions in the
 *   order given, so a session can write input bytes, call, and dump results.
 *   `spectest` interprets a wast2json command file with the standard `spectest`
 *   host module; it needs a JSON reader, kept here because only this test tool
 *   needs one: a recursive-descent DOM with a depth limit and a size limit.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "wasm/wasm.h"

/* ---- small file helper ----------------------------------------------------------------- */

#define MAX_INPUT_FILE (256u << 20)

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  arq_buf_t b;
  arq_buf_init(&b);
  int rc = arq_cli_read_stream(f, MAX_INPUT_FILE, &b);
  fclose(f);
  if (rc || b.len > MAX_INPUT_FILE) {
    arq_buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return b.data ? (uint8_t *)b.data : calloc(1, 1);
}

/* ---- values ---------------------------------------------------------------------------- */

static void print_val(FILE *out, const arq_wasm_val_t *v) {
  switch (v->type) {
  case ARQ_WASM_I32: fprintf(out, "i32:%" PRId32, v->of.i32); break;
  case ARQ_WASM_I64: fprintf(out, "i64:%" PRId64, v->of.i64); break;
  case ARQ_WASM_F32: fprintf(out, "f32:%.9g", (double)v->of.f32); break;
  default: fprintf(out, "f64:%.17g", v->of.f64); break;
  }
}

/* Parses TYPE:VALUE as given on the command line. */
static int parse_cli_val(const char *s, arq_wasm_val_t *v) {
  const char *colon = strchr(s, ':');
  if (!colon)
    return -1;
  const char *num = colon + 1;
  char *end;
  errno = 0;
  if (!strncmp(s, "i32:", 4)) {
    long long x = strtoll(num, &end, 0);
    if (x < INT32_MIN || x > UINT32_MAX)
      return -1;
    v->type = ARQ_WASM_I32;
    v->of.i32 = (int32_t)(uint32_t)x;
  } else if (!strncmp(s, "i64:", 4)) {
    if (*num == '-') {
      v->of.i64 = strtoll(num, &end, 0);
    } else {
      v->of.i64 = (int64_t)strtoull(num, &end, 0);
    }
    v->type = ARQ_WASM_I64;
  } else if (!strncmp(s, "f32:", 4)) {
    v->type = ARQ_WASM_F32;
    v->of.f32 = strtof(num, &end);
  } else if (!strncmp(s, "f64:", 4)) {
    v->type = ARQ_WASM_F64;
    v->of.f64 = strtod(num, &end);
  } else {
    return -1;
  }
  return (*num && !*end && errno == 0) ? 0 : -1;
}

/* ---- arq wasm run ---------------------------------------------------------------------- */

static arq_wasm_memory_t *exported_memory(arq_wasm_module_t *m, arq_wasm_instance_t *inst) {
  for (size_t i = 0; i < arq_wasm_module_export_count(m); i++) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_export(m, i, &d);
    if (d.kind == ARQ_WASM_EXTERN_MEMORY)
      return arq_wasm_export_memory(inst, d.name);
  }
  return NULL;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (*s == '-' || !*s)
    return -1;
  *out = strtoull(s, &end, 0);
  return (*end || errno) ? -1 : 0;
}

static const char *kind_name(arq_wasm_extern_kind_t k) {
  static const char *const names[] = {"func", "table", "memory", "global"};
  return (unsigned)k < 4 ? names[k] : "?";
}

static int run_action(arq_wasm_module_t *m, arq_wasm_instance_t *inst, int argc, char **argv,
                      int *i) {
  const char *a = argv[*i];
  if (!strcmp(a, "--call")) {
    if (*i + 1 >= argc) {
      fprintf(stderr, "arq wasm run: --call needs a function name\n");
      return 2;
    }
    const char *name = argv[++*i];
    arq_wasm_func_t *f = arq_wasm_export_func(inst, name);
    if (!f) {
      fprintf(stderr, "arq wasm run: no exported function '%s'\n", name);
      return 2;
    }
    const arq_wasm_functype_t *t = arq_wasm_func_type(f);
    arq_wasm_val_t *args = calloc(t->nparams + 1, sizeof *args);
    arq_wasm_val_t *res = calloc(t->nresults + 1, sizeof *res);
    if (!args || !res) {
      free(args);
      free(res);
      return 2;
    }
    size_t n = 0;
    int rc = 0;
    while (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2)) {
      arq_wasm_val_t v;
      if (n >= t->nparams || parse_cli_val(argv[*i + 1], &v)) {
        fprintf(stderr, "arq wasm run: bad or extra argument '%s' for %s\n", argv[*i + 1], name);
        rc = 2;
        break;
      }
      args[n++] = v;
      ++*i;
    }
    if (!rc) {
      arq_wasm_result_t r = arq_wasm_call(inst, f, args, n, res, t->nresults);
      if (r && arq_wasm_is_trap(r)) {
        printf("trap: %s\n", r);
        rc = 1;
      } else if (r) {
        fprintf(stderr, "arq wasm run: %s: %s (expects %" PRIu32 " arguments)\n", name, r,
                t->nparams);
        rc = 2;
      } else {
        for (uint32_t k = 0; k < t->nresults; k++) {
          if (k)
            putchar(' ');
          print_val(stdout, &res[k]);
        }
        puts(t->nresults ? "" : "-");
      }
    }
    free(args);
    free(res);
    return rc;
  }
  if (!strcmp(a, "--fuel-left")) {
    printf("fuel:%" PRIu64 "\n", arq_wasm_fuel_left(inst));
    return 0;
  }
  if (!strcmp(a, "--write") || !strcmp(a, "--write-file") || !strcmp(a, "--dump")) {
    if (*i + 1 >= argc) {
      fprintf(stderr, "arq wasm run: %s needs an argument\n", a);
      return 2;
    }
    char *spec = argv[++*i];
    arq_wasm_memory_t *mem = exported_memory(m, inst);
    if (!mem) {
      fprintf(stderr, "arq wasm run: the module exports no memory\n");
      return 2;
    }
    char sep = !strcmp(a, "--dump") ? ':' : '=';
    char *at = strchr(spec, sep);
    if (!at) {
      fprintf(stderr, "arq wasm run: bad %s argument '%s'\n", a, spec);
      return 2;
    }
    *at = 0;
    uint64_t addr;
    if (parse_u64(spec, &addr)) {
      fprintf(stderr, "arq wasm run: bad address '%s'\n", spec);
      return 2;
    }
    const char *rest = at + 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (!strcmp(a, "--dump")) {
      uint64_t n;
      if (parse_u64(rest, &n) || n > (64u << 20)) {
        fprintf(stderr, "arq wasm run: bad length '%s'\n", rest);
        return 2;
      }
      buf = malloc(n ? n : 1);
      if (!buf)
        return 2;
      if (arq_wasm_memory_read(mem, addr, buf, n)) {
        fprintf(stderr, "arq wasm run: dump out of bounds\n");
        rc = 1;
      } else {
        for (uint64_t k = 0; k < n; k++)
          printf("%02x", buf[k]);
        putchar('\n');
      }
      free(buf);
      return rc;
    }
    if (!strcmp(a, "--write")) {
      size_t hl = strlen(rest);
      if (hl % 2) {
        fprintf(stderr, "arq wasm run: odd number of hex digits\n");
        return 2;
      }
      buf = malloc(hl / 2 + 1);
      if (!buf)
        return 2;
      for (size_t k = 0; k < hl / 2; k++) {
        int hi = hexval(rest[2 * k]), lo = hexval(rest[2 * k + 1]);
        if (hi < 0 || lo < 0) {
          fprintf(stderr, "arq wasm run: bad hex '%s'\n", rest);
          free(buf);
          return 2;
        }
        buf[k] = (uint8_t)(hi << 4 | lo);
      }
      len = hl / 2;
    } else {
      buf = read_file(rest, &len);
      if (!buf) {
        fprintf(stderr, "arq wasm run: cannot read %s\n", rest);
        return 2;
      }
    }
    if (arq_wasm_memory_write(mem, addr, buf, len)) {
      fprintf(stderr, "arq wasm run: write out of bounds\n");
      rc = 1;
    }
    free(buf);
    return rc;
  }
  fprintf(stderr, "arq wasm run: unknown action '%s'\n", a);
  return 2;
}

static int cmd_run(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: arq wasm run FILE.wasm [--fuel N] [--max-pages N] ACTION...\n"
                    "actions: --call FUNC [TYPE:VALUE...] | --write ADDR=HEX |"
                    " --write-file ADDR=PATH | --dump ADDR:LEN | --fuel-left\n");
    return 2;
  }
  const char *path = argv[1];
  uint64_t fuel = UINT64_MAX, pages = 0;
  int i = 2;
  for (; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--fuel")) {
      if (parse_u64(argv[i + 1], &fuel)) {
        fprintf(stderr, "arq wasm run: bad --fuel\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--max-pages")) {
      if (parse_u64(argv[i + 1], &pages) || pages > 65536) {
        fprintf(stderr, "arq wasm run: bad --max-pages\n");
        return 2;
      }
    } else {
      break;
    }
  }
  size_t len;
  uint8_t *bytes = read_file(path, &len);
  if (!bytes) {
    fprintf(stderr, "arq wasm run: cannot read %s\n", path);
    return 2;
  }
  arq_wasm_module_t *m = NULL;
  size_t off = 0;
  arq_wasm_result_t r = arq_wasm_module_load_diag(bytes, len, &m, &off);
  free(bytes);
  if (r) {
    fprintf(stderr, "arq wasm run: %s: invalid module at byte %zu: %s\n", path, off, r);
    return 2;
  }
  if (arq_wasm_module_import_count(m)) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_import(m, 0, &d);
    fprintf(stderr, "arq wasm run: %s: cannot satisfy import %s.%s (%s): no host module"
                    " is provided to `run`\n", path, d.module, d.name, kind_name(d.kind));
    arq_wasm_module_free(m);
    return 2;
  }
  arq_wasm_limits_t lim = {.max_pages = (uint32_t)pages};
  arq_wasm_instance_t *inst = NULL;
  r = arq_wasm_instantiate(m, NULL, 0, &lim, &inst);
  if (r) {
    if (arq_wasm_is_trap(r))
      printf("trap: %s\n", r);
    else
      fprintf(stderr, "arq wasm run: %s: cannot instantiate: %s\n", path, r);
    arq_wasm_module_free(m);
    return arq_wasm_is_trap(r) ? 1 : 2;
  }
  arq_wasm_set_fuel(inst, fuel);
  int rc = 0;
  for (; i < argc && !rc; i++)
    rc = run_action(m, inst, argc, argv, &i);
  arq_wasm_instance_free(inst);
  arq_wasm_module_free(m);
  return rc;
}

/* ---- a bounded JSON reader ------------------------------------------------------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct jval {
  jtype_t type;
  char *str;          /* strings and numbers (raw text), NUL-terminated */
  size_t len;         /* length of str (strings may hold NUL bytes) */
  char **keys;        /* objects */
  struct jval **kids; /* arrays and objects */
  size_t n;
} jval_t;

typedef struct {
  const char *p, *end;
  int depth;
} jparser_t;

#define JSON_MAX_DEPTH 64

static void jfree(jval_t *v) {
  if (!v)
    return;
  for (size_t i = 0; i < v->n; i++) {
    jfree(v->kids[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->kids);
  free(v->keys);
  free(v->str);
  free(v);
}

static void jskip(jparser_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

static char *jstring(jparser_t *j, size_t *outlen) {
  if (j->p >= j->end || *j->p != '"')
    return NULL;
  j->p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (s && j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\') {
      if (j->p >= j->end)
        break;
      char e = *j->p++;
      unsigned cp = 0;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u':
        if (j->end - j->p < 4)
          goto bad;
        for (int k = 0; k < 4; k++) {
          int h = hexval(j->p[k]);
          if (h < 0)
            goto bad;
          cp = cp << 4 | (unsigned)h;
        }
        j->p += 4;
        if (cp >= 0x80) { /* encode as UTF-8; the last byte is appended below */
          if (n + 4 > cap) {
            char *ns = realloc(s, cap * 2 + 4);
            if (!ns)
              goto bad;
            s = ns;
            cap = cap * 2 + 4;
          }
          if (cp < 0x800) {
            s[n++] = (char)(0xc0 | cp >> 6);
          } else {
            s[n++] = (char)(0xe0 | cp >> 12);
            s[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
          }
          cp = 0x80 | (cp & 0x3f);
        }
        c = (char)cp;
        break;
      default: c = e; break;
      }
    }
    if (n + 2 > cap) {
      char *ns = realloc(s, cap * 2);
      if (!ns)
        goto bad;
      s = ns;
      cap *= 2;
    }
    s[n++] = c;
  }
  if (!s || j->p >= j->end)
    goto bad;
  j->p++;
  s[n] = 0;
  if (outlen)
    *outlen = n;
  return s;
bad:
  free(s);
  return NULL;
}

static jval_t *jparse(jparser_t *j);

static int jpush(jval_t *v, jval_t *kid, char *key) {
  jval_t **nk = realloc(v->kids, (v->n + 1) * sizeof *nk);
  if (!nk)
    return -1;
  v->kids = nk;
  if (v->type == J_OBJ) {
    char **nkeys = realloc(v->keys, (v->n + 1) * sizeof *nkeys);
    if (!nkeys)
      return -1;
    v->keys = nkeys;
    v->keys[v->n] = key;
  }
  v->kids[v->n++] = kid;
  return 0;
}

static jval_t *jparse(jparser_t *j) {
  jskip(j);
  if (j->p >= j->end || j->depth > JSON_MAX_DEPTH)
    return NULL;
  jval_t *v = calloc(1, sizeof *v);
  if (!v)
    return NULL;
  char c = *j->p;
  if (c == '{' || c == '[') {
    v->type = c == '{' ? J_OBJ : J_ARR;
    char close = c == '{' ? '}' : ']';
    j->p++;
    j->depth++;
    jskip(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      j->depth--;
      return v;
    }
    for (;;) {
      char *key = NULL;
      jskip(j);
      if (v->type == J_OBJ) {
        key = jstring(j, NULL);
        jskip(j);
        if (!key || j->p >= j->end || *j->p != ':') {
          free(key);
          goto bad;
        }
        j->p++;
      }
      jval_t *kid = jparse(j);
      if (!kid || jpush(v, kid, key)) {
        free(key);
        jfree(kid);
        goto bad;
      }
      jskip(j);
      if (j->p < j->end && *j->p == ',') {
        j->p++;
        continue;
      }
      if (j->p < j->end && *j->p == close) {
        j->p++;
        break;
      }
      goto bad;
    }
    j->depth--;
    return v;
  }
  if (c == '"') {
    v->type = J_STR;
    if (!(v->str = jstring(j, &v->len)))
      goto bad;
    return v;
  }
  const char *start = j->p;
  while (j->p < j->end && !strchr(",]} \n\r\t", *j->p))
    j->p++;
  size_t n = (size_t)(j->p - start);
  if (n == 0)
    goto bad;
  if (n == 4 && !memcmp(start, "null", 4)) {
    v->type = J_NULL;
    return v;
  }
  v->type = (n == 4 && !memcmp(start, "true", 4)) || (n == 5 && !memcmp(start, "false", 5))
                ? J_BOOL
                : J_NUM;
  v->str = strndup(start, n);
  v->len = n;
  if (!v->str)
    goto bad;
  return v;
bad:
  jfree(v);
  return NULL;
}

static jval_t *jget(const jval_t *o, const char *key) {
  if (!o || o->type != J_OBJ)
    return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (!strcmp(o->keys[i], key))
      return o->kids[i];
  return NULL;
}

static const char *jstr(const jval_t *o, const char *key) {
  const jval_t *v = jget(o, key);
  return v && (v->type == J_STR || v->type == J_NUM) ? v->str : NULL;
}

/* ---- the spec test runner -------------------------------------------------------------- */

#define MAX_NAMED 4096

typedef struct {
  char *name;
  arq_wasm_instance_t *inst;
} named_t;

typedef struct {
  const char *dir;
  const char *file;
  arq_wasm_module_t *modules[MAX_NAMED];
  arq_wasm_instance_t *instances[MAX_NAMED];
  size_t nloaded;
  named_t names[MAX_NAMED], registered[MAX_NAMED];
  size_t nnames, nregistered;
  arq_wasm_instance_t *current;
  /* the spectest host module */
  arq_wasm_func_t *print[7];
  arq_wasm_global_t *g_i32, *g_i64, *g_f32, *g_f64;
  arq_wasm_table_t *table;
  arq_wasm_memory_t *memory;
  arq_wasm_extern_t host[16];
  size_t nhost;
} spec_t;

static arq_wasm_result_t host_print(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                    uint64_t *results) {
  return NULL; /* the output of print is not part of any assertion */
}

static int spectest_init(spec_t *s) {
  static const uint8_t I = ARQ_WASM_I32, L = ARQ_WASM_I64, F = ARQ_WASM_F32, D = ARQ_WASM_F64;
  static const struct {
    const char *name;
    uint8_t params[2];
    uint32_t n;
  } prints[7] = {{"print", {0}, 0},       {"print_i32", {I}, 1},     {"print_i64", {L}, 1},
                 {"print_f32", {F}, 1},   {"print_f64", {D}, 1},     {"print_i32_f32", {I, F}, 2},
                 {"print_f64_f64", {D, D}, 2}};
  for (int i = 0; i < 7; i++) {
    if (arq_wasm_func_new_host(prints[i].params, prints[i].n, NULL, 0, host_print, NULL,
                               &s->print[i]))
      return -1;
    s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", prints[i].name, ARQ_WASM_EXTERN_FUNC,
                                              .of.func = s->print[i]};
  }
  arq_wasm_val_t v = {.type = ARQ_WASM_I32, .of.i32 = 666};
  if (arq_wasm_global_new(v, false, &s->g_i32))
    return -1;
  v = (arq_wasm_val_t){.type = ARQ_WASM_I64, .of.i64 = 666};
  if (arq_wasm_global_new(v, false, &s->g_i64))
    return -1;
  v = (arq_wasm_val_t){.type = ARQ_WASM_F32, .of.f32 = 666.6f};
  if (arq_wasm_global_new(v, false, &s->g_f32))
    return -1;
  v = (arq_wasm_val_t){.type = ARQ_WASM_F64, .of.f64 = 666.6};
  if (arq_wasm_global_new(v, false, &s->g_f64))
    return -1;
  if (arq_wasm_table_new(10, 20, &s->table) || arq_wasm_memory_new(1, 2, &s->memory))
    return -1;
  s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", "global_i32", ARQ_WASM_EXTERN_GLOBAL,
                                            .of.global = s->g_i32};
  s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", "global_i64", ARQ_WASM_EXTERN_GLOBAL,
                                            .of.global = s->g_i64};
  s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", "global_f32", ARQ_WASM_EXTERN_GLOBAL,
                                            .of.global = s->g_f32};
  s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", "global_f64", ARQ_WASM_EXTERN_GLOBAL,
                                            .of.global = s->g_f64};
  s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", "table", ARQ_WASM_EXTERN_TABLE,
                                            .of.table = s->table};
  s->host[s->nhost++] = (arq_wasm_extern_t){"spectest", "memory", ARQ_WASM_EXTERN_MEMORY,
                                            .of.memory = s->memory};
  return 0;
}

static void spectest_free(spec_t *s) {
  for (size_t i = s->nloaded; i-- > 0;) {
    arq_wasm_instance_free(s->instances[i]);
    arq_wasm_module_free(s->modules[i]);
  }
  for (size_t i = 0; i < s->nnames; i++)
    free(s->names[i].name);
  for (size_t i = 0; i < s->nregistered; i++)
    free(s->registered[i].name);
  for (int i = 0; i < 7; i++)
    arq_wasm_func_free(s->print[i]);
  arq_wasm_global_free(s->g_i32);
  arq_wasm_global_free(s->g_i64);
  arq_wasm_global_free(s->g_f32);
  arq_wasm_global_free(s->g_f64);
  arq_wasm_table_free(s->table);
  arq_wasm_memory_free(s->memory);
}

static arq_wasm_instance_t *lookup(named_t *tab, size_t n, const char *name) {
  for (size_t i = n; i-- > 0;)
    if (!strcmp(tab[i].name, name))
      return tab[i].inst;
  return NULL;
}

/* Loads and instantiates; returns the load error, or the instantiation error in *ierr. */
static arq_wasm_result_t load_module(spec_t *s, const char *filename, arq_wasm_module_t **mout,
                                     arq_wasm_instance_t **iout, arq_wasm_result_t *ierr) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", s->dir, filename);
  size_t len;
  uint8_t *bytes = read_file(path, &len);
  *mout = NULL;
  *iout = NULL;
  *ierr = NULL;
  if (!bytes)
    return "cannot read module file";
  arq_wasm_result_t r = arq_wasm_module_load(bytes, len, mout);
  free(bytes);
  if (r)
    return r;
  /* imports: the spectest host module, then registered instances' exports */
  size_t ni = arq_wasm_module_import_count(*mout);
  arq_wasm_extern_t *ext = calloc(ni + s->nhost + 1, sizeof *ext);
  if (!ext)
    return arq_wasm_err_out_of_memory;
  size_t n = 0;
  for (size_t k = 0; k < s->nhost; k++)
    ext[n++] = s->host[k];
  for (size_t i = 0; i < ni; i++) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_import(*mout, i, &d);
    arq_wasm_instance_t *src = lookup(s->registered, s->nregistered, d.module);
    if (!src)
      continue;
    arq_wasm_extern_t e = {d.module, d.name, ARQ_WASM_EXTERN_FUNC, .of.func = NULL};
    if (!arq_wasm_export_lookup(src, d.name, d.name_len, &e))
      continue;
    /* registered names shadow the host module */
    memmove(ext + 1, ext, n * sizeof *ext);
    ext[0] = e;
    n++;
  }
  *ierr = arq_wasm_instantiate(*mout, ext, n, NULL, iout);
  free(ext);
  return NULL;
}

static int keep(spec_t *s, arq_wasm_module_t *m, arq_wasm_instance_t *inst) {
  if (s->nloaded == MAX_NAMED) {
    arq_wasm_instance_free(inst);
    arq_wasm_module_free(m);
    return -1;
  }
  s->modules[s->nloaded] = m;
  s->instances[s->nloaded++] = inst;
  return 0;
}

static int parse_json_val(const jval_t *j, arq_wasm_val_t *v, int *nan_kind) {
  const char *type = jstr(j, "type"), *value = jstr(j, "value");
  *nan_kind = 0;
  if (!type || !value)
    return -1;
  if (!strcmp(value, "nan:canonical"))
    *nan_kind = 1;
  else if (!strcmp(value, "nan:arithmetic"))
    *nan_kind = 2;
  uint64_t bits = *nan_kind ? 0 : strtoull(value, NULL, 10);
  if (!strcmp(type, "i32")) {
    v->type = ARQ_WASM_I32;
    v->of.i32 = (int32_t)(uint32_t)bits;
  } else if (!strcmp(type, "i64")) {
    v->type = ARQ_WASM_I64;
    v->of.i64 = (int64_t)bits;
  } else if (!strcmp(type, "f32")) {
    v->type = ARQ_WASM_F32;
    v->of.f32_bits = (uint32_t)bits;
  } else if (!strcmp(type, "f64")) {
    v->type = ARQ_WASM_F64;
    v->of.f64_bits = bits;
  } else {
    return -1;
  }
  return 0;
}

/* Failures of the runner itself (not of the engine) are this one string, so they are
 * never mistaken for traps. */
static const char runner_error[] = "test harness: action target not found or not supported";

/* Runs an action; on success the results are in res/nres. Returns the trap or error. */
static arq_wasm_result_t do_action(spec_t *s, const jval_t *act, arq_wasm_val_t **res,
                                   size_t *nres) {
  *res = NULL;
  *nres = 0;
  const char *type = jstr(act, "type"), *mod = jstr(act, "module"), *field = jstr(act, "field");
  arq_wasm_instance_t *inst = mod ? lookup(s->names, s->nnames, mod) : s->current;
  if (!inst || !type || !field)
    return runner_error;
  if (!strcmp(type, "get")) {
    arq_wasm_global_t *g = arq_wasm_export_global(inst, field);
    if (!g)
      return runner_error;
    *res = malloc(sizeof **res);
    if (!*res)
      return arq_wasm_err_out_of_memory;
    **res = arq_wasm_global_get(g);
    *nres = 1;
    return NULL;
  }
  const jval_t *fv = jget(act, "field");
  arq_wasm_extern_t ex;
  if (!arq_wasm_export_lookup(inst, field, fv->len, &ex) || ex.kind != ARQ_WASM_EXTERN_FUNC)
    return runner_error;
  arq_wasm_func_t *f = ex.of.func;
  const jval_t *args = jget(act, "args");
  size_t nargs = args ? args->n : 0;
  const arq_wasm_functype_t *t = arq_wasm_func_type(f);
  arq_wasm_val_t *av = calloc(nargs + 1, sizeof *av);
  *res = calloc(t->nresults + 1, sizeof **res);
  if (!av || !*res) {
    free(av);
    return arq_wasm_err_out_of_memory;
  }
  for (size_t i = 0; i < nargs; i++) {
    int nk;
    if (parse_json_val(args->kids[i], &av[i], &nk)) {
      free(av);
      return runner_error;
    }
  }
  arq_wasm_result_t r = arq_wasm_call(inst, f, av, nargs, *res, t->nresults);
  *nres = t->nresults;
  free(av);
  return r;
}

static bool val_matches(const arq_wasm_val_t *got, const jval_t *want) {
  arq_wasm_val_t w;
  int nan_kind;
  if (parse_json_val(want, &w, &nan_kind) || got->type != w.type)
    return false;
  if (nan_kind) {
    uint64_t b = got->type == ARQ_WASM_F32 ? got->of.f32_bits : got->of.f64_bits;
    if (got->type == ARQ_WASM_F32)
      return nan_kind == 1 ? (b & 0x7fffffffu) == 0x7fc00000u : (b & 0x7fc00000u) == 0x7fc00000u;
    if (got->type == ARQ_WASM_F64)
      return nan_kind == 1 ? (b & 0x7fffffffffffffffu) == 0x7ff8000000000000u
                           : (b & 0x7ff8000000000000u) == 0x7ff8000000000000u;
    return false;
  }
  switch (got->type) {
  case ARQ_WASM_I32: return got->of.i32 == w.of.i32;
  case ARQ_WASM_I64: return got->of.i64 == w.of.i64;
  case ARQ_WASM_F32: return got->of.f32_bits == w.of.f32_bits;
  default: return got->of.f64_bits == w.of.f64_bits;
  }
}

typedef struct {
  long *lines;
  size_t n;
} skips_t;

static bool skipped(const skips_t *sk, long line) {
  for (size_t i = 0; i < sk->n; i++)
    if (sk->lines[i] == line)
      return true;
  return false;
}

/* Returns NULL when the command passes, else a description of the failure. Sets *na
 * when the command does not apply to a binary-only engine. */
static const char *run_command(spec_t *s, const jval_t *cmd, bool *na, char *why, size_t whylen) {
  const char *type = jstr(cmd, "type");
  *na = false;
  if (!type)
    return "command without type";
  if (!strcmp(type, "module")) {
    arq_wasm_module_t *m;
    arq_wasm_instance_t *inst;
    arq_wasm_result_t ierr;
    const char *fn = jstr(cmd, "filename");
    if (!fn)
      return "module without filename";
    arq_wasm_result_t r = load_module(s, fn, &m, &inst, &ierr);
    if (r || ierr) {
      snprintf(why, whylen, "module %s failed: %s", fn, r ? r : ierr);
      if (inst)
        keep(s, m, inst); /* a start trap: the instance may be referenced by tables */
      else
        arq_wasm_module_free(m);
      s->current = NULL;
      return why;
    }
    if (keep(s, m, inst))
      return "too many modules";
    s->current = inst;
    const char *name = jstr(cmd, "name");
    if (name && s->nnames < MAX_NAMED) {
      s->names[s->nnames].name = strdup(name);
      s->names[s->nnames++].inst = inst;
    }
    return NULL;
  }
  if (!strcmp(type, "register")) {
    const char *as = jstr(cmd, "as"), *name = jstr(cmd, "name");
    arq_wasm_instance_t *inst = name ? lookup(s->names, s->nnames, name) : s->current;
    if (!as || !inst || s->nregistered == MAX_NAMED)
      return "register: no such module";
    s->registered[s->nregistered].name = strdup(as);
    s->registered[s->nregistered++].inst = inst;
    return NULL;
  }
  if (!strcmp(type, "action") || !strcmp(type, "assert_return") ||
      !strcmp(type, "assert_trap") || !strcmp(type, "assert_exhaustion")) {
    arq_wasm_val_t *res;
    size_t nres;
    arq_wasm_result_t r = do_action(s, jget(cmd, "action"), &res, &nres);
    const char *fail = NULL;
    if (!strcmp(type, "action")) {
      if (r) {
        snprintf(why, whylen, "action failed: %s", r);
        fail = why;
      }
    } else if (!strcmp(type, "assert_return")) {
      const jval_t *exp = jget(cmd, "expected");
      if (r) {
        snprintf(why, whylen, "unexpected: %s", r);
        fail = why;
      } else if (!exp || exp->n != nres) {
        fail = "wrong number of results";
      } else {
        for (size_t i = 0; i < nres && !fail; i++) {
          if (!val_matches(&res[i], exp->kids[i])) {
            char got[64];
            FILE *mf = fmemopen(got, sizeof got, "w");
            if (mf) {
              print_val(mf, &res[i]);
              fclose(mf);
            } else {
              got[0] = 0;
            }
            snprintf(why, whylen, "result %zu mismatch: got %s (bits 0x%" PRIx64 "), want %s", i,
                     got, res[i].type == ARQ_WASM_F32 ? (uint64_t)res[i].of.f32_bits
                                                      : (uint64_t)res[i].of.i64,
                     jstr(exp->kids[i], "value") ? jstr(exp->kids[i], "value") : "?");
            fail = why;
          }
        }
      }
    } else {
      const char *text = jstr(cmd, "text");
      /* the spec's trap messages are prefixes of ours (e.g. "uninitialized" of
       * "uninitialized element") */
      if (!r || r == runner_error || !arq_wasm_is_trap(r) ||
          (text && strncmp(r, text, strlen(text)))) {
        snprintf(why, whylen, "expected trap \"%s\", got %s", text ? text : "",
                 r ? r : "success");
        fail = why;
      }
    }
    free(res);
    return fail;
  }
  if (!strcmp(type, "assert_invalid") || !strcmp(type, "assert_malformed")) {
    const char *mt = jstr(cmd, "module_type");
    if (mt && strcmp(mt, "binary")) {
      *na = true;
      return NULL;
    }
    const char *fn = jstr(cmd, "filename");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s->dir, fn ? fn : "");
    size_t len;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes)
      return "cannot read module file";
    arq_wasm_module_t *m = NULL;
    arq_wasm_result_t r = arq_wasm_module_load(bytes, len, &m);
    free(bytes);
    arq_wasm_module_free(m);
    const char *text = jstr(cmd, "text");
    if (!r) {
      snprintf(why, whylen, "module %s loaded, expected \"%s\"", fn, text);
      return why;
    }
    if (getenv("ARQ_WASM_SPEC_MESSAGES") && text && strncmp(r, text, strlen(text)))
      printf("note: %s: got \"%s\", spec says \"%s\"\n", fn, r, text);
    return NULL;
  }
  if (!strcmp(type, "assert_unlinkable") || !strcmp(type, "assert_uninstantiable")) {
    arq_wasm_module_t *m;
    arq_wasm_instance_t *inst;
    arq_wasm_result_t ierr;
    const char *fn = jstr(cmd, "filename");
    arq_wasm_result_t r = load_module(s, fn ? fn : "", &m, &inst, &ierr);
    if (r) {
      snprintf(why, whylen, "module %s failed to load: %s", fn, r);
      arq_wasm_module_free(m);
      return why;
    }
    if (inst)
      keep(s, m, inst); /* instantiated, or trapped in start: either way it may be referenced */
    else
      arq_wasm_module_free(m);
    const char *text = jstr(cmd, "text");
    if (!ierr) {
      snprintf(why, whylen, "module %s instantiated, expected \"%s\"", fn, text);
      return why;
    }
    if (getenv("ARQ_WASM_SPEC_MESSAGES") && text && strncmp(ierr, text, strlen(text)))
      printf("note: %s: got \"%s\", spec says \"%s\"\n", fn, ierr, text);
    return NULL;
  }
  snprintf(why, whylen, "unknown command type %s", type);
  return why;
}

static int cmd_spectest(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: arq wasm spectest FILE.json [--skip LINE[,LINE...]]\n");
    return 2;
  }
  skips_t sk = {0};
  for (int i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--skip")) {
      fprintf(stderr, "arq wasm spectest: unknown option %s\n", argv[i]);
      return 2;
    }
    for (char *p = argv[i + 1]; *p;) {
      char *end;
      long line = strtol(p, &end, 10);
      if (end == p)
        break;
      long *nl = realloc(sk.lines, (sk.n + 1) * sizeof *nl);
      if (!nl)
        break;
      sk.lines = nl;
      sk.lines[sk.n++] = line;
      p = *end == ',' ? end + 1 : end;
    }
  }
  size_t len;
  char *text = (char *)read_file(argv[1], &len);
  if (!text) {
    fprintf(stderr, "arq wasm spectest: cannot read %s\n", argv[1]);
    free(sk.lines);
    return 2;
  }
  jparser_t jp = {text, text + len, 0};
  jval_t *root = jparse(&jp);
  free(text);
  const jval_t *cmds = jget(root, "commands");
  if (!cmds || cmds->type != J_ARR) {
    fprintf(stderr, "arq wasm spectest: %s: not a wast2json command file\n", argv[1]);
    jfree(root);
    free(sk.lines);
    return 2;
  }
  spec_t *st = calloc(1, sizeof *st); /* large: on the heap */
  if (!st) {
    jfree(root);
    free(sk.lines);
    return 2;
  }
  char *dir = strdup(argv[1]);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash)
    *slash = 0;
  st->dir = slash ? dir : ".";
  st->file = argv[1];
  if (spectest_init(st)) {
    fprintf(stderr, "arq wasm spectest: out of memory\n");
    spectest_free(st);
    free(st);
    free(dir);
    jfree(root);
    free(sk.lines);
    return 2;
  }
  const char *src = jstr(root, "source_filename");
  const char *base = src ? strrchr(src, '/') : NULL;
  base = base ? base + 1 : (src ? src : argv[1]);
  size_t passed = 0, total = 0, na = 0, skipped_n = 0;
  char why[512];
  for (size_t i = 0; i < cmds->n; i++) {
    const jval_t *cmd = cmds->kids[i];
    const char *type = jstr(cmd, "type");
    const char *ls = jstr(cmd, "line");
    long line = ls ? strtol(ls, NULL, 10) : 0;
    bool is_register = type && !strcmp(type, "register");
    if (!is_register && skipped(&sk, line)) {
      skipped_n++;
      continue;
    }
    bool not_applicable;
    const char *fail = run_command(st, cmd, &not_applicable, why, sizeof why);
    if (is_register && !fail)
      continue;
    if (not_applicable) {
      na++;
      continue;
    }
    total++;
    if (fail)
      printf("%s:%ld: %s: %s\n", base, line, type ? type : "?", fail);
    else
      passed++;
  }
  printf("%zu/%zu passed", passed, total);
  if (na || skipped_n)
    printf(" (%zu text modules not applicable, %zu skipped)", na, skipped_n);
  putchar('\n');
  spectest_free(st);
  free(st);
  jfree(root);
  free(dir);
  free(sk.lines);
  return passed == total ? 0 : 1;
}

int arq_cmd_wasm(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "run"))
    return cmd_run(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "spectest"))
    return cmd_spectest(argc - 1, argv + 1);
  fprintf(stderr, "usage: arq wasm run FILE.wasm [--fuel N] [--max-pages N] ACTION...\n"
                  "       arq wasm spectest FILE.json [--skip LINE[,LINE...]]\n");
  return 2;
}
