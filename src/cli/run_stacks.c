/*
 * run_stacks.c - what `ctrace run` says, once, about programs built without
 * frame pointers: their stacks were walked with .eh_frame tables instead,
 * and what that cost, from the counts the recorder wrote (PROCESS
 * frame_pointers, GEN_END cfi_stacks and cfi_units).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct unwound {
    char first[64];       /* the first such program's name */
    unsigned programs;    /* distinct executables without frame pointers */
    char seen[8][64];
    uint64_t stacks;
    double ns;
};

static void note_program(struct unwound *u, const uint8_t *exe, uint64_t len)
{
    const uint8_t *base = exe;
    for (uint64_t i = 0; i < len; i++)
        if (exe[i] == '/')
            base = exe + i + 1;
    char name[64];
    size_t n = (size_t)(exe + len - base);
    n = n < sizeof name - 1 ? n : sizeof name - 1;
    memcpy(name, base, n);
    name[n] = 0;
    for (unsigned i = 0; i < u->programs && i < 8; i++)
        if (strcmp(u->seen[i], name) == 0)
            return;
    if (u->programs < 8)
        memcpy(u->seen[u->programs], name, sizeof name);
    if (u->programs++ == 0)
        memcpy(u->first, name, sizeof name);
}

/* Adds one trace's figures, if its executable has no frame pointers (its
 * first generation says so: only then is the rest read). */
static void add_trace(struct unwound *u, const char *path)
{
    struct ct_reader rd;
    if (ct_rd_open(&rd, path) != 0)
        return;
    struct ct_gen gen = {0};
    bool counted = false;
    while (ct_rd_next_gen(&rd, &gen) == 1) {
        if (!counted) {
            if (!gen.has_process || gen.process.frame_pointers != 2)
                break;
            note_program(u, gen.process.exe, gen.process.exe_len);
            counted = true;
        }
        u->stacks += gen.cfi_stacks;
        u->ns += (double)gen.cfi_units * (double)gen.q32 / 4294967296.0;
    }
    ct_gen_free(&gen);
    ct_rd_close(&rd);
}

void ct_run_say_unwound(const char (*paths)[PATH_MAX], size_t n)
{
    struct unwound u = {0};
    for (size_t i = 0; i < n; i++)
        add_trace(&u, paths[i]);
    if (u.programs == 0 || u.stacks == 0) /* nothing was unwound: nothing cost */
        return;
    char who[128];
    if (u.programs == 1)
        snprintf(who, sizeof who, "%s was", u.first);
    else
        snprintf(who, sizeof who, "%s and %u other programs were", u.first, u.programs - 1);
    bool ms = u.ns >= 1e6;
    fprintf(stderr, "ctrace run: %s built without frame pointers: %" PRIu64 " stacks were "
                    "unwound from .eh_frame tables instead, %.2f us each (%.*f %s in all)\n",
            who, u.stacks, u.ns / (double)u.stacks / 1e3, ms ? 1 : 0, ms ? u.ns / 1e6 : u.ns / 1e3,
            ms ? "ms" : "us");
}
