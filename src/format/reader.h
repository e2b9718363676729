/*
 * reader.h - reads a trace: the library under every command.
 *
 * The file is mapped, never copied. ct_rd_next_gen indexes one generation at
 * a time (its tables and the places of its batches); ct_rd_next_event then
 * decodes a batch's events. Everything read is validated: a failure gives a
 * message naming the file, the byte offset and what was expected, and no
 * read ever goes past the end of the mapping. Memory held is proportional to
 * one generation's tables and distinct strings and stacks, not to events.
 *
 * Return convention, as in the format's docs: 1 = an item was produced,
 * 0 = no more items, -1 = error (reader->error says what and where).
 */
#ifndef CT_READER_H
#define CT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "format.h"

/* id -> place in the file; for strings and stacks of one generation. */
struct ct_idmap {
    struct ct_idmap_entry {
        uint64_t id;
        const uint8_t *data;
        uint64_t len; /* bytes of a string; frames of a stack */
        const uint8_t *end;
    } *entries;
    size_t count, cap;
};

struct ct_rd_thread {
    uint64_t tid;
    uint64_t flags;
    const uint8_t *name;
    uint64_t name_len;
};

struct ct_rd_module {
    const uint8_t *path;
    uint64_t path_len, start, size, bias;
    const uint8_t *build_id;
    uint64_t build_id_len;
};

struct ct_rd_process {
    uint64_t pid, ppid, start_mono_ns, start_real_ns, ncpu, clock_hz, shift, tsc;
    uint64_t sched; /* 0 none, 1 perf context switches, 2 schedstat samples (absent: 0) */
    uint64_t frame_pointers; /* the executable: 0 unknown (absent), 1 keeps them, 2 not */
    const uint8_t *host, *exe, *cmdline;
    uint64_t host_len, exe_len, cmdline_len;
};

struct ct_rd_batch {
    uint64_t offset;    /* of the record in the file */
    uint64_t tid, base_ts;
    const uint8_t *events, *end;
};

struct ct_rd_lost {
    uint64_t tid, count, first, last;
};

/* What a generation's schema says about an event kind. */
struct ct_kind {
    bool defined, known; /* in the file's schema; in this reader's table */
    uint8_t timed;
    char name[32];
    char args[CT_MAX_ARGS + 1];
    char names[CT_MAX_ARGS][16]; /* the arguments' names */
    uint8_t nargs;               /* strlen(args) */
    bool has_task, has_stack;    /* an 'a' argument; a last 'k' */
    /* For ct_rd_skim_events: the varints of an event, by the flags of its
     * kind byte (stack, same task), each as what to do with it. 0 plan
     * length: not skimmed (byte strings, frames). */
    uint8_t plan[4][CT_MAX_ARGS + 1];
    uint8_t plan_len[4];
};

struct ct_gen {
    uint64_t number, offset, end_offset;
    bool complete;      /* its end record was read */
    uint64_t base_units, base_mono_ns, base_real_ns, q32;
    uint64_t prev_q32;  /* the previous generation's rate (GEN_BEGIN, optional) */
    uint64_t end_units, end_mono_ns, end_batches, end_lost;
    uint64_t refs_dropped; /* strings and stacks left out (GEN_END, optional) */
    uint64_t cfi_stacks, cfi_units; /* walked with .eh_frame, and their time (optional) */
    uint64_t switches; /* the kernel's context switches written (optional) */
    uint64_t batch_lost; /* events lost that its batches' lost events count (optional) */
    bool has_process;
    struct ct_rd_process process;
    struct ct_rd_thread *threads;
    size_t nthreads;
    struct ct_rd_module *modules;
    size_t nmodules;
    struct ct_rd_batch *batches;
    size_t nbatches, batches_cap;
    struct ct_rd_lost *lost;
    size_t nlost, lost_cap;
    struct ct_kind kinds[CT_MAX_KINDS];
    struct ct_idmap strings, stacks;
    struct ct_idmap thread_index; /* tid + 1 -> index in threads */
    uint64_t conflicts; /* an id defined twice with different contents */
};

struct ct_reader {
    const char *path;
    const uint8_t *data;    /* the whole file (mapped or in memory); NULL when streamed */
    size_t size;
    bool mapped;
    /* Streamed (ct_rd_open): the file is read with pread, a generation at
     * a time, into buf, which holds bytes [buf_off, buf_off + buf_len) and
     * is reused: no page of the file is mapped, so none has to be faulted
     * in and given back (which costs more than the copy), and a file cut
     * short while it is read gives an error, not SIGBUS. */
    bool streamed;
    int fd;
    uint8_t *buf;
    size_t buf_cap;
    uint64_t buf_off, buf_len;
    uint64_t off;           /* the next record */
    uint64_t released;      /* mapped pages before this are given back */
    bool at_end;            /* the end record was read */
    uint64_t symbols_off;   /* the first SYMBOLS record read past, 0: none */
    uint64_t end_off;       /* the end record's, once read */
    bool failed;            /* an error stopped reading */
    bool checked;           /* an earlier reading verified the checksums:
                               they are not computed again (the structure
                               still is) */
    /* Streamed, optional: the batches of the threads this says yes to are
     * not read (only their thread and base time), nor their checksums
     * checked; their events must not be read. */
    bool (*skip_thread)(void *ctx, uint64_t tid);
    void *skip_ctx;
    bool pending_error;     /* an error after the generation just returned */
    bool have_start;
    uint64_t start_mono_ns; /* time zero: the session's start */
    uint64_t generations;
    uint16_t version_major, version_minor;
    uint64_t error_off;     /* the byte the error names */
    char error[512];
    char warning[512];
    /* A damaged SYMBOLS record (or damage between the last generation and
     * a whole END record) was skipped: the names it held fall back to the
     * modules' files. Said apart from the warning above. */
    char symbols_warning[256];
};

struct ct_event {
    uint8_t kind;           /* without the stack bit */
    bool timed;
    uint64_t offset;        /* of the kind byte in the file */
    uint64_t tid;
    uint64_t ts;            /* in clock units */
    int64_t ts_ns;          /* nanoseconds since the session's start */
    unsigned nargs;
    uint64_t args[CT_MAX_ARGS];
    const uint8_t *bytes;   /* the 'b' argument, if any */
    uint64_t bytes_len;
    const uint8_t *frames;  /* the 'f' argument's encoded frames */
    const uint8_t *frames_end;
    uint64_t nframes;
    uint64_t stack;         /* 0: none */
};

struct ct_event_iter {
    struct ct_cursor c;
    const struct ct_rd_batch *batch;
    struct ct_gen *gen;
    uint64_t ts;
    uint64_t last_task; /* for 'a' arguments */
    /* Ids found defined (tables only grow within a generation): a small
     * direct-mapped memory, so that each event need not look them up. */
    uint64_t known_strings[16], known_stacks[16];
};

/* The file offset of p, a pointer into the bytes read (of the generation
 * being read, when streamed). */
static inline uint64_t ct_rd_offset(const struct ct_reader *rd, const uint8_t *p)
{
    return !rd->streamed ? (uint64_t)(p - rd->data) : rd->buf_off + (uint64_t)(p - rd->buf);
}

/* Copies len bytes at file offset off (either way of reading); -1 when the
 * file has not that many. */
int ct_rd_read_at(const struct ct_reader *rd, uint64_t off, void *out, size_t len);
/* A trace that ends inside a generation (a program killed while tracing,
 * a file still being written) is read up to its last complete record with
 * a warning; with ct_rd_strict set (ctrace --strict), that is an error. */
extern bool ct_rd_strict;
/* Opens a trace file to read it once, from start to end (streamed). */
int ct_rd_open(struct ct_reader *rd, const char *path);
/* Opens it mapped: rd->data is the whole file, for readers that go back
 * (ct_rd_open_mem on rd->data, as ctrace view does). */
int ct_rd_open_mapped(struct ct_reader *rd, const char *path);
int ct_rd_open_mem(struct ct_reader *rd, const void *data, size_t size, const char *name);
void ct_rd_close(struct ct_reader *rd);

/* Indexes the next generation into gen (freeing what it held). A file that
 * ends between records without an end record gives its last generation
 * with a warning in rd->warning (the program stopped mid-trace); one cut
 * inside a record gives the generation up to its last whole batch, then -1
 * on the next call. */
int ct_rd_next_gen(struct ct_reader *rd, struct ct_gen *gen);
/* Indexes the generation that begins at file offset `offset` again (not
 * streamed: the reader must hold the whole file), as ct_rd_next_gen. */
int ct_rd_gen_at(struct ct_reader *rd, uint64_t offset, struct ct_gen *gen);
void ct_gen_free(struct ct_gen *gen);

void ct_rd_events(struct ct_gen *gen, size_t batch, struct ct_event_iter *it);
int ct_rd_next_event(struct ct_reader *rd, struct ct_event_iter *it, struct ct_event *ev);
/* For readers that mostly count: steps through the batch, adding every
 * event to counts[kind], and returns 1 with ev decoded at the next event
 * whose kind is a bit of `decode` (0 at the batch's end, -1 on an error,
 * reported as ct_rd_next_event would). Checks what ct_rd_next_event checks;
 * events it can step over are not decoded, so it is several times faster.
 * it->ts is the last event's time in clock units. */
int ct_rd_skim_events(struct ct_reader *rd, struct ct_event_iter *it, uint64_t decode,
                      uint64_t counts[CT_MAX_KINDS], struct ct_event *ev);

/* The largest time from the session's start, in ns, that a reader gives
 * (and the view's API takes): INT64_MAX / 4. */
#define CT_NS_LIMIT (INT64_MAX / 4)

/* to - from, or 0 when to is not after from; in unsigned arithmetic, so
 * that the times of a hostile file never overflow a signed subtraction. */
static inline uint64_t ct_span_ns(int64_t from, int64_t to)
{
    return to > from ? (uint64_t)to - (uint64_t)from : 0;
}

/* Nanoseconds since the session's start of a time in clock units. */
static inline int64_t ct_gen_ns(const struct ct_reader *rd, const struct ct_gen *gen,
                                uint64_t units)
{
    int64_t du = (int64_t)(units - gen->base_units);
    /* A time before the base (an event begun as the generation turned)
     * is on the previous generation's line, which meets this one's at the
     * base: a thread's times stay in order across the boundary. */
    uint64_t q32 = du < 0 && gen->prev_q32 ? gen->prev_q32 : gen->q32;
    __int128 ns = ((__int128)du * (__int128)q32) >> 32;
    ns += (__int128)gen->base_mono_ns - rd->start_mono_ns;
    /* Within CT_NS_LIMIT of the session's start (73 years): the analyses
     * add and subtract a few times, which then never overflow, whatever
     * times a damaged or hostile file holds. */
    return ns > CT_NS_LIMIT ? CT_NS_LIMIT : ns < -CT_NS_LIMIT ? -CT_NS_LIMIT : (int64_t)ns;
}

/* Symbols embedded in the file (SYMBOLS records, written by `ctrace run`
 * when the program ended), sorted by pc. Strings point into the file. */
struct ct_symtab_entry {
    uint64_t pc;
    const uint8_t *function, *file;
    uint32_t function_len, file_len, line;
    bool exact; /* pc itself (a start function), not a return address */
    uint8_t depth; /* 0: the innermost frame at pc; then the functions it
                      was inlined into */
};
struct ct_symtab {
    struct ct_symtab_entry *entries;
    size_t count;
    uint8_t **records; /* the SYMBOLS payloads the entries point into */
    size_t nrecords;
};
/* Scans the file's records (their headers only, and the SYMBOLS ones) for
 * the table. A damaged SYMBOLS record is left out. 0, or -1 without memory. */
int ct_rd_symtab(const struct ct_reader *rd, struct ct_symtab *out);
void ct_symtab_free(struct ct_symtab *t);
const struct ct_symtab_entry *ct_symtab_find(const struct ct_symtab *t, uint64_t pc, bool exact);

const struct ct_idmap_entry *ct_idmap_get(const struct ct_idmap *map, uint64_t id);
/* Adds id (nonzero) unless present, *added saying which; returns its
 * entry, or NULL without memory. */
struct ct_idmap_entry *ct_idmap_put(struct ct_idmap *map, uint64_t id, bool *added);
void ct_idmap_free(struct ct_idmap *map);
/* The position of the argument `name` of events of `kind` in gen (from its
 * schema), or -1: how to read arguments added by later versions. */
int ct_kind_arg(const struct ct_gen *gen, unsigned kind, const char *name);
/* Decodes a stack's frames (at most max); returns how many, or -1. */
int ct_rd_frames(const uint8_t *data, const uint8_t *end, uint64_t n, uint64_t *pcs, size_t max);

#endif
