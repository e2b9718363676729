/*
 * clickhouse.c - rows in ClickHouse's RowBinary format (clickhouse.h).
 *
 * RowBinary is the cheapest input ClickHouse parses: each value as it is in
 * memory, little-endian; a String as a LEB128 length and its bytes; an
 * Array as a LEB128 count and its values; a Date as a UInt16 of days; an
 * Enum8 as its Int8. It carries no column names, so the order below is the
 * contract, and the exporter checks the server's columns against it before
 * sending anything.
 *
 * Each table is one X-macro list of (name, type, code): the code writes the
 * value at p from the row (r) and the file (f). Expanded once for the
 * writer, once for the names and once for the types, they cannot drift.
 */
#include "clickhouse.h"

#include <stdlib.h>
#include <string.h>

#include "../format/bytes.h"
#include "latency.h"

#define STATUS "Enum8('ended' = 1, 'unfinished' = 2, 'unmatched' = 3)"

static inline uint8_t *put_u8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static inline uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    ct_put_u16(p, v);
    return p + 2;
}

static inline uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    ct_put_u32(p, v);
    return p + 4;
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    ct_put_u32(p, (uint32_t)v);
    ct_put_u32(p + 4, (uint32_t)(v >> 32));
    return p + 8;
}

static inline uint8_t *put_str(uint8_t *p, const void *s, size_t len)
{
    p = ct_put_uleb(p, len);
    memcpy(p, s, len);
    return p + len;
}

static inline uint8_t *put_cstr(uint8_t *p, const char *s)
{
    return put_str(p, s, strlen(s));
}

int ct_ch_file_init(struct ct_ch_file *f)
{
    /* Whole 16-byte pieces: put_prefix copies them. */
    f->prefix_len = (8 + 8 + 10 + f->host_len + 10 + f->file_len + 4 + 15) & ~(size_t)15;
    uint8_t *p = f->prefix = calloc(1, f->prefix_len);
    if (!p)
        return -1;
    p = put_u64(p, f->trace_id);
    p = put_u64(p, f->export_id);
    p = put_str(p, f->host, f->host_len);
    p = put_str(p, f->file, f->file_len);
    p = put_u32(p, (uint32_t)f->pid);
    f->prefix_used = (size_t)(p - f->prefix);
    return 0;
}

void ct_ch_file_free(struct ct_ch_file *f)
{
    free(f->prefix);
    f->prefix = NULL;
}

/* In 16-byte pieces, of which the last may reach 15 bytes past the
 * prefix: within the row's bound (16 bytes for each of the five columns
 * besides the strings), and overwritten by the next column. */
static inline uint8_t *put_prefix(uint8_t *p, const struct ct_ch_file *f)
{
    for (size_t i = 0; i < f->prefix_len; i += 16)
        memcpy(p + i, f->prefix + i, 16);
    return p + f->prefix_used;
}

uint16_t ct_ch_day(uint64_t real_ns)
{
    uint64_t days = real_ns / (86400ull * 1000000000ull);
    return days > UINT16_MAX ? UINT16_MAX : (uint16_t)days;
}

/* The columns every row starts with; REAL is the row's wall clock. The
 * five after the day are the same in every row of a file: written at once
 * from f->prefix (ct_ch_file_init), the other entries' code is empty. */
#define COMMON(X, REAL)                                             \
    X("day", "Date", p = put_u16(p, ct_ch_day(REAL)))              \
    X("trace_id", "UInt64", p = put_prefix(p, f))                  \
    X("export_id", "UInt64", (void)0)                              \
    X("host", "String", (void)0)                                   \
    X("file", "String", (void)0)                                   \
    X("pid", "UInt32", (void)0)

#define TRACE_COLUMNS(X)                                                          \
    COMMON(X, w->start_real_ns)                                                   \
    X("file_size", "UInt64", p = put_u64(p, t->file_size))                        \
    X("fingerprint", "UInt64", p = put_u64(p, t->fingerprint))                    \
    X("ppid", "UInt32", p = put_u32(p, (uint32_t)w->ppid))                        \
    X("command", "String", p = put_cstr(p, w->command))                           \
    X("exe", "String", p = put_cstr(p, w->exe))                                   \
    X("start_ns", "UInt64", p = put_u64(p, w->start_real_ns))                     \
    X("duration_ns", "UInt64", p = put_u64(p, s->duration_ns))                    \
    X("generations", "UInt64", p = put_u64(p, s->generations))                    \
    X("events", "UInt64", p = put_u64(p, s->events))                              \
    X("lost_events", "UInt64", p = put_u64(p, s->lost_events))                    \
    X("threads", "UInt64", p = put_u64(p, s->threads))                            \
    X("tasks", "UInt64", p = put_u64(p, s->tasks))                                \
    X("regions", "UInt64", p = put_u64(p, s->regions))                            \
    X("logs", "UInt64", p = put_u64(p, s->logs))                                  \
    X("blocks", "UInt64", p = put_u64(p, s->blocks))                              \
    X("syscalls", "UInt64", p = put_u64(p, s->syscalls))                          \
    X("voluntary_switches", "UInt64", p = put_u64(p, s->voluntary_switches))      \
    X("involuntary_switches", "UInt64", p = put_u64(p, s->involuntary_switches))  \
    X("sched", "String", p = put_cstr(p, sched_name(s->sched)))                  \
    X("ctrace_version", "String", p = put_cstr(p, t->version))                    \
    X("exported_at", "DateTime", p = put_u32(p, (uint32_t)t->exported_at))

#define THREAD_COLUMNS(X)                                                         \
    COMMON(X, real)                                                               \
    X("tid", "UInt64", p = put_u64(p, r->tid))                                    \
    X("name", "String", p = put_cstr(p, r->name))                                 \
    X("start_function", "String", p = put_cstr(p, r->start_function))             \
    X("start_ns", "UInt64", p = put_u64(p, real))                                 \
    X("begin_ns", "Int64", p = put_u64(p, (uint64_t)r->begin_ns))                 \
    X("end_ns", "Int64", p = put_u64(p, (uint64_t)r->end_ns))                     \
    X("execution_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_EXEC]))               \
    X("network_wait_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_NET]))             \
    X("sync_block_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_SYNC]))              \
    X("syscall_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_SYSCALL]))              \
    X("sched_wait_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_SCHED]))             \
    X("sleep_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_SLEEP]))                  \
    X("other_ns", "UInt64", p = put_u64(p, r->ns[CT_COL_OTHER]))                  \
    X("total_ns", "UInt64", p = put_u64(p, ct_row_total(r)))                      \
    X("sync_by_primitive.primitive", "Array(String)", p = put_primitives(p, r))   \
    X("sync_by_primitive.ns", "Array(UInt64)", p = put_primitive_ns(p, r))        \
    X("exited", "UInt8", p = put_u8(p, r->exited))                                \
    X("blocks", "UInt64", p = put_u64(p, r->blocks))                              \
    X("syscalls", "UInt64", p = put_u64(p, r->syscalls))                          \
    X("switches", "UInt8", p = put_u8(p, r->switches))                            \
    X("voluntary_switches", "UInt64", p = put_u64(p, r->voluntary))               \
    X("involuntary_switches", "UInt64", p = put_u64(p, r->involuntary))

#define TASK_COLUMNS(X)                                                           \
    COMMON(X, r->begin_real_ns)                                                   \
    X("task_id", "UInt64", p = put_u64(p, r->id))                                 \
    X("parent_id", "UInt64", p = put_u64(p, r->parent))                           \
    X("type", "String", p = put_str(p, r->type, r->type_len))                     \
    X("status", STATUS, p = put_u8(p, (uint8_t)r->status))                        \
    X("start_ns", "UInt64", p = put_u64(p, r->begin_real_ns))                     \
    X("begin_ns", "Int64", p = put_u64(p, (uint64_t)r->begin_ns))                 \
    X("duration_ns", "UInt64", p = put_u64(p, r->duration_ns))                    \
    X("bucket_ns", "UInt64", p = put_u64(p, ct_latency_bucket_middle(r->duration_ns))) \
    X("begin_tid", "UInt64", p = put_u64(p, r->begin_tid))                        \
    X("end_tid", "UInt64", p = put_u64(p, r->end_tid))

#define REGION_COLUMNS(X)                                                         \
    COMMON(X, r->begin_real_ns)                                                   \
    X("tid", "UInt64", p = put_u64(p, r->tid))                                    \
    X("task_id", "UInt64", p = put_u64(p, r->task))                               \
    X("type", "String", p = put_str(p, r->type, r->type_len))                     \
    X("status", STATUS, p = put_u8(p, (uint8_t)r->status))                        \
    X("start_ns", "UInt64", p = put_u64(p, r->begin_real_ns))                     \
    X("duration_ns", "UInt64", p = put_u64(p, r->duration_ns))                    \
    X("bucket_ns", "UInt64", p = put_u64(p, ct_latency_bucket_middle(r->duration_ns))) \
    X("depth", "UInt16", p = put_u16(p, r->depth > UINT16_MAX ? UINT16_MAX : (uint16_t)r->depth)) \
    X("seq", "UInt32", p = put_u32(p, r->seq))                                    \
    X("parent_seq", "UInt32", p = put_u32(p, r->parent_seq))

#define LOG_COLUMNS(X)                                                            \
    COMMON(X, r->real_ns)                                                         \
    X("tid", "UInt64", p = put_u64(p, r->tid))                                    \
    X("task_id", "UInt64", p = put_u64(p, r->task))                               \
    X("category", "String", p = put_str(p, r->category, r->category_len))         \
    X("message", "String", p = put_str(p, r->message, r->message_len))            \
    X("start_ns", "UInt64", p = put_u64(p, r->real_ns))                           \
    X("region_seq", "UInt32", p = put_u32(p, r->region_seq))

#define BLOCK_COLUMNS(X)                                                          \
    COMMON(X, r->begin_real_ns)                                                   \
    X("tid", "UInt64", p = put_u64(p, r->tid))                                    \
    X("kind", "Enum8('block' = 1, 'syscall' = 2)", p = put_u8(p, (uint8_t)r->kind)) \
    X("status", STATUS, p = put_u8(p, (uint8_t)r->status))                        \
    X("reason", "String", p = put_cstr(p, r->reason))                             \
    X("fd_class", "String", p = put_cstr(p, r->fd_class))                         \
    X("fd", "Int32", p = put_u32(p, (uint32_t)(int32_t)r->fd))                    \
    X("object", "UInt64", p = put_u64(p, r->object))                              \
    X("start_ns", "UInt64", p = put_u64(p, r->begin_real_ns))                     \
    X("duration_ns", "UInt64", p = put_u64(p, r->duration_ns))                    \
    X("stack", "Array(String)", p = put_frames(p, r->frames, r->nframes))

/* ---- the names and types ---- */

struct column {
    const char *name, *type;
};

#define COLUMN(name, type, code) {name, type},
static const struct column traces_columns[] = {TRACE_COLUMNS(COLUMN){0, 0}};
static const struct column threads_columns[] = {THREAD_COLUMNS(COLUMN){0, 0}};
static const struct column tasks_columns[] = {TASK_COLUMNS(COLUMN){0, 0}};
static const struct column regions_columns[] = {REGION_COLUMNS(COLUMN){0, 0}};
static const struct column logs_columns[] = {LOG_COLUMNS(COLUMN){0, 0}};
static const struct column blocks_columns[] = {BLOCK_COLUMNS(COLUMN){0, 0}};
#undef COLUMN

static const struct {
    const char *name;
    const struct column *columns;
} tables[CT_CH_TABLES] = {
    [CT_CH_TRACES] = {"traces", traces_columns},    [CT_CH_THREADS] = {"threads", threads_columns},
    [CT_CH_TASKS] = {"tasks", tasks_columns},       [CT_CH_REGIONS] = {"regions", regions_columns},
    [CT_CH_LOGS] = {"logs", logs_columns},          [CT_CH_BLOCKS] = {"blocks", blocks_columns},
};

const char *ct_ch_table_name(int table)
{
    return table >= 0 && table < CT_CH_TABLES ? tables[table].name : NULL;
}

int ct_ch_column(int table, size_t i, const char **name, const char **type)
{
    const struct column *c = tables[table].columns;
    for (size_t k = 0; k < i; k++)
        if (!c[k].name)
            return 0;
    if (!c[i].name)
        return 0;
    *name = c[i].name;
    *type = c[i].type;
    return 1;
}

char *ct_ch_column_list(int table)
{
    size_t len = 3;
    const struct column *c = tables[table].columns;
    for (size_t i = 0; c[i].name; i++)
        len += strlen(c[i].name) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    char *p = s;
    *p++ = '(';
    for (size_t i = 0; c[i].name; i++) {
        size_t n = strlen(c[i].name);
        if (i)
            *p++ = ',';
        memcpy(p, c[i].name, n);
        p += n;
    }
    *p++ = ')';
    *p = 0;
    return s;
}

/* ---- the writers ---- */

static const char *sched_name(uint64_t sched)
{
    return sched == 1 ? "perf" : sched == 2 ? "schedstat" : "none";
}

static uint8_t *put_primitives(uint8_t *p, const struct ct_thread_row *r)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < CT_SYNC_REASONS; k++)
        n += r->sync_ns[k] != 0;
    p = ct_put_uleb(p, n);
    for (unsigned k = 0; k < CT_SYNC_REASONS; k++)
        if (r->sync_ns[k])
            p = put_cstr(p, ct_sync_primitive_name(k));
    return p;
}

static uint8_t *put_primitive_ns(uint8_t *p, const struct ct_thread_row *r)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < CT_SYNC_REASONS; k++)
        n += r->sync_ns[k] != 0;
    p = ct_put_uleb(p, n);
    for (unsigned k = 0; k < CT_SYNC_REASONS; k++)
        if (r->sync_ns[k])
            p = put_u64(p, r->sync_ns[k]);
    return p;
}

static uint8_t *put_frames(uint8_t *p, const char *const *frames, unsigned n)
{
    p = ct_put_uleb(p, n);
    for (unsigned i = 0; i < n; i++)
        p = put_cstr(p, frames[i]);
    return p;
}

/* An upper bound of a row's bytes: every column at its widest fixed size
 * (a LEB128 length is at most 10 bytes), plus its strings' bytes. */
#define BOUND(name, type, code) +16
static size_t bound(size_t columns16, const struct ct_ch_file *f, size_t strings)
{
    return columns16 + f->host_len + f->file_len + strings;
}

#define WRITE(name, type, code) code;
/* A row: written in place when the room left holds its bound, else after
 * asking the output for more. */
#define EMIT(o, n, body)                                                  \
    do {                                                                  \
        size_t need_ = (n);                                               \
        if ((size_t)(o->end - o->p) < need_ && o->more(o, need_) != 0)   \
            return -1;                                                    \
        uint8_t *p = o->p;                                                \
        body                                                              \
        o->p = p;                                                         \
        o->rows++;                                                        \
    } while (0)

int ct_ch_region(struct ct_ch_out *o, const struct ct_ch_file *f,
                 const struct ct_fleet_region *r)
{
    size_t n = bound(0 REGION_COLUMNS(BOUND), f, r->type_len);
    EMIT(o, n, REGION_COLUMNS(WRITE));
    return 0;
}

int ct_ch_task(struct ct_ch_out *o, const struct ct_ch_file *f, const struct ct_fleet_task *r)
{
    size_t n = bound(0 TASK_COLUMNS(BOUND), f, r->type_len);
    EMIT(o, n, TASK_COLUMNS(WRITE));
    return 0;
}

int ct_ch_log(struct ct_ch_out *o, const struct ct_ch_file *f, const struct ct_fleet_log *r)
{
    size_t n = bound(0 LOG_COLUMNS(BOUND), f, r->category_len + r->message_len);
    EMIT(o, n, LOG_COLUMNS(WRITE));
    return 0;
}

int ct_ch_block(struct ct_ch_out *o, const struct ct_ch_file *f,
                const struct ct_fleet_block *r)
{
    size_t strings = strlen(r->reason) + strlen(r->fd_class);
    for (unsigned i = 0; i < r->nframes; i++)
        strings += strlen(r->frames[i]) + 10;
    size_t n = bound(0 BLOCK_COLUMNS(BOUND), f, strings);
    EMIT(o, n, BLOCK_COLUMNS(WRITE));
    return 0;
}

int ct_ch_thread(struct ct_ch_out *o, const struct ct_ch_file *f,
                 const struct ct_thread_row *r, uint64_t zero_real_ns)
{
    uint64_t real = zero_real_ns + (uint64_t)r->begin_ns;
    size_t n = bound(0 THREAD_COLUMNS(BOUND), f,
                     strlen(r->name) + strlen(r->start_function) + 26 * CT_SYNC_REASONS);
    EMIT(o, n, THREAD_COLUMNS(WRITE));
    return 0;
}

int ct_ch_trace(struct ct_ch_out *o, const struct ct_ch_file *f, const struct ct_ch_trace *t)
{
    const struct ct_fleet_trace *w = t->who;
    const struct ct_fleet_summary *s = t->sum;
    size_t n = bound(0 TRACE_COLUMNS(BOUND), f,
                     strlen(w->command) + strlen(w->exe) + strlen(t->version) + 16);
    EMIT(o, n, TRACE_COLUMNS(WRITE));
    return 0;
}
