#include "wasm/spectest/spectest.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"

#define MAX_INPUT_FILE (256u << 20)

void arq_wasm_spectest_print_val(FILE *out, const arq_wasm_val_t *v) {
  switch (v->type) {
  case ARQ_WASM_I32: fprintf(out, "i32:%" PRId32, v->of.i32); break;
  case ARQ_WASM_I64: fprintf(out, "i64:%" PRId64, v->of.i64); break;
  case ARQ_WASM_F32: fprintf(out, "f32:%.9g", (double)v->of.f32); break;
  default: fprintf(out, "f64:%.17g", v->of.f64); break;
  }
}

/* The whole file (at most MAX_INPUT_FILE bytes; free() it), or NULL. */
static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  arq_buf_t b;
  arq_buf_init(&b);
  char chunk[65536];
  size_t n;
  while (b.len <= MAX_INPUT_FILE && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    arq_buf_append(&b, chunk, n);
  bool bad = ferror(f) || b.len > MAX_INPUT_FILE;
  fclose(f);
  if (bad) {
    arq_buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return b.data ? (uint8_t *)b.data : calloc(1, 1);
}

/* ---- the command file (wast2json output), read with common/json.h ---- */

static const arq_json_value_t *jget(const arq_json_value_t *o, const char *key) {
  return o ? arq_json_object_get(o, key, strlen(key)) : NULL;
}

/* A member that is a string or a number: its text (a number's as written), else NULL. */
static const char *jstr(const arq_json_value_t *o, const char *key) {
  const arq_json_value_t *v = jget(o, key);
  if (!v)
    return NULL;
  const char *s = arq_json_string(v, NULL);
  return s ? s : arq_json_number_text(v, NULL);
}

/* The length of what jstr gives (strings may hold NUL bytes), 0 when it gives NULL. */
static size_t jstr_len(const arq_json_value_t *o, const char *key) {
  const arq_json_value_t *v = jget(o, key);
  size_t len = 0;
  if (v && !arq_json_string(v, &len))
    arq_json_number_text(v, &len);
  return len;
}

/* ---- the runner ---- */

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

/* Values as wast2json writes them. References: "null", or for externref the number N of
 * (ref.extern N), which becomes the host pointer N + 1; an expected non-null funcref
 * (ref.func, written with a number or none) matches any non-null function (*nan_kind 3). */
static int parse_json_val(const arq_json_value_t *j, arq_wasm_val_t *v, int *nan_kind) {
  const char *type = jstr(j, "type"), *value = jstr(j, "value");
  *nan_kind = 0;
  if (type && (!strcmp(type, "funcref") || !strcmp(type, "externref"))) {
    v->type = type[0] == 'f' ? ARQ_WASM_FUNCREF : ARQ_WASM_EXTERNREF;
    v->of.ref = NULL;
    if (v->type == ARQ_WASM_FUNCREF && (!value || strcmp(value, "null")))
      *nan_kind = 3;
    else if (value && strcmp(value, "null"))
      v->of.ref = (void *)(uintptr_t)(strtoull(value, NULL, 10) + 1);
    return !value && v->type == ARQ_WASM_EXTERNREF ? -1 : 0;
  }
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
static arq_wasm_result_t do_action(spec_t *s, const arq_json_value_t *act, arq_wasm_val_t **res,
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
  arq_wasm_extern_t ex;
  if (!arq_wasm_export_lookup(inst, field, jstr_len(act, "field"), &ex) ||
      ex.kind != ARQ_WASM_EXTERN_FUNC)
    return runner_error;
  arq_wasm_func_t *f = ex.of.func;
  const arq_json_value_t *args = jget(act, "args");
  size_t nargs = args ? arq_json_len(args) : 0;
  const arq_wasm_functype_t *t = arq_wasm_func_type(f);
  arq_wasm_val_t *av = calloc(nargs + 1, sizeof *av);
  *res = calloc(t->nresults + 1, sizeof **res);
  if (!av || !*res) {
    free(av);
    return arq_wasm_err_out_of_memory;
  }
  for (size_t i = 0; i < nargs; i++) {
    int nk;
    if (parse_json_val(arq_json_array_get(args, i), &av[i], &nk)) {
      free(av);
      return runner_error;
    }
  }
  arq_wasm_result_t r = arq_wasm_call(inst, f, av, nargs, *res, t->nresults);
  *nres = t->nresults;
  free(av);
  return r;
}

static bool val_matches(const arq_wasm_val_t *got, const arq_json_value_t *want) {
  arq_wasm_val_t w;
  int nan_kind;
  if (parse_json_val(want, &w, &nan_kind) || got->type != w.type)
    return false;
  if (nan_kind == 3)
    return got->of.ref != NULL;
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
  const long *lines;
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
static const char *run_command(spec_t *s, const arq_json_value_t *cmd, bool *na, char *why, size_t whylen) {
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
      const arq_json_value_t *exp = jget(cmd, "expected");
      if (r) {
        snprintf(why, whylen, "unexpected: %s", r);
        fail = why;
      } else if (!exp || arq_json_len(exp) != nres) {
        fail = "wrong number of results";
      } else {
        for (size_t i = 0; i < nres && !fail; i++) {
          const arq_json_value_t *want = arq_json_array_get(exp, i);
          if (!val_matches(&res[i], want)) {
            char got[64];
            FILE *mf = fmemopen(got, sizeof got, "w");
            if (mf) {
              arq_wasm_spectest_print_val(mf, &res[i]);
              fclose(mf);
            } else {
              got[0] = 0;
            }
            snprintf(why, whylen, "result %zu mismatch: got %s (bits 0x%" PRIx64 "), want %s", i,
                     got, res[i].type == ARQ_WASM_F32 ? (uint64_t)res[i].of.f32_bits
                                                      : (uint64_t)res[i].of.i64,
                     jstr(want, "value") ? jstr(want, "value") : "?");
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

int arq_wasm_spectest_run(const char *path, const long *skip, size_t nskip, char *err,
                          size_t errcap) {
  skips_t sk = {skip, nskip};
  size_t len;
  char *text = (char *)read_file(path, &len);
  if (!text) {
    snprintf(err, errcap, "cannot read %s", path);
    return 2;
  }
  arq_json_doc_t doc;
  arq_json_doc_init(&doc, NULL);
  const arq_json_value_t *root = arq_json_parse(&doc, text, len, NULL);
  free(text);
  const arq_json_value_t *cmds = jget(root, "commands");
  if (!cmds || arq_json_type(cmds) != ARQ_JSON_ARRAY) {
    snprintf(err, errcap, "%s: not a wast2json command file", path);
    arq_json_doc_free(&doc);
    return 2;
  }
  spec_t *st = calloc(1, sizeof *st); /* large: on the heap */
  char *dir = strdup(path);
  if (!st || !dir || spectest_init(st)) {
    snprintf(err, errcap, "out of memory");
    if (st)
      spectest_free(st);
    free(st);
    free(dir);
    arq_json_doc_free(&doc);
    return 2;
  }
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = 0;
  st->dir = slash ? dir : ".";
  st->file = path;
  const char *src = jstr(root, "source_filename");
  const char *base = src ? strrchr(src, '/') : NULL;
  base = base ? base + 1 : (src ? src : path);
  size_t passed = 0, total = 0, na = 0, skipped_n = 0;
  char why[512];
  for (size_t i = 0; i < arq_json_len(cmds); i++) {
    const arq_json_value_t *cmd = arq_json_array_get(cmds, i);
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
  arq_json_doc_free(&doc);
  free(dir);
  return passed == total ? 0 : 1;
}
