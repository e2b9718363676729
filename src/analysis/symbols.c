/*
 * symbols.c - addresses to function, file and line, with libdwfl (elfutils).
 *
 * Each module of a trace's MODULES table is reported to a Dwfl at its load
 * bias; its ELF and debug information are found from its path (and its
 * separate debug file by build-id, as gdb and perf find them). A module
 * whose file is missing, or whose build-id differs from the one the trace
 * recorded (the program was rebuilt since), is never used for names: its
 * addresses print as module+offset, never as a wrong name.
 */
#include "symbols.h"

#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ct_symbols {
    Dwfl *dwfl;
    Dwfl_Callbacks callbacks;
    char *debuginfo_path;
    struct module_entry {
        uint64_t start, end, bias;
        char path[256];
        bool usable; /* the file is there and its build-id matches */
        Dwfl_Module *mod;
    } *modules;
    size_t count;
};

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

struct ct_symbols *ct_symbols_open(const struct ct_gen *gen)
{
    struct ct_symbols *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->callbacks.find_elf = dwfl_build_id_find_elf;
    s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    s->callbacks.debuginfo_path = &s->debuginfo_path;
    s->dwfl = dwfl_begin(&s->callbacks);
    s->modules = calloc(gen->nmodules ? gen->nmodules : 1, sizeof *s->modules);
    if (!s->dwfl || !s->modules) {
        ct_symbols_close(s);
        return NULL;
    }
    dwfl_report_begin(s->dwfl);
    for (size_t i = 0; i < gen->nmodules; i++) {
        const struct ct_rd_module *m = &gen->modules[i];
        struct module_entry *e = &s->modules[s->count++];
        size_t n = m->path_len < sizeof e->path - 1 ? m->path_len : sizeof e->path - 1;
        memcpy(e->path, m->path, n);
        e->path[n] = 0;
        e->start = m->start;
        e->end = m->start + m->size;
        e->bias = m->bias;
        struct stat st;
        if (e->path[0] != '/' || stat(e->path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* the vDSO and friends, or not a file (a hostile trace's /dev/tty) */
        e->mod = dwfl_report_elf(s->dwfl, basename_of(e->path), e->path, -1, m->bias, false);
        if (!e->mod)
            continue;
        const unsigned char *bits;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(e->mod, &bits, &vaddr);
        e->usable = m->build_id_len == 0 ||
                    (len == (int)m->build_id_len && memcmp(bits, m->build_id, (size_t)len) == 0);
    }
    dwfl_report_end(s->dwfl, NULL, NULL);
    return s;
}

void ct_symbols_close(struct ct_symbols *s)
{
    if (!s)
        return;
    if (s->dwfl)
        dwfl_end(s->dwfl);
    free(s->modules);
    free(s);
}

int ct_symbols_lookup(struct ct_symbols *s, uint64_t pc, bool is_return, struct ct_symbol *out)
{
    memset(out, 0, sizeof *out);
    struct module_entry *e = NULL;
    for (size_t i = 0; s && i < s->count; i++)
        if (pc >= s->modules[i].start && pc < s->modules[i].end)
            e = &s->modules[i];
    if (!e) {
        snprintf(out->function, sizeof out->function, "0x%" PRIx64, pc);
        return 0;
    }
    snprintf(out->module, sizeof out->module, "%s", e->path);
    out->offset = pc - e->bias;
    /* A return address points after the call: look up the call itself. */
    uint64_t at = is_return ? pc - 1 : pc;
    const char *name = e->usable && e->mod ? dwfl_module_addrname(e->mod, at) : NULL;
    if (!name) {
        snprintf(out->function, sizeof out->function, "%.200s+0x%" PRIx64, basename_of(e->path),
                 out->offset);
        return 0;
    }
    snprintf(out->function, sizeof out->function, "%s", name);
    out->resolved = true;
    Dwfl_Line *line = dwfl_module_getsrc(e->mod, at);
    int lineno = 0;
    const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file) {
        snprintf(out->file, sizeof out->file, "%s", file);
        out->line = lineno;
    }
    return 1;
}
