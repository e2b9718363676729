/*
 * export_files.c - what the OTLP and ClickHouse exports share about the
 * files they read: progress on stderr, and a fingerprint that tells the
 * same file exported twice.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/fleet.h"
#include "export.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ct_progress_start(struct ct_progress *p, char **files, int nfiles)
{
    *p = (struct ct_progress){.tty = isatty(STDERR_FILENO) == 1, .started_ns = now_ns()};
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0)
            p->total += (uint64_t)st.st_size;
    }
}

void ct_progress_update(struct ct_progress *p, uint64_t done, uint64_t rows, const char *what)
{
    uint64_t now = now_ns();
    /* A terminal: ten times a second. Elsewhere (a log): from 10 s on,
     * every 10 s. */
    uint64_t every = p->tty ? 100000000u : 10000000000u;
    if (!p->tty && now - p->started_ns < 10000000000u)
        return;
    if (p->shown && now - p->last_ns < every)
        return;
    p->last_ns = now;
    p->shown = true;
    uint64_t at = p->done_before + done;
    double secs = (double)(now - p->started_ns) / 1e9;
    fprintf(stderr, "%sctrace export: %3d%% of %.0f MB, %.1f M %s in %.0f s%s",
            p->tty ? "\r" : "", p->total ? (int)(at * 100 / p->total) : 0, (double)p->total / 1e6,
            (double)rows / 1e6, what, secs, p->tty ? "\033[K" : "\n");
}

void ct_progress_file_done(struct ct_progress *p, uint64_t size)
{
    p->done_before += size;
}

void ct_progress_end(struct ct_progress *p)
{
    if (p->tty && p->shown)
        fputs("\r\033[K", stderr);
    p->shown = false;
}

uint64_t ct_export_fingerprint(const char *path, uint64_t *size)
{
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    *size = (uint64_t)st.st_size;
    static unsigned char buf[64 * 1024];
    uint64_t h = ct_fleet_hash_u64(0, *size);
    /* The first and the last 64 KiB: the header and first generation, and
     * the end, which changes while a trace grows. */
    uint64_t tail = *size > sizeof buf ? *size - sizeof buf : 0;
    for (int part = 0; part < 2; part++) {
        ssize_t n = pread(fd, buf, sizeof buf, part ? (off_t)tail : 0);
        if (n > 0)
            h = ct_fleet_hash(h, buf, (size_t)n);
    }
    close(fd);
    return h ? h : 1;
}
