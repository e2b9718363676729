/*
 * tree_cmds.h - stats, threads, pprof and export over a process tree
 * (tree_cmds.c): `ctrace CMD FILE FILE.*`, or `ctrace CMD --tree FILE`.
 */
#ifndef CT_TREE_CMDS_H
#define CT_TREE_CMDS_H

#include <stdbool.h>
#include <stdio.h>

#include "../analysis/tree.h"
#include "cli.h"

/* Whether a command's arguments ask for a tree: --tree, or several FILEs. */
bool ct_cli_tree_wanted(int argc, char **argv);
/* Runs cmd (stats, threads, pprof or export) over the tree; its status. */
int ct_cli_tree_run(const struct ct_command *cmd, int argc, char **argv);
/* pprof over a tree: one profile, a sample's process in its pid label. */
int ct_cli_tree_pprof(const struct ct_tree *t, const char *type, const char *output);

/* Writes the rows of one image's `threads --json` array (array, len)
 * without its brackets, each object given "pid", "image" (unless image
 * < 0) and "process" first, a comma before each unless *first. */
void ct_cli_tree_thread_rows(FILE *out, const char *array, size_t len,
                             const struct ct_tree_image *img, long image, bool *first);

#endif
