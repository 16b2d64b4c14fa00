/* Reading whole inputs (files, stdin) for arq's commands, with a bound. */
#ifndef ARQ_CLI_INPUT_H
#define ARQ_CLI_INPUT_H

#include <stddef.h>
#include <stdio.h>

#include "common/buf.h"

/** Appends `f` to `out` until its end, or until more than `max` bytes were read (then
 *  out->len > max tells the caller). Returns 0, or -1 on a read error. */
int arq_cli_read_stream(FILE *f, size_t max, arq_buf_t *out);

/** Reads the file at `path` (at most `max` bytes) into `out`; on failure prints
 *  "prog: path: reason" and returns -1. */
int arq_cli_read_file(const char *prog, const char *path, size_t max, arq_buf_t *out);

#endif
