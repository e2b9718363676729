/*
 * symbols.c - addresses to function, file and line, with libdwfl (elfutils).
 *
 * Each module of a trace's MODULES table is looked up in its file at its
 * address less the load bias; the file's ELF and debug information are
 * found from its path (and its separate debug file by build-id, as gdb and
 * perf find them). A module
 * whose file is missing, or whose build-id differs from the one the trace
 * recorded (the program was rebuilt since), is never used for names: its
 * addresses print as module+offset, never as a wrong name.
 */
#include "symbols.h"

#include "idset.h"
#include "symbol_cache.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* libdw, loaded with dlopen the first time symbols are asked for: linked
 * in, it and its compression libraries cost every start of ctrace about
 * 1 ms, `ctrace run` included. Without it, names come only from the
 * symbols a trace embeds. */
#define DW_FUNCTIONS(X)                                                       \
    X(dwfl_begin) X(dwfl_end) X(dwfl_report_begin) X(dwfl_report_elf)         \
    X(dwfl_report_end) X(dwfl_module_build_id) X(dwfl_module_addrdie)         \
    X(dwfl_module_addrname) X(dwfl_module_getsrc) X(dwfl_lineinfo)            \
    X(dwfl_build_id_find_elf) X(dwfl_standard_find_debuginfo)                 \
    X(dwfl_module_getsymtab) X(dwfl_module_getsym_info)                       \
    X(dwarf_getscopes) X(dwarf_getscopes_die) X(dwarf_tag) X(dwarf_attr)      \
    X(dwarf_attr_integrate) X(dwarf_formudata) X(dwarf_formstring)            \
    X(dwarf_getsrcfiles) X(dwarf_filesrc)

static struct {
#define DW_FIELD(f) __typeof__(f) *f;
    DW_FUNCTIONS(DW_FIELD)
#undef DW_FIELD
    bool loaded;
} dw;
static pthread_once_t dw_once = PTHREAD_ONCE_INIT;

static void dw_load_once(void)
{
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
#define DW_LOAD(f)                                                            \
    if (!(dw.f = (__typeof__(f) *)dlsym(lib, #f)))                            \
        return;
    DW_FUNCTIONS(DW_LOAD)
#undef DW_LOAD
    dw.loaded = true;
}

static bool dw_load(void)
{
    pthread_once(&dw_once, dw_load_once);
    return dw.loaded;
}

/* One module file opened with libdw: its own Dwfl, the module reported at
 * address 0 so that it is looked up at an address less its load bias. A
 * file is opened once for every trace that maps it (a build's hundreds of
 * processes all map libc, whose separate debug file takes tens of ms to
 * open), and is known by its device, inode, size and modification time:
 * a file rebuilt under the same path is opened anew. A Dwfl is not
 * thread-safe: every call on one is made under files_lock. */
struct dw_file {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    Dwfl *dwfl;
    Dwfl_Callbacks callbacks;
    char *debuginfo_path;
    Dwfl_Module *mod;
    const unsigned char *build_id;
    int build_id_len;
    struct file_sym *syms; /* the symbols by address, built at the first lookup */
    size_t nsyms;
    bool syms_built;
    /* The addresses in no symbol of the table, as libdwfl named them (id:
     * address + 1; data: the name): a stripped program's frames. */
    struct ct_idmap slow;
    struct ct_frame_cache cache; /* frames named from DWARF, kept between runs */
    unsigned refs;
    uint64_t used; /* files_clock when last let go */
    struct dw_file *next;
};

/* Files no trace holds stay open, up to IDLE_FILES of them, the least
 * recently used closed first. */
enum { IDLE_FILES = 32 };
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dw_file *open_files;
static uint64_t files_clock;

/* A symbol of a file's table. libdwfl finds the symbol at an address by
 * going through the whole table, which for a large program (cc1's tens of
 * thousands of symbols) cost milliseconds a lookup: these are sorted by
 * address once, and the few that contain an address are chosen from as
 * libdwfl chooses (file_symbol). `reach` is the highest end of any symbol
 * up to this one, which bounds the search back for those. */
struct file_sym {
    uint64_t start, size, reach;
    const char *name; /* in the file's string table, while its Dwfl lives */
    int bind;         /* global 3, weak 2, local 1 */
    int index;        /* in the table */
};

static int file_sym_order(const void *pa, const void *pb)
{
    const struct file_sym *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->index - b->index;
}

static void file_syms_build(struct dw_file *f)
{
    if (f->syms_built)
        return;
    f->syms_built = true;
    int n = dw.dwfl_module_getsymtab(f->mod);
    if (n <= 0 || !(f->syms = malloc((size_t)n * sizeof *f->syms)))
        return;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name = dw.dwfl_module_getsym_info(f->mod, i, &sym, &addr, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
        /* Neither one of no size (libdwfl's own search finds those, for
         * the rare address no other contains) nor one of a section that
         * is not loaded. */
        if (!name || !*name || sym.st_shndx == SHN_UNDEF || shndx == (GElf_Word)-1 ||
            sym.st_size == 0 || type == STT_SECTION || type == STT_FILE || type == STT_TLS)
            continue;
        f->syms[f->nsyms++] = (struct file_sym){
            .start = addr, .size = sym.st_size, .name = name, .index = i,
            .bind = bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : bind == STB_LOCAL ? 1 : 0};
    }
    qsort(f->syms, f->nsyms, sizeof *f->syms, file_sym_order);
    uint64_t reach = 0;
    for (size_t i = 0; i < f->nsyms; i++) {
        uint64_t end = f->syms[i].start + f->syms[i].size;
        reach = end > reach ? end : reach;
        f->syms[i].reach = reach;
    }
}

static int by_index(const void *pa, const void *pb)
{
    const struct file_sym *a = *(const struct file_sym *const *)pa;
    const struct file_sym *b = *(const struct file_sym *const *)pb;
    return a->index - b->index;
}

/* Of the symbols that contain an address, in table order, the one libdwfl
 * names: the closest start, or the stronger binding; at one start, the
 * smaller size at no weaker binding; else the first. Locals only when no
 * global or weak symbol contains it. */
static const struct file_sym *file_symbol_choose(const struct file_sym **c, size_t n)
{
    for (int locals = 0; locals < 2; locals++) {
        const struct file_sym *best = NULL;
        for (size_t i = 0; i < n; i++) {
            const struct file_sym *s = c[i];
            if ((s->bind <= 1) != locals)
                continue;
            if (!best || best->start < s->start || best->bind < s->bind)
                best = s;
            else if (best->start == s->start &&
                     ((best->size > s->size && best->bind <= s->bind) ||
                      (best->size >= s->size && best->bind < s->bind)))
                best = s;
        }
        if (best)
            return best;
    }
    return NULL;
}

/* libdwfl's own name for at, searched once for each address. */
static const char *slow_symbol(struct dw_file *f, uint64_t at)
{
    bool added;
    struct ct_idmap_entry *e = ct_idmap_put(&f->slow, at + 1, &added);
    if (!e)
        return dw.dwfl_module_addrname(f->mod, at);
    if (added)
        e->data = (const uint8_t *)dw.dwfl_module_addrname(f->mod, at);
    return (const char *)e->data;
}

/* The name of the symbol at `at` (an address of the file), as
 * dwfl_module_addrname gives it; NULL when none. Called with files_lock
 * held. */
static const char *file_symbol(struct dw_file *f, uint64_t at)
{
    file_syms_build(f);
    size_t lo = 0, hi = f->nsyms; /* the first symbol after at */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].start <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    enum { MAX_AROUND = 64 };
    const struct file_sym *around[MAX_AROUND];
    size_t n = 0;
    for (size_t i = lo; i-- > 0 && f->syms[i].reach > at;) {
        if (at - f->syms[i].start >= f->syms[i].size)
            continue;
        if (n == MAX_AROUND)
            return dw.dwfl_module_addrname(f->mod, at);
        around[n++] = &f->syms[i];
    }
    if (n == 0) /* none, or only a symbol of no size below it (an assembly label) */
        return slow_symbol(f, at);
    qsort(around, n, sizeof *around, by_index);
    return file_symbol_choose(around, n)->name;
}

static void dw_file_free(struct dw_file *f)
{
    dw.dwfl_end(f->dwfl);
    free(f->syms);
    ct_idmap_free(&f->slow);
    ct_frame_cache_free(&f->cache);
    free(f);
}

/* The open file at path (a regular file), its reference taken; NULL when
 * libdw cannot read it. Called with files_lock held. */
static struct dw_file *dw_file_get(const char *path, const char *name)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL; /* the vDSO and friends, or not a file (a hostile trace's /dev/tty) */
    for (struct dw_file *f = open_files; f; f = f->next)
        if (f->dev == st.st_dev && f->ino == st.st_ino && f->size == st.st_size &&
            f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec) {
            if (!f->mod)
                return NULL;
            f->refs++;
            return f;
        }
    struct dw_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = st.st_size;
    f->mtime = st.st_mtim;
    f->callbacks.find_elf = dw.dwfl_build_id_find_elf;
    f->callbacks.find_debuginfo = dw.dwfl_standard_find_debuginfo;
    f->callbacks.debuginfo_path = &f->debuginfo_path;
    f->dwfl = dw.dwfl_begin(&f->callbacks);
    if (!f->dwfl) {
        free(f);
        return NULL;
    }
    dw.dwfl_report_begin(f->dwfl);
    f->mod = dw.dwfl_report_elf(f->dwfl, name, path, -1, 0, false);
    dw.dwfl_report_end(f->dwfl, NULL, NULL);
    if (f->mod) {
        GElf_Addr vaddr;
        f->build_id_len = dw.dwfl_module_build_id(f->mod, &f->build_id, &vaddr);
    }
    /* In memory only: a file with a build-id has its frames kept by
     * named_get's, in the cache directory. */
    ct_frame_cache_init(&f->cache, NULL, 0);
    /* Kept even when unreadable, idle, so that it is not tried again. */
    f->refs = f->mod ? 1 : 0;
    f->used = ++files_clock;
    f->next = open_files;
    open_files = f;
    return f->mod ? f : NULL;
}

/* Lets go of f (NULL: nothing); an idle file past IDLE_FILES is closed. */
static void dw_file_put(struct dw_file *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&files_lock);
    if (--f->refs == 0)
        ct_frame_cache_flush(&f->cache);
    f->used = ++files_clock;
    size_t idle = 0;
    for (struct dw_file *g = open_files; g; g = g->next)
        idle += g->refs == 0;
    while (idle > IDLE_FILES) {
        struct dw_file **oldest = NULL;
        for (struct dw_file **g = &open_files; *g; g = &(*g)->next)
            if ((*g)->refs == 0 && (!oldest || (*g)->used < (*oldest)->used))
                oldest = g;
        struct dw_file *gone = *oldest;
        *oldest = gone->next;
        dw_file_free(gone);
        idle--;
    }
    pthread_mutex_unlock(&files_lock);
}

/* The frames named before, of one build-id, shared by every trace that
 * maps a module of it; kept in the cache directory (symbol_cache.c).
 * Called with files_lock held. */
enum { NAMED_ID_MAX = 64 };
struct named_frames {
    unsigned char build_id[NAMED_ID_MAX];
    int build_id_len;
    struct ct_frame_cache cache;
    unsigned refs;
    uint64_t used; /* named_clock when last let go */
    struct named_frames *next;
};
static struct named_frames *named_list;
static uint64_t named_clock;
/* Sets of frames no trace holds stay in memory, up to IDLE_NAMED of them,
 * the least recently used freed first: the hundreds of traces of a build
 * or a shell loop name their libc's frames from one reading of its file. */
enum { IDLE_NAMED = 64 };

static struct named_frames *named_get(const unsigned char *id, int len)
{
    if (len <= 0 || len > NAMED_ID_MAX)
        return NULL;
    for (struct named_frames *n = named_list; n; n = n->next)
        if (n->build_id_len == len && memcmp(n->build_id, id, (size_t)len) == 0) {
            n->refs++;
            return n;
        }
    struct named_frames *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    memcpy(n->build_id, id, (size_t)len);
    n->build_id_len = len;
    ct_frame_cache_init(&n->cache, n->build_id, len);
    n->refs = 1;
    n->next = named_list;
    named_list = n;
    return n;
}

static void named_put(struct named_frames *n)
{
    if (!n || --n->refs)
        return;
    ct_frame_cache_flush(&n->cache);
    n->used = ++named_clock;
    size_t idle = 0;
    for (struct named_frames *g = named_list; g; g = g->next)
        idle += g->refs == 0;
    while (idle > IDLE_NAMED) {
        struct named_frames **oldest = NULL;
        for (struct named_frames **g = &named_list; *g; g = &(*g)->next)
            if ((*g)->refs == 0 && (!oldest || (*g)->used < (*oldest)->used))
                oldest = g;
        struct named_frames *gone = *oldest;
        *oldest = gone->next;
        ct_frame_cache_free(&gone->cache);
        free(gone);
        idle--;
    }
}

/* A module's file is opened with libdw at its first address that no
 * frame named before covers: a trace whose frames were all named in
 * earlier runs loads no libdw (with its libraries, some 5 ms of a
 * `ctrace run`) and opens no file. */
struct ct_symbols {
    struct module_entry {
        uint64_t start, end, bias;
        char path[256];
        unsigned char build_id[NAMED_ID_MAX];
        int build_id_len; /* the trace's; 0: not recorded */
        bool opened;      /* the file was looked for */
        bool usable;      /* the file is there and its build-id matches */
        struct dw_file *file; /* NULL: no libdw, or no such readable file */
        bool named_found;
        struct named_frames *named;
    } *modules;
    size_t count;
    struct ct_symtab embedded;
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
    s->modules = calloc(gen->nmodules ? gen->nmodules : 1, sizeof *s->modules);
    if (!s->modules) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < gen->nmodules; i++) {
        const struct ct_rd_module *m = &gen->modules[i];
        struct module_entry *e = &s->modules[s->count++];
        size_t n = m->path_len < sizeof e->path - 1 ? m->path_len : sizeof e->path - 1;
        memcpy(e->path, m->path, n);
        e->path[n] = 0;
        e->start = m->start;
        e->end = m->start + m->size;
        e->bias = m->bias;
        if (m->build_id_len <= NAMED_ID_MAX) {
            memcpy(e->build_id, m->build_id, (size_t)m->build_id_len);
            e->build_id_len = (int)m->build_id_len;
        } else {
            e->build_id_len = -1; /* recorded, but not kept here: never matches */
        }
    }
    return s;
}

/* The module's file, opened with libdw at the first need; NULL when it
 * cannot be read or is not the one the trace recorded. Called with
 * files_lock held. */
static struct dw_file *module_file(struct module_entry *e)
{
    if (!e->opened) {
        e->opened = true;
        if (e->path[0] == '/' && dw_load())
            e->file = dw_file_get(e->path, basename_of(e->path));
        if (e->file) {
            int len = e->file->build_id_len;
            e->usable = e->build_id_len == 0 ||
                        (len == e->build_id_len &&
                         memcmp(e->file->build_id, e->build_id, (size_t)len) == 0);
        }
    }
    return e->usable ? e->file : NULL;
}

/* Where the module's named frames are kept: by the build-id the trace
 * recorded, else by its file's (opened for it), else in memory with the
 * file. NULL when its addresses cannot be named. Called with files_lock
 * held. */
static struct ct_frame_cache *module_frames(struct module_entry *e)
{
    if (!e->named_found) {
        e->named_found = true;
        if (e->build_id_len > 0) {
            e->named = named_get(e->build_id, e->build_id_len);
        } else if (e->build_id_len == 0 && module_file(e)) {
            e->named = named_get(e->file->build_id, e->file->build_id_len);
        }
    }
    if (e->named)
        return &e->named->cache;
    return module_file(e) ? &e->file->cache : NULL;
}

void ct_symbols_load_embedded(struct ct_symbols *s, const struct ct_reader *rd)
{
    if (!s)
        return;
    ct_symtab_free(&s->embedded);
    if (ct_rd_symtab(rd, &s->embedded) != 0)
        memset(&s->embedded, 0, sizeof s->embedded);
}

struct ct_symbols *ct_symbols_open_rd(const struct ct_reader *rd, const struct ct_gen *gen)
{
    struct ct_symbols *s = ct_symbols_open(gen);
    ct_symbols_load_embedded(s, rd);
    return s;
}

void ct_symbols_close(struct ct_symbols *s)
{
    if (!s)
        return;
    ct_symtab_free(&s->embedded);
    pthread_mutex_lock(&files_lock);
    for (size_t i = 0; i < s->count; i++)
        named_put(s->modules[i].named);
    pthread_mutex_unlock(&files_lock);
    for (size_t i = 0; i < s->count; i++)
        dw_file_put(s->modules[i].file);
    free(s->modules);
    free(s);
}

static int ct_symbols_lookup_dw(struct ct_symbols *s, uint64_t pc, bool is_return,
                                struct ct_symbol *out, struct module_entry **found);

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dw.dwarf_formstring(dw.dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!name)
        name = dw.dwarf_formstring(dw.dwarf_attr_integrate(die, DW_AT_name, &attr));
    return name;
}

/* The scope of die that is a function (inlined or not), after die itself;
 * 0 when there is none. */
static int enclosing_function(Dwarf_Die *die, Dwarf_Die *out)
{
    Dwarf_Die *scopes = NULL;
    int n = dw.dwarf_getscopes_die(die, &scopes);
    int found = 0;
    for (int k = 1; k < n && !found; k++) {
        int tag = dw.dwarf_tag(&scopes[k]);
        if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
            *out = scopes[k];
            found = 1;
        }
    }
    free(scopes);
    return found;
}

/* The inlined frames at `at` (an address of the file) in mod, from DWARF: the innermost scope
 * that is a function names out[0] (whose file and line, pc's, the caller
 * has filled); while it is an inlined subroutine, its caller is the next
 * frame, at the call's DW_AT_call_file and DW_AT_call_line. Returns how
 * many frames in all. */
static int inline_frames(Dwfl_Module *mod, uint64_t at, struct ct_symbol *out, int max)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dw.dwfl_module_addrdie(mod, at, &bias);
    if (!cu)
        return 1;
    Dwarf_Die *scopes = NULL;
    int n = dw.dwarf_getscopes(cu, at - bias, &scopes);
    Dwarf_Die die;
    bool have = false;
    for (int i = 0; i < n && !have; i++) {
        int tag = dw.dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
            die = scopes[i];
            have = true;
        }
    }
    free(scopes);
    if (!have || dw.dwarf_tag(&die) != DW_TAG_inlined_subroutine)
        return 1; /* not inlined: the symbol table's name stands */
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    dw.dwarf_getsrcfiles(cu, &files, &nfiles);
    const char *name = die_name(&die);
    if (name)
        snprintf(out[0].function, sizeof out[0].function, "%s", name);
    int count = 1;
    while (count < max && dw.dwarf_tag(&die) == DW_TAG_inlined_subroutine) {
        struct ct_symbol *caller = &out[count];
        *caller = out[0];
        caller->file[0] = 0;
        caller->line = 0;
        Dwarf_Attribute attr;
        Dwarf_Word file = 0, line = 0;
        if (dw.dwarf_formudata(dw.dwarf_attr(&die, DW_AT_call_file, &attr), &file) == 0 && files &&
            file < nfiles) {
            const char *path = dw.dwarf_filesrc(files, file, NULL, NULL);
            if (path)
                snprintf(caller->file, sizeof caller->file, "%s", path);
        }
        if (dw.dwarf_formudata(dw.dwarf_attr(&die, DW_AT_call_line, &attr), &line) == 0)
            caller->line = (int)line;
        Dwarf_Die outer;
        if (!enclosing_function(&die, &outer)) {
            snprintf(caller->function, sizeof caller->function, "?");
            count++;
            break;
        }
        name = die_name(&outer);
        snprintf(caller->function, sizeof caller->function, "%s", name ? name : "?");
        count++;
        die = outer;
    }
    return count;
}

/* pc as module+offset, for an address no symbol names. */
static void unnamed_frame(const struct module_entry *e, uint64_t pc, struct ct_symbol *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->module, sizeof out->module, "%s", e->path);
    out->offset = pc - e->bias;
    snprintf(out->function, sizeof out->function, "%.200s+0x%" PRIx64, basename_of(e->path),
             out->offset);
}

/* The module of the trace that pc is in; NULL when none. */
static struct module_entry *module_of(struct ct_symbols *s, uint64_t pc)
{
    struct module_entry *e = NULL;
    for (size_t i = 0; s && i < s->count; i++)
        if (pc >= s->modules[i].start && pc < s->modules[i].end)
            e = &s->modules[i];
    return e;
}

int ct_symbols_frames(struct ct_symbols *s, uint64_t pc, bool is_return, struct ct_symbol *out,
                      int max)
{
    if (max <= 0)
        return 0;
    memset(out, 0, sizeof *out);
    /* Embedded: the entries of pc, innermost first. */
    const struct ct_symtab_entry *t = s ? ct_symtab_find(&s->embedded, pc, !is_return) : NULL;
    if (t && t->function_len) {
        int n = 0;
        const struct ct_symtab_entry *end = s->embedded.entries + s->embedded.count;
        for (; t < end && t->pc == pc && t->exact == !is_return && n < max; t++, n++) {
            memset(&out[n], 0, sizeof out[n]);
            snprintf(out[n].function, sizeof out[n].function, "%.*s", (int)t->function_len,
                     (const char *)t->function);
            snprintf(out[n].file, sizeof out[n].file, "%.*s", (int)t->file_len,
                     (const char *)t->file);
            out[n].line = (int)t->line;
            out[n].resolved = true;
        }
        return n;
    }
    pthread_mutex_lock(&files_lock);
    struct module_entry *e = module_of(s, pc);
    uint64_t key = e ? ((pc - e->bias) << 1 | is_return) + 1 : 0;
    struct ct_frame_cache *frames = e ? module_frames(e) : NULL;
    int n = frames ? ct_frame_cache_get(frames, key, out, max) : 0;
    if (n > 0) {
        for (int i = 0; i < n; i++) {
            snprintf(out[i].module, sizeof out[i].module, "%s", e->path);
            out[i].offset = pc - e->bias;
        }
    } else if (n < 0) {
        n = 1;
        unnamed_frame(e, pc, out);
    } else {
        n = 1;
        if (ct_symbols_lookup_dw(s, pc, is_return, out, &e) == 1) {
            n = inline_frames(e->file->mod, (is_return ? pc - 1 : pc) - e->bias, out, max);
            if (max >= CT_FRAME_CACHE_FRAMES && frames)
                ct_frame_cache_add(frames, key, out, n);
        } else if (e && frames && module_file(e)) {
            ct_frame_cache_add(frames, key, out, 0); /* its file read: no symbol there */
        }
    }
    pthread_mutex_unlock(&files_lock);
    /* The compiled function keeps the symbol table's name (the outermost). */
    return n;
}

int ct_symbols_lookup(struct ct_symbols *s, uint64_t pc, bool is_return, struct ct_symbol *out)
{
    struct ct_symbol frames[16];
    int n = ct_symbols_frames(s, pc, is_return, frames, 16);
    /* The compiled function, at the line of the outermost inlined call. */
    *out = frames[n > 0 ? n - 1 : 0];
    return out->resolved ? 1 : 0;
}

/* Named from the symbol table of pc's module (1; *found is the module) or
 * not (0). Called with files_lock held. */
static int ct_symbols_lookup_dw(struct ct_symbols *s, uint64_t pc, bool is_return,
                                struct ct_symbol *out, struct module_entry **found)
{
    memset(out, 0, sizeof *out);
    struct module_entry *e = module_of(s, pc);
    if (!e) {
        snprintf(out->function, sizeof out->function, "0x%" PRIx64, pc);
        return 0;
    }
    /* A return address points after the call: look up the call itself,
     * at its address in the file. */
    uint64_t at = (is_return ? pc - 1 : pc) - e->bias;
    const char *name = module_file(e) ? file_symbol(e->file, at) : NULL;
    if (!name) {
        unnamed_frame(e, pc, out);
        return 0;
    }
    snprintf(out->module, sizeof out->module, "%s", e->path);
    out->offset = pc - e->bias;
    snprintf(out->function, sizeof out->function, "%s", name);
    out->resolved = true;
    Dwfl_Line *line = dw.dwfl_module_getsrc(e->file->mod, at);
    int lineno = 0;
    const char *file = line ? dw.dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file) {
        snprintf(out->file, sizeof out->file, "%s", file);
        out->line = lineno;
    }
    *found = e;
    return 1;
}

long ct_symbols_check_table(const char *path, long *differ)
{
    *differ = 0;
    if (!dw_load())
        return -1;
    pthread_mutex_lock(&files_lock);
    struct dw_file *f = dw_file_get(path, basename_of(path));
    long compared = -1;
    if (f && (file_syms_build(f), f->nsyms)) {
        compared = 0;
        for (size_t i = 0; i < f->nsyms; i++) {
            const struct file_sym *c = &f->syms[i];
            uint64_t at[4] = {c->start, c->start + c->size / 2,
                              c->start + (c->size ? c->size - 1 : 1), c->start - 1};
            for (int k = 0; k < 4; k++) {
                const char *mine = file_symbol(f, at[k]);
                const char *theirs = dw.dwfl_module_addrname(f->mod, at[k]);
                compared++;
                if ((mine == NULL) != (theirs == NULL) || (mine && strcmp(mine, theirs) != 0)) {
                    if (++*differ <= 5)
                        fprintf(stderr, "%s: at %#" PRIx64 " %s, libdw says %s\n", path, at[k],
                                mine ? mine : "(none)", theirs ? theirs : "(none)");
                }
            }
        }
    }
    pthread_mutex_unlock(&files_lock);
    dw_file_put(f);
    return compared;
}
