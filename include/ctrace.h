/*
 * ctrace.h - the public API of libctrace, an execution tracer for C programs.
 *
 * A program starts tracing with ctrace_start(fd), annotates its work with
 * tasks, regions and logs, and stops with ctrace_stop(). Everything recorded in
 * between is in the file when ctrace_stop() returns; `ctrace stats`, `ctrace
 * dump` and the other commands read it.
 *
 * Cost: while tracing is off every annotation is one load and one predictable
 * branch, inlined at the call site by the macros below (arguments are then not
 * evaluated, as with assert()). While tracing is on, an event costs about one
 * clock read plus a few stores into a thread-local buffer: no lock, no atomic
 * read-modify-write, no malloc.
 *
 * Strings: the `type` of tasks and regions and the `category` of logs are
 * interned by address the first time a thread uses them in a generation. They
 * must stay unchanged while tracing is on; string literals are ideal. Log
 * messages are copied, up to CTRACE_MAX_MESSAGE bytes.
 */
#ifndef CTRACE_H
#define CTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CTRACE_API __attribute__((visibility("default")))
#define CTRACE_LIKELY(x) __builtin_expect(!!(x), 1)
#define CTRACE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CTRACE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CTRACE_API
#define CTRACE_LIKELY(x) (x)
#define CTRACE_UNLIKELY(x) (x)
#define CTRACE_PRINTF(f, a)
#endif

#define CTRACE_VERSION_MAJOR 0
#define CTRACE_VERSION_MINOR 1

/* Longest log message recorded; longer messages are cut and marked. */
#define CTRACE_MAX_MESSAGE 1024

/* A task: a unit of work that may span threads. Copy it freely; never freed. */
typedef struct ctrace_task {
    uint64_t id;
} ctrace_task;

/* A region: a span of time on one thread, nested inside the thread's other
 * regions. Returned by ctrace_region_begin, passed to ctrace_region_end. */
typedef struct ctrace_region {
    const char *type; /* the type given to ctrace_region_begin */
    uint32_t depth;   /* nesting depth at begin; 0 when nothing was begun */
    uint32_t reserved;
} ctrace_region; /* 16 bytes: returned in two registers */

#define CTRACE_NO_TASK ((ctrace_task){0})
#define CTRACE_NO_REGION ((ctrace_region){0, 0, 0})

/* Settings for ctrace_start_config; zero fields take the defaults. */
typedef struct ctrace_config {
    size_t buffer_bytes;        /* memory for event batches; default 64 MiB */
    uint64_t generation_ns;     /* start a new generation this often; default 1 s */
    size_t generation_bytes;    /* ... or after this many bytes; default 16 MiB */
    int stacks;                 /* -1 off, 0 default (on), 1 on */
    unsigned max_stack_depth;   /* frames per stack; default 32, at most 64 */
    int64_t counter_period_ns;  /* heap, RSS and thread counters: sampled this
                                   often; default 10 ms, -1 off */
    int sched;                  /* CPU scheduling from the kernel: -1 off;
                                   1 the context switches where permitted,
                                   else run-queue waits sampled from
                                   /proc/self/task/TID/schedstat; 0 (default)
                                   as 1, but those samples from where the
                                   switches come faster than 30 000 a
                                   second; 2 those samples only */
} ctrace_config;

/* Errors, as negative return values; ctrace_strerror names them. */
#define CTRACE_ERRORS(X)                                                      \
    X(CTRACE_OK, 0, "success")                                                \
    X(CTRACE_EBUSY, -16, "tracing is already on")                             \
    X(CTRACE_EINVAL, -22, "invalid argument")                                 \
    X(CTRACE_ENOMEM, -12, "out of memory")                                    \
    X(CTRACE_EBADF, -9, "bad file descriptor")

enum ctrace_error {
#define CTRACE_ERROR_ENUM(name, value, text) name = value,
    CTRACE_ERRORS(CTRACE_ERROR_ENUM)
#undef CTRACE_ERROR_ENUM
};

/* Starts tracing into fd (a file, pipe or socket open for writing). Returns 0,
 * or a negative errno value: -EBUSY when tracing is already on, -EBADF when fd
 * is not open for writing. The fd stays the caller's: ctrace never closes it. */
CTRACE_API int ctrace_start(int fd);
CTRACE_API int ctrace_start_config(int fd, const ctrace_config *config);

/* Stops tracing; returns when every event recorded before the call is in the
 * file. Calling it while tracing is off does nothing. */
CTRACE_API void ctrace_stop(void);

CTRACE_API bool ctrace_enabled(void);
CTRACE_API const char *ctrace_strerror(int error);

CTRACE_API ctrace_task ctrace_task_begin(ctrace_task parent, const char *type);
CTRACE_API void ctrace_task_end(ctrace_task task);
CTRACE_API ctrace_region ctrace_region_begin(ctrace_task task, const char *type);
CTRACE_API void ctrace_region_end(ctrace_region region);
CTRACE_API void ctrace_log(ctrace_task task, const char *category, const char *message);
CTRACE_API void ctrace_logf(ctrace_task task, const char *category, const char *fmt, ...)
    CTRACE_PRINTF(3, 4);

/* Turns stacks on annotations on or off while tracing (on by default). */
CTRACE_API void ctrace_set_stacks(bool on);

/*
 * The flight recorder (Go 1.25's runtime/trace.FlightRecorder): tracing into
 * a moving window in memory, written out as an ordinary trace on request.
 *
 * The window keeps at least min_age_ns of history (the generations after the
 * oldest one kept still cover min_age) and at most max_bytes: max_bytes wins
 * when the two disagree, but the newest complete generation is always kept.
 * Generations last min_age/8 (between 10 ms and 1 s) and end at max_bytes/8
 * bytes, so the window overshoots min_age by at most one generation, and
 * memory held is at most max_bytes plus the generation being filled (plus
 * the recorder's event batches, config.trace.buffer_bytes).
 *
 * Zero fields take the defaults: min_age 10 s, max_bytes 10 MiB. max_bytes
 * below CTRACE_FLIGHT_MIN_BYTES or min_age above CTRACE_FLIGHT_MAX_AGE_NS is
 * EINVAL. One flight recorder at a time (EBUSY); it runs alongside a trace
 * to a file (ctrace_start), sharing its settings when that started first.
 * ctrace_flight_start returns NULL with errno set on error.
 *
 * ctrace_flight_write cuts the window at the present and writes it to fd: 0,
 * or a negative errno (-EBUSY while another write of the same recorder runs;
 * the error of write(2) on a closed or full fd, and the recorder goes on).
 * It waits for the tracer's thread: not for signal handlers.
 */
typedef struct ctrace_flight ctrace_flight;
typedef struct ctrace_flight_config {
    uint64_t min_age_ns; /* default 10 s */
    size_t max_bytes;    /* default 10 MiB */
    ctrace_config trace; /* the recorder's settings, as for ctrace_start_config */
} ctrace_flight_config;
#define CTRACE_FLIGHT_MIN_BYTES ((size_t)64 << 10)
#define CTRACE_FLIGHT_MAX_AGE_NS ((uint64_t)24 * 3600 * 1000000000)

CTRACE_API ctrace_flight *ctrace_flight_start(const ctrace_flight_config *config);
CTRACE_API int ctrace_flight_write(ctrace_flight *flight, int fd);
CTRACE_API void ctrace_flight_stop(ctrace_flight *flight);
/* What the flight recorder holds now. */
typedef struct ctrace_flight_stats {
    size_t held_bytes;          /* memory mapped: the window and the generation
                                   being filled */
    size_t window_bytes;        /* the window's complete generations */
    uint64_t window_ns;         /* the time they cover */
    uint64_t generations;       /* how many */
    size_t largest_generation_bytes; /* of any generation so far */
    uint64_t dropped_generations;    /* dropped from the window so far */
    uint64_t failed_generations;     /* lost for want of memory */
} ctrace_flight_stats;
CTRACE_API void ctrace_flight_get_stats(const ctrace_flight *flight, ctrace_flight_stats *out);

/*
 * The fast "off" path. ctrace_on_ is nonzero exactly while tracing is on. The
 * macros below keep the functions' names and signatures; (name)(args) calls
 * the function itself, as does taking its address.
 */
CTRACE_API extern volatile unsigned char ctrace_on_;
#if defined(__GNUC__)
/* A relaxed atomic load: a plain byte load, and race-free for ThreadSanitizer. */
#define CTRACE_ON_() __atomic_load_n(&ctrace_on_, __ATOMIC_RELAXED)
#else
#define CTRACE_ON_() ctrace_on_
#endif

#ifndef CTRACE_NO_MACROS
#define ctrace_enabled() (CTRACE_ON_() != 0)
#define ctrace_task_begin(parent, type)                                       \
    (CTRACE_UNLIKELY(CTRACE_ON_()) ? (ctrace_task_begin)((parent), (type))     \
                                 : CTRACE_NO_TASK)
#define ctrace_task_end(task)                                                 \
    (CTRACE_UNLIKELY(CTRACE_ON_()) ? (ctrace_task_end)(task) : (void)0)
#define ctrace_region_begin(task, type)                                       \
    (CTRACE_UNLIKELY(CTRACE_ON_()) ? (ctrace_region_begin)((task), (type))     \
                                 : CTRACE_NO_REGION)
#define ctrace_region_end(region)                                             \
    (CTRACE_UNLIKELY(CTRACE_ON_()) ? (ctrace_region_end)(region) : (void)0)
#define ctrace_log(task, category, message)                                   \
    (CTRACE_UNLIKELY(CTRACE_ON_()) ? (ctrace_log)((task), (category), (message)) \
                                 : (void)0)
#define ctrace_logf(task, category, ...)                                      \
    (CTRACE_UNLIKELY(CTRACE_ON_()) ? (ctrace_logf)((task), (category), __VA_ARGS__) \
                                 : (void)0)
#endif

/* A region that ends when the enclosing scope ends (GCC and Clang):
 *     { CTRACE_REGION(task, "parse"); parse(); }                            */
#if defined(__GNUC__)
static inline void ctrace_region_cleanup_(ctrace_region *region)
{
    if (region->depth != 0)
        (ctrace_region_end)(*region);
}
#define CTRACE_CONCAT2_(a, b) a##b
#define CTRACE_CONCAT_(a, b) CTRACE_CONCAT2_(a, b)
#define CTRACE_REGION(task, type)                                             \
    ctrace_region CTRACE_CONCAT_(ctrace_scoped_region_, __LINE__)             \
        __attribute__((cleanup(ctrace_region_cleanup_), unused)) =           \
            ctrace_region_begin((task), (type))
#endif

#ifdef __cplusplus
}
#endif
#endif /* CTRACE_H */
