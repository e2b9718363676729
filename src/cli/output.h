/*
 * output.h - the files the commands write (pprof's profile, export's JSON):
 * never removed or left half-written when the command fails, and never
 * followed through another user's link (src/compat/safe_open.h).
 *
 * A path that names a regular file, or nothing, is written to a new file
 * beside it (PATH.tmp.PID.N, mode 0600 or the old file's) that is renamed
 * over it on success and removed on failure. Any other path (a link such
 * as /dev/stdout, a device, a pipe) is written in place, through a
 * temporary file copied to it on success: on a failure it is not touched.
 * NULL or "-" is standard output, written as it goes (under --strict,
 * once whole, so that a damaged trace prints nothing).
 */
#ifndef CT_CLI_OUTPUT_H
#define CT_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

struct ct_output {
    FILE *f;            /* where the command writes */
    const char *path;   /* NULL: standard output */
    char tmp[4200];     /* the file renamed over path; "" when in place */
    int mode;           /* the replaced file's permissions, or -1 */
    bool held;          /* standard output under --strict: f is a temporary
                           file, copied to it on success */
};

/* Opens the output; on a failure says why on stderr, as "ctrace CMD:
 * cannot write PATH: why", and returns -1. */
int ct_output_open(struct ct_output *o, const char *path, const char *cmd);
/* Puts the output in place; -1 (said on stderr) when that failed. */
int ct_output_commit(struct ct_output *o, const char *cmd);
/* Leaves path as it was. */
void ct_output_abort(struct ct_output *o);

#endif
