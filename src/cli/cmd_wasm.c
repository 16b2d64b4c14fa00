/*
 * cmd_wasm.c — `arq wasm`: run a module from the command line, and the command line of
 * the WebAssembly core spec test runner (src/wasm/spectest).
 *
 * DESIGN
 *   `run` instantiates one module without imports and applies the actions in the
 *   order given, so a session can write input bytes, call, and dump results.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "common/percent.h"
#include "wasm/spectest/spectest.h"
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
          arq_wasm_spectest_print_val(stdout, &res[k]);
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
        int hi = arq_hex_value(rest[2 * k]), lo = arq_hex_value(rest[2 * k + 1]);
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

static int cmd_spectest(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: arq wasm spectest FILE.json [--skip LINE[,LINE...]]\n");
    return 2;
  }
  struct {
    long *lines;
    size_t n;
  } sk = {0};
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
  char err[512];
  int rc = arq_wasm_spectest_run(argv[1], sk.lines, sk.n, err, sizeof err);
  if (rc == 2)
    fprintf(stderr, "arq wasm spectest: %s\n", err);
  free(sk.lines);
  return rc;
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
