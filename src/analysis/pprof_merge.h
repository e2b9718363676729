/*
 * pprof_merge.h - several gzipped profiles of ct_pprof_write (one per
 * process of a tree) made one: ids renumbered, strings shared, each sample
 * labelled with its process's pid.
 */
#ifndef CT_PPROF_MERGE_H
#define CT_PPROF_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ct_pprof_merge;

struct ct_pprof_merge *ct_pprof_merge_new(void);
/* Adds one profile (its gzipped bytes); 0, or -1 (bad input, memory). */
int ct_pprof_merge_add(struct ct_pprof_merge *m, const void *gz, size_t len, uint64_t pid);
/* The index of s in the merged string table (added if new). */
uint64_t ct_pprof_merge_string(struct ct_pprof_merge *m, const char *s, size_t len);
/* Writes the merged profile, gzipped; 0, or -1. */
int ct_pprof_merge_write(struct ct_pprof_merge *m, FILE *out);
void ct_pprof_merge_free(struct ct_pprof_merge *m);

#endif
