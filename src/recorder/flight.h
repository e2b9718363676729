/*
 * flight.h - the flight recorder's ring of generations (flight.c), fed by
 * the writer (writer.c).
 *
 * The writer copies every record it writes into the generation being
 * filled (`cur`); when it closes that generation the ring keeps it and drops
 * the oldest ones that the window no longer needs. Who may touch what:
 *
 *   the list (head..tail), cur      the writer, holding the writer's io lock;
 *                                   a crash handler that took that lock
 *   the generations head..tail      read by ctrace_flight_write while
 *                                   `writing` is set: the writer then frees
 *                                   dropped ones only after the write
 */
#ifndef CT_FLIGHT_H
#define CT_FLIGHT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "recorder.h"

struct ct_fgen {
    struct ct_fgen *next;   /* the next newer generation of the ring */
    struct ct_fgen *zombie; /* dropped while a write was reading */
    uint8_t *mem;           /* mmap'd, grown with mremap */
    size_t len, cap;
    uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC */
    bool failed;               /* out of memory: dropped when closed */
};

struct ctrace_flight {
    uint64_t min_age_ns;
    size_t max_bytes;
    struct ct_fgen *head, *tail; /* completed generations, oldest first */
    struct ct_fgen *cur;         /* being filled */
 struct ct_fgen *zombies;
    struct ct_fgen *spare;       /* dropped, its buffer kept for the next */
    size_t held;                 /* bytes of head..tail */
    _Atomic size_t mapped;       /* bytes mapped for every generation */
    _Atomic int writing;         /* a write of the window is under way */
    uint64_t dropped, failed;    /* generations dropped, lost to memory */
    uint64_t count;              /* generations in head..tail */
    /* For ctrace_flight_get_stats from any thread, set at each close. */
    _Atomic size_t stat_window, stat_largest;
    _Atomic uint64_t stat_window_ns, stat_count, stat_dropped, stat_failed;
};

/* The writer's side (io lock held). */
CT_INTERNAL void ct_flight_open_gen(struct ctrace_flight *f, uint64_t start_ns);
CT_INTERNAL void ct_flight_append(struct ctrace_flight *f, const struct iovec *iov, int count);
/* cut: the close of a write's cut, which keeps the window's bytes (the
 * next close trims them). */
CT_INTERNAL void ct_flight_close_gen(struct ctrace_flight *f, uint64_t end_ns, bool cut);
CT_INTERNAL void ct_flight_free(struct ctrace_flight *f);

/* Writes a file header, the generations from..to and an end record to fd;
 * 0 or a negative errno. */
CT_INTERNAL int ct_flight_write_gens(const struct ct_fgen *from, const struct ct_fgen *to, int fd);
/* A fatal signal: writes the window and the generation being filled
 * (without its end) to fd. Async-signal-safe; the io lock is held. */
CT_INTERNAL void ct_flight_write_crash(const struct ctrace_flight *f, int fd);

/* The writer (writer.c): the one flight recorder, its window cut at the
 * present, taken for reading. */
CT_INTERNAL struct ctrace_flight *ct_flight_current(void);
CT_INTERNAL int ct_writer_flight_snapshot(struct ctrace_flight *f, const struct ct_fgen **from,
                                          const struct ct_fgen **to);

/* A write of the window that a signal asked for (ct_flight_request_write)
 * runs on the writer thread through this hook, set by the preload library. */
CT_INTERNAL extern void (*ct_flight_write_hook)(struct ctrace_flight *f, const char *why);
CT_INTERNAL void ct_flight_request_write(void); /* async-signal-safe */
/* Takes a request the writer has not yet met (the program is ending: its
 * exit writes the window instead); true if there was one. */
CT_INTERNAL bool ct_flight_take_request(void);
/* ctrace_flight_write for the writer's thread, after its own cut. */
CT_INTERNAL int ct_flight_write_on_writer(struct ctrace_flight *f, int fd);
/* The window of a fatal signal, written by ct_crash_flush's caller. */
CT_INTERNAL struct ctrace_flight *ct_flight_for_crash(void);

#endif
