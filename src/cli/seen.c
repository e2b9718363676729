/*
 * seen.c - a trace that shows nothing of its program, said plainly
 * (seen.h).
 */
#include "seen.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../format/reader.h"

static bool read_at(int fd, off_t at, void *buf, size_t len)
{
    return pread(fd, buf, len, at) == (ssize_t)len;
}

/* path itself when it has a slash, else its place in PATH. */
static bool find_command(const char *command, char *out, size_t cap)
{
    if (strchr(command, '/'))
        return (size_t)snprintf(out, cap, "%s", command) < cap;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        if ((size_t)snprintf(out, cap, "%.*s/%s", (int)n, n ? p : ".", command) < cap &&
            access(out, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

/* Whether the section names (a table of len bytes) name a Go section. */
static bool names_go(const char *names, size_t len, const Elf64_Shdr *sh, unsigned n)
{
    static const char *const go[] = {".go.buildinfo", ".note.go.buildid"};
    for (unsigned i = 0; i < n; i++)
        for (size_t g = 0; g < sizeof go / sizeof go[0]; g++) {
            size_t glen = strlen(go[g]) + 1;
            if (sh[i].sh_name < len && len - sh[i].sh_name >= glen &&
                memcmp(names + sh[i].sh_name, go[g], glen) == 0)
                return true;
        }
    return false;
}

/* Read with a few preads (the headers' tables whole): this runs after
 * every traced program. */
enum ct_exe_kind ct_exe_kind(const char *command)
{
    char path[PATH_MAX];
    if (!find_command(command, path, sizeof path))
        return CT_EXE_UNKNOWN;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CT_EXE_UNKNOWN;
    enum ct_exe_kind kind = CT_EXE_UNKNOWN;
    Elf64_Phdr *ph = NULL;
    Elf64_Shdr *sh = NULL;
    char *names = NULL;
    Elf64_Ehdr eh;
    if (!read_at(fd, 0, &eh, sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phnum > 512 || eh.e_shnum > 4096)
        goto out;
    kind = CT_EXE_STATIC;
    ph = malloc((eh.e_phnum ? eh.e_phnum : 1) * sizeof *ph);
    if (ph && read_at(fd, (off_t)eh.e_phoff, ph, eh.e_phnum * sizeof *ph))
        for (unsigned i = 0; i < eh.e_phnum; i++)
            if (ph[i].p_type == PT_INTERP)
                kind = CT_EXE_DYNAMIC;
    /* Section names: the table of names is section e_shstrndx. */
    if (eh.e_shstrndx >= eh.e_shnum)
        goto out;
    sh = malloc(eh.e_shnum * sizeof *sh);
    if (!sh || !read_at(fd, (off_t)eh.e_shoff, sh, eh.e_shnum * sizeof *sh))
        goto out;
    const Elf64_Shdr *table = &sh[eh.e_shstrndx];
    if (table->sh_size == 0 || table->sh_size > (1u << 20))
        goto out;
    names = malloc(table->sh_size);
    if (names && read_at(fd, (off_t)table->sh_offset, names, table->sh_size) &&
        names_go(names, table->sh_size, sh, eh.e_shnum))
        kind = CT_EXE_GO;
out:
    free(names);
    free(sh);
    free(ph);
    close(fd);
    return kind;
}

/* Whether the trace holds an event of the program's (not the tracer's own
 * counters); *complete: it has its end record. */
static bool has_events(const char *path, bool *complete, char *exe, size_t cap)
{
    struct ct_reader rd;
    struct ct_gen gen = {0};
    bool found = false;
    *complete = false;
    exe[0] = 0;
    if (ct_rd_open(&rd, path) != 0)
        return true; /* not ours to judge: the reader says what is wrong */
    while (!found && ct_rd_next_gen(&rd, &gen) == 1) {
        if (!exe[0] && gen.has_process)
            snprintf(exe, cap, "%.*s", (int)gen.process.exe_len, gen.process.exe);
        for (size_t b = 0; b < gen.nbatches && !found; b++) {
            const struct ct_rd_batch *batch = &gen.batches[b];
            bool tracer = false;
            for (size_t t = 0; t < gen.nthreads; t++)
                if (gen.threads[t].tid == batch->tid)
                    tracer = gen.threads[t].flags & CT_THREAD_FLAG_TRACER;
            found = !tracer && batch->end > batch->events;
        }
    }
    *complete = rd.end_off != 0;
    if (rd.failed)
        found = true; /* damaged: ctrace stats says so */
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    return found;
}

void ct_say_if_unseen(const char *command, const char *output)
{
    struct stat st;
    if (stat(output, &st) != 0)
        return;
    if (st.st_size == 0) {
        enum ct_exe_kind kind = ct_exe_kind(command);
        fprintf(stderr, "ctrace run: %s was not traced: %s\n", command,
                kind == CT_EXE_GO ? "it is a Go program linked statically, which the preload "
                                    "library cannot load into (go tool trace traces Go)"
                : kind == CT_EXE_STATIC ? "it is linked statically, and the preload library "
                                          "loads only into programs linked with the C library"
                                        : "it did not load the preload library (a static "
                                          "program, or one that cleared LD_PRELOAD)");
        return;
    }
    bool complete;
    char exe[PATH_MAX];
    bool events = has_events(output, &complete, exe, sizeof exe);
    /* A Go program: a few events at most (the kernel's view of threads
     * that no wrapper saw block), whatever it did. */
    if (ct_exe_kind(exe[0] ? exe : command) == CT_EXE_GO)
        fprintf(stderr, "ctrace run: %s saw no threads of it: it is a Go program, whose runtime "
                        "makes its threads and system calls without the C library that ctrace "
                        "records%s (go tool trace traces Go)\n", command,
                complete ? "" : ", and ends without its exit, so the trace was never completed");
    else if (!events && !complete)
        fprintf(stderr, "ctrace run: %s recorded no events and ended without the C library's "
                        "exit (as Go programs do): its trace was never completed\n", command);
}
