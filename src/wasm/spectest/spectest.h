/*
 * spectest.h — the runner of the WebAssembly core spec tests: it interprets a wast2json
 * command file (JSON, read with common/json.h) against the engine, with the standard
 * `spectest` host module, and reports each failing command and a summary. `arq wasm
 * spectest` is its command line; tests/conformance/wasm.cmake runs it on every file.
 *
 * DESIGN
 *   Only binary modules are checked (a binary-only engine has nothing to say about text
 *   modules: those commands are counted as not applicable). Modules are kept, named and
 *   registered as the commands say, so later modules can import from earlier ones; a trap
 *   in a start function keeps its instance, which tables may still reference. Failures of
 *   the runner itself are one constant string, never mistaken for a trap. The engine's own
 *   messages may be longer than the spec's: the spec's are compared as prefixes.
 */
#ifndef ARQ_WASM_SPECTEST_H
#define ARQ_WASM_SPECTEST_H

#include <stddef.h>
#include <stdio.h>

#include "wasm/wasm.h"

/**
 * Runs the command file at `path`; the commands on the lines in skip[0..nskip) are skipped
 * (register commands excepted). Prints "FILE:LINE: TYPE: reason" for each failure and
 * "P/T passed ..." to stdout. Returns 0 when every command passed, 1 when some failed, 2
 * with a message in err when the file could not be run at all.
 */
int arq_wasm_spectest_run(const char *path, const long *skip, size_t nskip, char *err,
                          size_t errcap);

/** Prints a value as TYPE:VALUE ("i32:-1", "f64:0.5"), as `arq wasm run` shows results. */
void arq_wasm_spectest_print_val(FILE *out, const arq_wasm_val_t *v);

#endif
