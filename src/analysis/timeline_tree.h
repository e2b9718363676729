/*
 * timeline_tree.h - `ctrace view` over a process tree: one timeline per
 * process image (a trace file of the tree, src/analysis/tree.h), answered
 * as one (timeline_tree.c).
 *
 * Each image's timeline is built and queried as a single trace's is, on
 * the tree's time line (time zero: the tree's first start; every file's
 * clock is the machine's CLOCK_MONOTONIC, so times compare). The answers
 * put the images' pieces together:
 *
 *   - threads: every image's lanes, each with its pid and image. A lane is
 *     named by its tid; when a tid is also another image's (an exec'd
 *     program keeps its pid, so its main thread's tid; or a tid reused by
 *     the kernel), the later image's tids are qualified: tid | image << 32
 *     (JavaScript numbers hold that exactly), with the real one in os_tid;
 *   - CPUs: one lane per CPU number, every image's runs on it (one
 *     machine: CPU n is the same CPU in every file);
 *   - counters: per image, named with its pid ("heap (pid 12 sh)");
 *   - strings: the images' tables one after another, each image's indices
 *     moved by the strings before it; task rows likewise, a task item
 *     carrying its image (task ids are their process's).
 */
#ifndef CT_TIMELINE_TREE_H
#define CT_TIMELINE_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "timeline.h"
#include "tree.h"

/* The most images one view holds: each keeps its file mapped and open and
 * an index of its own. */
#define CT_TL_TREE_MAX 256

struct ct_tl_tree {
    struct ct_tree tree;     /* the images, parents first */
    struct ct_reader *src;   /* per image: its file, mapped (windows read it) */
    struct ct_timeline *tl;  /* per image */
    size_t n;
    int64_t begin, end;
    int *cpus; /* every image's CPU numbers, sorted, each once */
    size_t ncpus;
};

/* Opens the images' files (mapped) on the tree's time line; t->tree must
 * be loaded (ct_tree_load) and holds at most CT_TL_TREE_MAX images. 0, or
 * -1 with the failing reader's error in err. */
int ct_tl_tree_open(struct ct_tl_tree *t, char *err, size_t cap);
/* Builds every image's timeline (parts as ct_timeline_build's) and joins
 * them: the lanes' keys, the strings' and task rows' places. 0, or -1
 * with the error in err; an image damaged part-way is kept up to the
 * damage, its error in err all the same (damaged set). */
int ct_tl_tree_build(struct ct_tl_tree *t, unsigned parts, bool *damaged, char *err, size_t cap);
void ct_tl_tree_free(struct ct_tl_tree *t);

/* The image of a lane's key and its tid there; -1 when there is none. */
int ct_tl_tree_find(const struct ct_tl_tree *t, uint64_t key, uint64_t *tid);

/* As ct_timeline_summary_json and ct_timeline_query_json, over the tree:
 * the summary adds "tree":true, "processes" (per image: pid, ppid,
 * command, file, parent image, exec'd-from image, depth) and
 * "counter_images" (each counter's image). */
void ct_tl_tree_summary_json(const struct ct_tl_tree *t, FILE *out);
int ct_tl_tree_query_json(struct ct_tl_tree *t, int64_t t0, int64_t t1, unsigned px, FILE *out);

#endif
