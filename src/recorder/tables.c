/*
 * tables.c - the per-generation tables that the writer repeats in every
 * generation so that each one reads alone: the process, the event schema,
 * the loaded modules and the threads. Runs on the writer thread only.
 */
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "records.h"
#include "recorder.h"
#include "sched.h"
#include "unwind.h"

void ct_buf_reset(struct ct_buf *b)
{
    b->len = 0;
    b->failed = false;
}

void ct_buf_free(struct ct_buf *b)
{
    free(b->data);
    *b = (struct ct_buf){0};
}

uint8_t *ct_buf_reserve(struct ct_buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return NULL;
        }
        b->data = data;
        b->cap = cap;
    }
    return b->data + b->len;
}

void ct_buf_uleb(struct ct_buf *b, uint64_t v)
{
    uint8_t *p = ct_buf_reserve(b, CT_LEB_MAX);
    if (p)
        b->len = (size_t)(ct_put_uleb(p, v) - b->data);
}

void ct_buf_bytes(struct ct_buf *b, const void *data, size_t len)
{
    ct_buf_uleb(b, len);
    uint8_t *p = ct_buf_reserve(b, len);
    if (p && len) {
        memcpy(p, data, len);
        b->len += len;
    }
}

/* Appends a list as its count followed by its entries, built apart because
 * the count is known only at the end; frees the entries. */
static void buf_append(struct ct_buf *b, const struct ct_buf *from)
{
    uint8_t *p = ct_buf_reserve(b, from->len);
    if (p && from->len) {
        memcpy(p, from->data, from->len);
        b->len += from->len;
    }
    b->failed |= from->failed;
}

static void append_counted(struct ct_buf *b, uint64_t count, struct ct_buf *entries)
{
    ct_buf_uleb(b, count);
    buf_append(b, entries);
    ct_buf_free(entries);
}

bool ct_dir_open(struct ct_dir *d, const char *path)
{
    d->at = d->len = 0;
    ct_own_open_begin();
    d->fd = ct_own_fd((int)syscall(SYS_openat, AT_FDCWD, path,
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ct_own_open_end();
    return d->fd >= 0;
}

const char *ct_dir_next(struct ct_dir *d)
{
    if (d->fd < 0)
        return NULL;
    if (d->at >= d->len) {
        long n = syscall(SYS_getdents64, d->fd, d->buf, sizeof d->buf);
        if (n <= 0)
            return NULL;
        d->at = 0;
        d->len = (unsigned)n;
    }
    /* struct linux_dirent64: ino, off, reclen, type, name */
    const char *e = d->buf + d->at;
    unsigned short reclen;
    memcpy(&reclen, e + 16, sizeof reclen);
    d->at += reclen ? reclen : d->len;
    return e + 19;
}

void ct_dir_close(struct ct_dir *d)
{
    if (d->fd >= 0)
        ct_own_fd_close(d->fd);
    d->fd = -1;
}

size_t ct_read_small_file(const char *path, char *out, size_t cap)
{
    /* At its lowest free number until closed: the program's closes wait.
     * Raw system calls: the preload wraps open, read and close. */
    ct_own_open_begin();
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    while (fd >= 0 && len < cap) {
        long n = syscall(SYS_read, fd, out + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (fd >= 0)
        syscall(SYS_close, fd);
    ct_own_open_end();
    return len;
}

/* The program's file, read once for this image (an exec starts another,
 * with its own copy of this library). */
static const char *self_exe(void)
{
    static char exe[PATH_MAX] CT_LARGE;
    if (!exe[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
    }
    return exe;
}

char **ct_start_argv;
pid_t ct_start_pid;

/* The longest command line kept (the kernel's /proc/self/cmdline can be
 * longer: it is cut there). */
#define CMDLINE_MAX 65536

/* The arguments as /proc/self/cmdline has them (each with its NUL), from
 * argv, while they are the image's first, in a malloc'd copy at *out; its
 * length. *out is NULL if they are not (a forked child, a later session,
 * one too long) or without memory. */
static size_t start_cmdline(char **out)
{
    char **argv = ct_start_argv;
    ct_start_argv = NULL; /* once: a program may rewrite them later */
    *out = NULL;
    if (!argv || getpid() != ct_start_pid)
        return 0;
    size_t len = 0;
    for (char **a = argv; *a; a++) {
        len += strlen(*a) + 1;
        if (len > CMDLINE_MAX)
            return 0;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    size_t at = 0;
    for (char **a = argv; *a; a++) {
        size_t n = strlen(*a) + 1;
        memcpy(copy + at, *a, n);
        at += n;
    }
    *out = copy;
    return len;
}

/* /proc/self/cmdline (at most CMDLINE_MAX bytes) in a malloc'd copy at
 * *out (NULL without memory); its length. Read into a page of the stack
 * first: a buffer of the longest size there would put this call's frame,
 * and the calls below it, on pages of the stack nothing else touches. */
static size_t read_cmdline(char **out)
{
    char first[4096];
    size_t len = ct_read_small_file("/proc/self/cmdline", first, sizeof first);
    char *copy;
    if (len < sizeof first) {
        copy = malloc(len ? len : 1);
        if (copy)
            memcpy(copy, first, len);
    } else {
        copy = malloc(CMDLINE_MAX);
        len = copy ? ct_read_small_file("/proc/self/cmdline", copy, CMDLINE_MAX) : 0;
    }
    *out = copy;
    return copy ? len : 0;
}

void ct_process_info_read(struct ct_process_info *info)
{
    char *cmdline;
    size_t len = start_cmdline(&cmdline);
    if (!cmdline)
        len = read_cmdline(&cmdline);
    info->cmdline = cmdline;
    info->cmdline_len = cmdline ? len : 0;
    snprintf(info->exe, sizeof info->exe, "%s", self_exe());
    if (gethostname(info->host, sizeof info->host) != 0)
        info->host[0] = 0;
    info->host[sizeof info->host - 1] = 0;
}

void ct_process_cmdline_refresh(struct ct_process_info *info)
{
    char *copy;
    size_t len = read_cmdline(&copy);
    if (!copy)
        return;
    if (len == 0 || (len == info->cmdline_len && memcmp(copy, info->cmdline, len) == 0)) {
        free(copy);
        return;
    }
    free(info->cmdline);
    info->cmdline = copy;
    info->cmdline_len = len;
}

void ct_process_info_free(struct ct_process_info *info)
{
    free(info->cmdline);
    info->cmdline = NULL;
}

void ct_record_process(struct ct_buf *b, const struct ct_process_info *info)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ct_buf_uleb(b, (uint64_t)getpid());
    ct_buf_uleb(b, (uint64_t)getppid());
    ct_buf_uleb(b, info->start_mono_ns);
    ct_buf_uleb(b, info->start_real_ns);
    ct_buf_uleb(b, ncpu > 0 ? (uint64_t)ncpu : 0);
    ct_buf_uleb(b, info->clock_hz);
    ct_buf_uleb(b, CT_TS_SHIFT);
    ct_buf_uleb(b, CT_CLOCK_IS_TSC);
    ct_buf_str(b, info->host);
    ct_buf_str(b, info->exe);
    ct_buf_bytes(b, info->cmdline ? info->cmdline : "", info->cmdline_len);
    ct_buf_uleb(b, (uint64_t)ct_sched_mode());
    /* Whether the executable keeps frame pointers: 0 unknown, 1 yes, 2 no. */
    int fp = ct_code_map_main_has_fp();
    ct_buf_uleb(b, fp < 0 ? 0 : fp ? 1 : 2);
}

void ct_record_schema(struct ct_buf *b)
{
    unsigned count = 0;
    for (unsigned k = 0; k < CT_MAX_KINDS; k++)
        count += ct_event_table[k].name != NULL;
    ct_buf_uleb(b, count);
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        const struct ct_event_info *e = &ct_event_table[k];
        if (!e->name)
            continue;
        ct_buf_uleb(b, e->id);
        ct_buf_uleb(b, e->timed);
        ct_buf_str(b, e->name);
        ct_buf_str(b, e->args);
        ct_buf_str(b, e->names);
    }
}

static int count_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uint64_t *sig = data;
    *sig = (*sig ^ (uint64_t)info->dlpi_addr) * 0x100000001b3u + 1;
    return 0;
}

uint64_t ct_modules_signature(void)
{
    uint64_t sig = 0xcbf29ce484222325u;
    dl_iterate_phdr(count_object, &sig);
    return sig;
}

/* The GNU build-id note of a loaded object, read from its mapped notes. */
static size_t build_id(struct dl_phdr_info *info, const uint8_t **id)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (end - p >= (ptrdiff_t)sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            size_t name = (n->n_namesz + 3) & ~(size_t)3;
            size_t desc = (n->n_descsz + 3) & ~(size_t)3;
            const uint8_t *d = p + sizeof *n + name;
            if (d + desc > end)
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
                memcmp(p + sizeof *n, "GNU", 4) == 0) {
                *id = d;
                return n->n_descsz;
            }
            p = d + desc;
        }
    }
    return 0;
}

struct module_walk {
    struct ct_buf *buf;
    unsigned count;
};

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct module_walk *walk = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (ph->p_vaddr < lo)
            lo = ph->p_vaddr;
        if (ph->p_vaddr + ph->p_memsz > hi)
            hi = ph->p_vaddr + ph->p_memsz;
    }
    if (hi <= lo)
        return 0;
    const char *path = info->dlpi_name;
    if (!path || !*path)
        path = self_exe(); /* the program's own */
    const uint8_t *id = NULL;
    size_t id_len = build_id(info, &id);
    ct_buf_str(walk->buf, path);
    ct_buf_uleb(walk->buf, info->dlpi_addr + lo); /* where the object starts */
    ct_buf_uleb(walk->buf, hi - lo);
    ct_buf_uleb(walk->buf, info->dlpi_addr);      /* load bias: pc - bias = ELF vaddr */
    ct_buf_bytes(walk->buf, id, id_len);
    walk->count++;
    return 0;
}

void ct_record_modules(struct ct_buf *b)
{
    struct ct_buf entries = {0};
    struct module_walk walk = {&entries, 0};
    dl_iterate_phdr(add_module, &walk);
    append_counted(b, walk.count, &entries);
}

static void thread_entry(struct ct_buf *b, pid_t tid, unsigned flags, const char *name)
{
    ct_buf_uleb(b, (uint64_t)tid);
    ct_buf_uleb(b, flags);
    ct_buf_str(b, name);
}

/* A thread's name. The calling thread's (the writer's, or the thread that
 * starts a session) comes from prctl: each /proc/self/task/TID file opened
 * leaves a dentry that the kernel walks and frees when the process is
 * reaped, a cost the process tree pays for every process it starts. */
static bool read_comm(pid_t tid, char name[16])
{
    if (tid == ct_gettid() && prctl(PR_GET_NAME, name, 0, 0, 0) == 0) {
        name[15] = 0;
        return true;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    size_t n = ct_read_small_file(path, name, 15);
    if (n == 0)
        return false;
    if (name[n - 1] == '\n')
        n--;
    name[n] = 0;
    return true;
}

static int by_tid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The tids of the live registered threads, sorted (malloc'd; NULL when
 * there are none or no memory: then none counts as registered). The state
 * first: a descriptor being claimed is being written. */
static pid_t *registered_tids(size_t *n)
{
    size_t cap = 0;
    pid_t *tids = NULL;
    *n = 0;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        if (atomic_load_explicit(&t->state, memory_order_acquire) != CT_THREAD_LIVE)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            pid_t *grown = realloc(tids, cap * sizeof *tids);
            if (!grown)
                break;
            tids = grown;
        }
        tids[(*n)++] = t->tid;
    }
    if (tids)
        qsort(tids, *n, sizeof *tids, by_tid);
    return tids;
}

/* The live threads. (Which of them are registered: one walk of the
 * registry and a search per thread; a walk per thread cost 40 ms a table
 * with 2000 threads.) */
void ct_scan_live_threads(struct ct_live_threads *live, pid_t tracer_tid)
{
    ct_buf_reset(&live->entries);
    live->count = 0;
    size_t nregistered;
    pid_t *registered = registered_tids(&nregistered);
    struct ct_dir dir;
    ct_dir_open(&dir, "/proc/self/task");
    for (const char *name; (name = ct_dir_next(&dir));) {
        if (name[0] < '0' || name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(name);
        char comm[16];
        if (tid > 0 && tid == tracer_tid && tid != ct_gettid())
            memcpy(comm, CT_WRITER_NAME, sizeof CT_WRITER_NAME); /* named so from its creation */
        else if (!read_comm(tid, comm))
            continue; /* exited meanwhile */
        unsigned flags = tid == tracer_tid || ct_is_tracer_thread(tid) ? CT_THREAD_FLAG_TRACER : 0;
        if (registered && bsearch(&tid, registered, nregistered, sizeof *registered, by_tid))
            flags |= CT_THREAD_FLAG_REGISTERED;
        else if (strcmp(comm, CT_WRITER_NAME) == 0)
            flags |= CT_THREAD_FLAG_TRACER;
        thread_entry(&live->entries, tid, flags, comm);
        live->count++;
    }
    ct_dir_close(&dir);
    free(registered);
}

pid_t ct_find_writer_tid(void)
{
    size_t nregistered;
    pid_t *registered = registered_tids(&nregistered);
    pid_t found = 0;
    struct ct_dir dir;
    ct_dir_open(&dir, "/proc/self/task");
    for (const char *entry; !found && (entry = ct_dir_next(&dir));) {
        if (entry[0] < '0' || entry[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(entry);
        char name[16];
        if (read_comm(tid, name) && strcmp(name, CT_WRITER_NAME) == 0 &&
            !(registered && bsearch(&tid, registered, nregistered, sizeof *registered, by_tid)))
            found = tid;
    }
    ct_dir_close(&dir);
    free(registered);
    return found;
}

void ct_record_threads(struct ct_buf *b, const struct ct_live_threads *live)
{
    struct ct_buf entries = {0};
    unsigned count = live->count;
    buf_append(&entries, &live->entries);
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        if (atomic_load_explicit(&t->state, memory_order_acquire) != CT_THREAD_EXITED)
            continue;
        thread_entry(&entries, t->tid, CT_THREAD_FLAG_EXITED | CT_THREAD_FLAG_REGISTERED, t->name);
        count++;
    }
    append_counted(b, count, &entries);
}
