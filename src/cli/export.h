/* export.h - what `ctrace export`'s formats share (export.c parses it). */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

struct ct_export_options {
    const char *format;
    const char *output;        /* -o */
    const char *url;           /* --url: ClickHouse's HTTP interface */
    const char *database;      /* --database, default ctrace */
    const char *otlp_endpoint; /* --otlp-endpoint: a collector */
    const char *host;          /* --host: instead of the host each trace names */
    bool force;                /* --force: export a file already exported */
    char **files;
    int nfiles;
};

int ct_export_clickhouse(const struct ct_export_options *o);
int ct_export_otlp(const struct ct_export_options *o);

/* Progress on stderr while files are read: a line kept up to date on a
 * terminal; elsewhere, once the work has taken 10 s, a line every 10 s. */
struct ct_progress {
    uint64_t total, done_before; /* bytes of all files; of the files done */
    uint64_t started_ns, last_ns;
    bool tty, shown;
};
void ct_progress_start(struct ct_progress *p, char **files, int nfiles);
/* done: bytes of the current file read; rows: rows (or spans) sent so far. */
void ct_progress_update(struct ct_progress *p, uint64_t done, uint64_t rows, const char *what);
void ct_progress_file_done(struct ct_progress *p, uint64_t size);
void ct_progress_end(struct ct_progress *p);

/* The file's identity for a fleet: a hash of its size and its first and
 * last 64 KiB (0 when it cannot be read). */
uint64_t ct_export_fingerprint(const char *path, uint64_t *size);

#endif
