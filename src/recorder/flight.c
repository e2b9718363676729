/*
 * flight.c - the flight recorder: a moving window of the latest complete
 * generations, kept in memory and written out on request as an ordinary
 * trace (a file header, the generations, an end record).
 *
 * The window (Go 1.25's semantics, made exact): when a generation closes,
 * the oldest ones are dropped while
 *   - the window holds more than max_bytes (max_bytes wins over min_age), or
 *   - the generations after the oldest still cover min_age,
 * but the newest complete generation is always kept. So the window covers at
 * least min_age unless max_bytes forbids it, and at most min_age plus one
 * generation; it holds at most max_bytes unless one generation alone is
 * larger. A write cuts the generation under way short and adds it to the
 * window without trimming bytes (the next close does): what a write writes
 * is the window and that partial generation, so that a write right after a
 * large generation does not find the window emptied by it. Generations last min_age/8 (10 ms to 1 s) and are cut at
 * max_bytes/8 bytes, so one generation is an eighth of either bound, give
 * or take the writer's 10 ms wake. Memory held: the window, the generation
 * being filled and the event batches of the recorder (buffer_bytes). The
 * generation being filled reuses the buffer of the one dropped last, whose
 * pages are mapped already.
 */
#include "ctrace.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../format/bytes.h"
#include "../format/framing.h"
#include "flight.h"

#define GEN_FIRST_CAP (64u << 10)

static void *map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void gen_free(struct ctrace_flight *f, struct ct_fgen *g)
{
    if (g->mem)
        munmap(g->mem, g->cap);
    atomic_fetch_sub(&f->mapped, g->cap + sizeof *g);
    munmap(g, sizeof *g);
}

void ct_flight_open_gen(struct ctrace_flight *f, uint64_t start_ns)
{
    /* The generation dropped last, when there is one: its pages are
     * mapped and sized already (a fresh page costs microseconds here). */
    struct ct_fgen *g = f->spare;
    if (g) {
        f->spare = NULL;
        uint8_t *mem = g->mem;
        size_t cap = g->cap;
        memset(g, 0, sizeof *g);
        g->mem = mem;
        g->cap = cap;
        g->start_ns = start_ns;
        f->cur = g;
        return;
    }
    g = map(sizeof *g);
    if (!g) {
        f->failed++;
        return;
    }
    memset(g, 0, sizeof *g);
    g->start_ns = start_ns;
    g->mem = map(GEN_FIRST_CAP);
    g->cap = g->mem ? GEN_FIRST_CAP : 0;
    g->failed = g->mem == NULL;
    atomic_fetch_add(&f->mapped, g->cap + sizeof *g);
    f->cur = g;
}

/* ThreadSanitizer does not intercept mremap: memory that mremap moves or
 * extends would keep the access history of whatever was mapped there
 * before (a trace file the program read, say) and be reported as racing
 * with it. Under TSan a buffer grows by mmap, copy and munmap, which it
 * sees. */
#if defined(__SANITIZE_THREAD__)
#define CT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CT_TSAN 1
#endif
#endif

static void *remap_grow(void *old, size_t old_size, size_t size)
{
#ifdef CT_TSAN
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        memcpy(p, old, old_size);
        munmap(old, old_size);
    }
    return p;
#else
    return mremap(old, old_size, size, MREMAP_MAYMOVE);
#endif
}

/* mremap, not realloc: no allocator lock, so a crash handler may append. */
static bool grow(struct ctrace_flight *f, struct ct_fgen *g, size_t need)
{
    /* A quarter more at a time: the buffer stays within a quarter of the
     * generation's size. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t cap = g->cap + g->cap / 4;
    if (cap < need)
        cap = need;
    cap = (cap + page - 1) & ~(page - 1);
    void *p = remap_grow(g->mem, g->cap, cap);
    if (p == MAP_FAILED)
        return false;
    atomic_fetch_add(&f->mapped, cap - g->cap);
    g->mem = p;
    g->cap = cap;
    return true;
}

void ct_flight_append(struct ctrace_flight *f, const struct iovec *iov, int count)
{
    struct ct_fgen *g = f->cur;
    if (!g || g->failed)
        return;
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += iov[i].iov_len;
    if (g->len + total > g->cap && !grow(f, g, g->len + total)) {
        g->failed = true;
        return;
    }
    for (int i = 0; i < count; i++) {
        memcpy(g->mem + g->len, iov[i].iov_base, iov[i].iov_len);
        g->len += iov[i].iov_len;
    }
}

static void drop_oldest(struct ctrace_flight *f)
{
    struct ct_fgen *g = f->head;
    f->head = g->next;
    f->held -= g->len;
    f->count--;
    f->dropped++;
    if (atomic_load(&f->writing)) {
        g->zombie = f->zombies;
        f->zombies = g;
    } else if (!f->spare) {
        f->spare = g;
    } else {
        gen_free(f, g);
    }
}

void ct_flight_close_gen(struct ctrace_flight *f, uint64_t end_ns, bool cut)
{
    struct ct_fgen *g = f->cur;
    f->cur = NULL;
    if (!atomic_load(&f->writing))
        while (f->zombies) {
            struct ct_fgen *z = f->zombies;
            f->zombies = z->zombie;
            gen_free(f, z);
        }
    if (!g)
        return;
    if (g->failed) {
        f->failed++;
        atomic_store_explicit(&f->stat_failed, f->failed, memory_order_relaxed);
        gen_free(f, g);
        return;
    }
    g->end_ns = end_ns;
    /* Give back the unused tail of the buffer, a page at a time (in place:
     * a shrinking mremap never moves). */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t keep = (g->len + page - 1) & ~(page - 1);
    if (keep && keep < g->cap && mremap(g->mem, g->cap, keep, 0) != MAP_FAILED) {
        atomic_fetch_sub(&f->mapped, g->cap - keep);
        g->cap = keep;
    }
    if (f->tail)
        f->tail->next = g;
    else
        f->head = g;
    f->tail = g;
    f->held += g->len;
    f->count++;
    if (g->len > atomic_load_explicit(&f->stat_largest, memory_order_relaxed))
        atomic_store_explicit(&f->stat_largest, g->len, memory_order_relaxed);
    while (f->head != f->tail && ((!cut && f->held > f->max_bytes) ||
                                  end_ns - f->head->next->start_ns >= f->min_age_ns))
        drop_oldest(f);
    atomic_store_explicit(&f->stat_window, f->held, memory_order_relaxed);
    atomic_store_explicit(&f->stat_window_ns, f->tail->end_ns - f->head->start_ns,
                          memory_order_relaxed);
    atomic_store_explicit(&f->stat_count, f->count, memory_order_relaxed);
    atomic_store_explicit(&f->stat_dropped, f->dropped, memory_order_relaxed);
}

void ct_flight_free(struct ctrace_flight *f)
{
    while (f->head) {
        struct ct_fgen *g = f->head;
        f->head = g->next;
        gen_free(f, g);
    }
    while (f->zombies) {
        struct ct_fgen *z = f->zombies;
        f->zombies = z->zombie;
        gen_free(f, z);
    }
    if (f->cur)
        gen_free(f, f->cur);
    if (f->spare)
        gen_free(f, f->spare);
    free(f);
}

/* write(2) until done; 0 or -errno. Async-signal-safe. */
static int write_fully(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pfd = {fd, POLLOUT, 0};
                if (poll(&pfd, 1, 1000) > 0)
                    continue;
                return -EAGAIN;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ct_flight_write_gens(const struct ct_fgen *from, const struct ct_fgen *to, int fd)
{
    uint8_t header[CT_FILE_HEADER_SIZE];
    ct_file_header(header);
    int rc = write_fully(fd, header, sizeof header);
    uint64_t count = 0;
    for (const struct ct_fgen *g = from; rc == 0 && g; g = g == to ? NULL : g->next) {
        rc = write_fully(fd, g->mem, g->len);
        count++;
    }
    if (rc == 0) {
        uint8_t end[CT_RECORD_HEADER_SIZE + CT_LEB_MAX];
        rc = write_fully(fd, end, ct_end_record(end, count));
    }
    return rc;
}

void ct_flight_write_crash(const struct ctrace_flight *f, int fd)
{
    uint8_t header[CT_FILE_HEADER_SIZE];
    ct_file_header(header);
    if (write_fully(fd, header, sizeof header) != 0)
        return;
    for (const struct ct_fgen *g = f->head; g; g = g->next)
        if (write_fully(fd, g->mem, g->len) != 0)
            return;
    if (f->cur && !f->cur->failed)
        write_fully(fd, f->cur->mem, f->cur->len);
}

/* ---- the API ---- */

ctrace_flight *ctrace_flight_start(const ctrace_flight_config *config)
{
    ctrace_flight_config c = config ? *config : (ctrace_flight_config){0};
    if (c.min_age_ns == 0)
        c.min_age_ns = 10000000000u;
    if (c.max_bytes == 0)
        c.max_bytes = 10u << 20;
    if (c.max_bytes < CTRACE_FLIGHT_MIN_BYTES || c.min_age_ns > CTRACE_FLIGHT_MAX_AGE_NS) {
        errno = EINVAL;
        return NULL;
    }
    struct ctrace_flight *f = calloc(1, sizeof *f);
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    f->min_age_ns = c.min_age_ns;
    f->max_bytes = c.max_bytes;
    /* An eighth of either bound per generation. */
    uint64_t gen_ns = c.min_age_ns / 8;
    gen_ns = gen_ns < 10000000u ? 10000000u : gen_ns > 1000000000u ? 1000000000u : gen_ns;
    if (c.trace.generation_ns && c.trace.generation_ns < gen_ns)
        gen_ns = c.trace.generation_ns;
    size_t gen_bytes = c.max_bytes / 8;
    if (c.trace.generation_bytes && c.trace.generation_bytes < gen_bytes)
        gen_bytes = c.trace.generation_bytes;
    /* Event batches: a quarter of max_bytes, at least 4 MiB (room for the
     * two batches each thread holds, and for a writer slow to run). */
    if (c.trace.buffer_bytes == 0) {
        c.trace.buffer_bytes = c.max_bytes / 4;
        if (c.trace.buffer_bytes < (4u << 20))
            c.trace.buffer_bytes = 4u << 20;
        if (c.trace.buffer_bytes > (64u << 20))
            c.trace.buffer_bytes = 64u << 20;
    }
    c.trace.generation_ns = gen_ns;
    c.trace.generation_bytes = gen_bytes;
    int rc = ct_session_flight_on(f, &c.trace);
    if (rc != 0) {
        free(f);
        errno = -rc;
        return NULL;
    }
    return f;
}

int ctrace_flight_write(ctrace_flight *f, int fd)
{
    if (!f)
        return -EINVAL;
    if (atomic_exchange(&f->writing, 1))
        return -EBUSY;
    const struct ct_fgen *from, *to;
    int rc = ct_writer_flight_snapshot(f, &from, &to);
    if (rc == 0)
        rc = ct_flight_write_gens(from, to, fd);
    atomic_store(&f->writing, 0);
    return rc;
}

int ct_flight_write_on_writer(struct ctrace_flight *f, int fd)
{
    if (atomic_exchange(&f->writing, 1))
        return -EBUSY;
    /* Only this thread changes the ring; a crash handler only appends to
     * the generation under way. */
    int rc = f->head ? ct_flight_write_gens(f->head, f->tail, fd) : ct_flight_write_gens(NULL, NULL, fd);
    atomic_store(&f->writing, 0);
    return rc;
}

void ctrace_flight_stop(ctrace_flight *f)
{
    if (!f)
        return;
    ct_session_flight_off(f);
    ct_flight_free(f);
}

void ctrace_flight_get_stats(const ctrace_flight *flight, ctrace_flight_stats *out)
{
    ctrace_flight *f = (ctrace_flight *)flight;
    memset(out, 0, sizeof *out);
    if (!f)
        return;
    out->held_bytes = atomic_load(&f->mapped);
    out->window_bytes = atomic_load_explicit(&f->stat_window, memory_order_relaxed);
    out->window_ns = atomic_load_explicit(&f->stat_window_ns, memory_order_relaxed);
    out->generations = atomic_load_explicit(&f->stat_count, memory_order_relaxed);
    out->largest_generation_bytes = atomic_load_explicit(&f->stat_largest, memory_order_relaxed);
    out->dropped_generations = atomic_load_explicit(&f->stat_dropped, memory_order_relaxed);
    out->failed_generations = atomic_load_explicit(&f->stat_failed, memory_order_relaxed);
}
