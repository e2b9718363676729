/*
 * records.h - building the payloads of the writer's records (tables.c) into
 * a growable buffer that only the writer thread uses.
 */
#ifndef CT_RECORDS_H
#define CT_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../format/bytes.h"

struct ct_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* an allocation failed: the record is not written */
};

void ct_buf_reset(struct ct_buf *b);
void ct_buf_free(struct ct_buf *b);
uint8_t *ct_buf_reserve(struct ct_buf *b, size_t n);
void ct_buf_uleb(struct ct_buf *b, uint64_t v);
void ct_buf_bytes(struct ct_buf *b, const void *data, size_t len);
static inline void ct_buf_str(struct ct_buf *b, const char *s)
{
    ct_buf_bytes(b, s, strlen(s));
}

struct ct_process_info {
    uint64_t start_mono_ns, start_real_ns, clock_hz;
    char *cmdline; /* NUL-separated arguments */
    size_t cmdline_len;
    char host[256]; /* before exe: the page of the struct's head holds it */
    char exe[4096];
};

/* Reads a small /proc file whole into out; returns its length, or 0. The
 * program's closes wait meanwhile (ct_own_open_begin). */
size_t ct_read_small_file(const char *path, char *out, size_t cap);

/* The entries of a directory of /proc, read into the caller's memory with
 * getdents64: not opendir's 32 KiB from malloc (pages of the program's
 * heap touched, in a process's start and end, for a handful of names).
 * Its descriptor is the tracer's own while it is open. */
struct ct_dir {
    int fd;
    unsigned at, len;
    _Alignas(8) char buf[1024];
};
bool ct_dir_open(struct ct_dir *d, const char *path);
/* The next entry's name ("." and ".." included), or NULL at the end. */
const char *ct_dir_next(struct ct_dir *d);
void ct_dir_close(struct ct_dir *d);
void ct_process_info_read(struct ct_process_info *info);
void ct_process_info_free(struct ct_process_info *info);
/* The command line read again: a program may rewrite it after its trace
 * began (nginx's workers are forked, traced, then renamed). Each
 * generation's PROCESS record has the one of its beginning. */
void ct_process_cmdline_refresh(struct ct_process_info *info);
void ct_record_process(struct ct_buf *b, const struct ct_process_info *info);
void ct_record_schema(struct ct_buf *b);
/* Returns a signature of the loaded objects: it changes when one is loaded
 * or unloaded, so that the writer rewrites the table only then. */
uint64_t ct_modules_signature(void);
void ct_record_modules(struct ct_buf *b);
/* The live threads, from /proc/self/task: entries of the THREADS table and
 * their count. A generation's end and the next one's beginning share one
 * scan (reading every thread's comm is the table's cost). */
struct ct_live_threads {
    struct ct_buf entries;
    unsigned count;
};
void ct_scan_live_threads(struct ct_live_threads *live, pid_t tracer_tid);
/* The writer thread's tid found by its name (CT_WRITER_NAME, not
 * registered), for a process ending before its writer ran; 0 if none. */
pid_t ct_find_writer_tid(void);
/* The table: the live threads of the scan, and the registered ones that
 * have exited. */
void ct_record_threads(struct ct_buf *b, const struct ct_live_threads *live);

#endif
