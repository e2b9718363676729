/*
 * tree.h - a process tree's traces read as one: the file `ctrace run -o
 * FILE` wrote and its children's FILE.PID and FILE.PID.N (docs/format.md,
 * "Several processes").
 *
 * Each file is one process image: a forked child's, or a program exec'd
 * by a traced process (the same pid, the next N). The tree is found from
 * the files' PROCESS records alone (pid, parent pid, start time, command
 * line), walked record header by record header: no event is read. A child
 * belongs to the image of its parent that was running when it started, so
 * that an exec'd program does not claim its predecessor's children. The
 * command named is the last generation's: a program that rewrites its
 * command line (nginx's workers) is named as it ended.
 *
 * The commands read each file with its own reader, on one time line: time
 * zero is the earliest start of the tree's processes (CLOCK_MONOTONIC is
 * the machine's), so the processes' times compare.
 */
#ifndef CT_TREE_H
#define CT_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../format/reader.h"

struct ct_tree_image {
    char path[4096];
    uint64_t pid, ppid;
    uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC: its session's start, its last time */
    char command[256];         /* the last PROCESS record's, arguments by spaces */
    char exe[256];
    int parent;                /* the image of ppid running at its start; -1 */
    int exec_prev, exec_next;  /* the images before and after it in its pid; -1 */
    unsigned depth;            /* 0 for a root */
};

struct ct_tree {
    struct ct_tree_image *images;
    size_t count;
    uint64_t zero_ns; /* the earliest start */
};

/* Reads the images of paths (a trace and its children's files, in any
 * order). With follow, each path's children are looked for beside it too
 * (FILE.PID[.N] whose parent is in the tree), so `--tree FILE` reads a
 * whole tree. A file that is not a trace is left out with a line on
 * stderr. Images are ordered parents first. 0, or -1 with the reason in
 * err (cap bytes). */
int ct_tree_load(struct ct_tree *t, char *const *paths, size_t n, bool follow, char *err,
                 size_t cap);
void ct_tree_free(struct ct_tree *t);
/* Whether path is a trace a tree can hold (a process image), quietly. */
bool ct_tree_is_image(const char *path);

/* Opens image i's file for reading, on the tree's time line. */
int ct_tree_open(const struct ct_tree *t, size_t i, struct ct_reader *rd);

/* For one trace file alone (ctrace stats FILE): the children started by
 * this image (a fork or spawn while it ran) whose traces lie beside it,
 * and the file of the image it exec'd, if that was traced. pids and
 * paths: up to cap children. Returns how many children. */
size_t ct_tree_neighbours(const char *path, uint64_t *pids, char (*paths)[4096], size_t cap,
                          char *exec_path, size_t exec_cap);

#endif
