/*
 * export_clickhouse.c - `ctrace export --format=clickhouse --url URL FILE...`:
 * each trace's rows into ClickHouse (the tables of docs/fleet.sql), over its
 * HTTP interface.
 *
 * A file, step by step:
 *   1. Its identity: trace_id, a hash of the host and the recording (pid,
 *      session start, first generation), so that a trace that grew, or a
 *      flight recorder's later snapshot from the same start, is the same
 *      trace; and a fingerprint of its bytes. A trace whose latest export
 *      has the same fingerprint is skipped (unless --force).
 *   2. A new export_id, later than any earlier export of the trace.
 *   3. One streamed INSERT ... FORMAT RowBinary per table, fed while the
 *      trace is read once (fleet.c); ClickHouse writes each block of rows
 *      as it comes.
 *   4. When every INSERT has succeeded, the traces row: the commit. Queries
 *      read rows through the `exports` view (each trace's latest committed
 *      export_id), so until then, and forever if the export fails, the
 *      file's new rows are not seen, and the earlier export's still are.
 *   5. Rows of other exports of the trace (earlier ones, failed ones) are
 *      deleted (ALTER TABLE ... DELETE, a mutation ClickHouse applies in
 *      the background); the view hides them meanwhile.
 * ClickHouse 18.16 (Debian 12's) has no transactions and deduplicates
 * inserts only in replicated tables: the commit row and the view are what
 * make a file's rows appear all at once, and once.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../analysis/clickhouse.h"
#include "../format/bytes.h"
#include "cli.h"
#include "export.h"
#include "http.h"

extern const char ct_fleet_sql[];

#define CHUNK (1u << 20)
#define INSERT_BLOCK 65536u

struct server {
    const char *url, *database;
    bool force;
    struct ct_progress progress;
    uint64_t rows_sent;
};

/* ---- requests ---- */

/* Runs one statement (the body of a POST); 0 when the server said 200,
 * else -1 with the server's words on stderr after `what`. The answer is
 * left in r for the caller (freed on failure). */
static int run_sql(const struct server *sv, const char *what, const char *sql, bool in_database,
                   struct ct_http_response *r)
{
    char params[300] = "";
    if (in_database) {
        char *db = ct_http_escape(sv->database);
        snprintf(params, sizeof params, "database=%s", db ? db : sv->database);
        free(db);
    }
    char *url = ct_http_url(sv->url, "/", params);
    int rc = url ? ct_http_post(url, "text/plain; charset=utf-8", sql, strlen(sql), r) : -1;
    free(url);
    if (rc != 0) {
        fprintf(stderr, "ctrace export: %s: cannot reach ClickHouse at %s: %s\n", what, sv->url,
                r->error[0] ? r->error : "out of memory");
        ct_http_response_free(r);
        return -1;
    }
    if (r->status != 200) {
        fprintf(stderr, "ctrace export: %s: ClickHouse answered HTTP %ld: %s%s", what, r->status,
                r->body ? r->body : "",
                r->body_len && r->body[r->body_len - 1] == '\n' ? "" : "\n");
        ct_http_response_free(r);
        return -1;
    }
    return 0;
}

/* The statements of docs/fleet.sql, comments left out, one at a time. */
static int create_tables(const struct server *sv)
{
    struct ct_http_response r;
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS `%s`", sv->database);
    if (run_sql(sv, "creating the database", sql, false, &r) != 0)
        return -1;
    ct_http_response_free(&r);
    size_t cap = strlen(ct_fleet_sql) + 1, n = 0;
    char *stmt = malloc(cap);
    if (!stmt)
        return -1;
    int rc = 0;
    bool quoted = false;
    for (const char *p = ct_fleet_sql; *p && rc == 0; p++) {
        if (!quoted && p[0] == '-' && p[1] == '-') {
            while (p[1] && p[1] != '\n')
                p++;
            continue;
        }
        if (*p == '\'')
            quoted = !quoted;
        if (*p != ';' || quoted) {
            stmt[n++] = *p;
            continue;
        }
        stmt[n] = 0;
        n = 0;
        if (strspn(stmt, " \t\n") == strlen(stmt))
            continue;
        rc = run_sql(sv, "creating the tables of fleet.sql", stmt, true, &r);
        if (rc == 0)
            ct_http_response_free(&r);
    }
    free(stmt);
    return rc;
}

/* The server's tables have every column the export writes, of its type:
 * RowBinary names no column, so a table of another shape would take the
 * bytes as other values. */
static int check_columns(const struct server *sv)
{
    struct ct_http_response r;
    if (run_sql(sv, "reading the tables' columns",
                "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
                "FORMAT RowBinary",
                true, &r) != 0)
        return -1;
    int rc = 0;
    for (int t = 0; t < CT_CH_TABLES && rc == 0; t++) {
        const char *name, *type;
        for (size_t i = 0; rc == 0 && ct_ch_column(t, i, &name, &type); i++) {
            struct ct_cursor c = {(const uint8_t *)r.body, (const uint8_t *)r.body + r.body_len};
            bool found = false;
            const char *has = NULL;
            size_t has_len = 0;
            while (!found && c.p < c.end) {
                const uint8_t *f[3];
                uint64_t len[3];
                if (ct_get_bytes(&c, &f[0], &len[0]) != 0 || ct_get_bytes(&c, &f[1], &len[1]) != 0 ||
                    ct_get_bytes(&c, &f[2], &len[2]) != 0)
                    break;
                if (len[0] != strlen(ct_ch_table_name(t)) ||
                    memcmp(f[0], ct_ch_table_name(t), len[0]) != 0 || len[1] != strlen(name) ||
                    memcmp(f[1], name, len[1]) != 0)
                    continue;
                has = (const char *)f[2];
                has_len = len[2];
                found = has_len == strlen(type) && memcmp(has, type, has_len) == 0;
            }
            if (found)
                continue;
            if (has)
                fprintf(stderr,
                        "ctrace export: %s.%s has column %s of type %.*s, ctrace sends %s: "
                        "the table is not of fleet.sql's schema\n",
                        sv->database, ct_ch_table_name(t), name, (int)has_len, has, type);
            else
                fprintf(stderr,
                        "ctrace export: %s.%s has no column %s (%s): the table is not of "
                        "fleet.sql's schema\n",
                        sv->database, ct_ch_table_name(t), name, type);
            rc = -1;
        }
    }
    ct_http_response_free(&r);
    return rc;
}

/* ---- one file ---- */

/* A table's INSERT, opened at its first row. The writers fill the room
 * `out` gives in the stream's buffer, from `start`: those bytes are
 * committed to the stream when more room is asked for, and at the end. */
struct table_out {
    struct ct_ch_out out; /* first: table_more's argument is this */
    const struct server *sv;
    int table;
    uint64_t export_id;
    const char *path;
    struct ct_http_stream *stream;
    uint8_t *start;
    bool failed;
};

struct file_export {
    const struct server *sv;
    struct ct_ch_file f;
    struct table_out out[CT_CH_TABLES];
    uint64_t zero_real_ns;
    struct ct_progress *progress;
};

static struct ct_http_stream *open_insert(const struct table_out *t)
{
    char *cols = ct_ch_column_list(t->table);
    char sql[4096];
    snprintf(sql, sizeof sql, "INSERT INTO %s %s FORMAT RowBinary", ct_ch_table_name(t->table),
             cols ? cols : "");
    free(cols);
    char *q = ct_http_escape(sql), *db = ct_http_escape(t->sv->database);
    char params[8192];
    /* A query id of this export's, to wait for the server to be done
     * with a request cut short (query_ids_done). Blocks of INSERT_BLOCK
     * rows, not the default million: ClickHouse 18.16 copies every block
     * it takes (its squashing step), and copies of a million rows go to
     * fresh memory, page by page; smaller ones reuse the memory of the
     * previous one: the server's CPU for a trace's rows fell to a fifth
     * into Null tables and to about 60 % into MergeTree ones (a part per
     * block and partition; its merges keep them few). */
    snprintf(params, sizeof params,
             "database=%s&query_id=ctrace-%" PRIu64 "-%s&max_insert_block_size=%u"
             "&min_insert_block_size_rows=%u&query=%s",
             db ? db : "", t->export_id, ct_ch_table_name(t->table), INSERT_BLOCK, INSERT_BLOCK,
             q ? q : "");
    free(q);
    free(db);
    char *url = ct_http_url(t->sv->url, "/", params);
    struct ct_http_stream *stream =
        url ? ct_http_stream_open(url, "application/octet-stream", CHUNK) : NULL;
    free(url);
    return stream;
}

/* Commits the rows written since the last call. */
static void table_flush(struct table_out *t)
{
    if (t->stream && t->out.p != t->start)
        ct_http_stream_commit(t->stream, (size_t)(t->out.p - t->start));
    t->start = t->out.p;
}

static int table_more(struct ct_ch_out *o, size_t n)
{
    struct table_out *t = (struct table_out *)o;
    table_flush(t);
    uint8_t *end = NULL;
    uint8_t *p = NULL;
    if (!t->failed && !t->stream)
        t->stream = open_insert(t);
    if (!t->failed && t->stream)
        p = ct_http_stream_reserve(t->stream, n, &end);
    if (!p) {
        t->failed = true;
        o->p = o->end = t->start = NULL;
        return -1;
    }
    o->p = t->start = p;
    o->end = end;
    return 0;
}

static uint64_t rows_of(const struct file_export *x)
{
    uint64_t n = 0;
    for (int t = 0; t < CT_CH_TABLES; t++)
        n += x->out[t].out.rows;
    return n;
}

static int on_region(void *ctx, const struct ct_fleet_region *r)
{
    struct file_export *x = ctx;
    return ct_ch_region(&x->out[CT_CH_REGIONS].out, &x->f, r);
}

static int on_task(void *ctx, const struct ct_fleet_task *t)
{
    struct file_export *x = ctx;
    return ct_ch_task(&x->out[CT_CH_TASKS].out, &x->f, t);
}

static int on_log(void *ctx, const struct ct_fleet_log *l)
{
    struct file_export *x = ctx;
    return ct_ch_log(&x->out[CT_CH_LOGS].out, &x->f, l);
}

static int on_block(void *ctx, const struct ct_fleet_block *b)
{
    struct file_export *x = ctx;
    return ct_ch_block(&x->out[CT_CH_BLOCKS].out, &x->f, b);
}

static int on_thread(void *ctx, const struct ct_thread_row *r)
{
    struct file_export *x = ctx;
    return ct_ch_thread(&x->out[CT_CH_THREADS].out, &x->f, r, x->zero_real_ns);
}

static void on_progress(void *ctx, uint64_t done, uint64_t size)
{
    struct file_export *x = ctx;
    (void)size;
    ct_progress_update(x->progress, done, x->sv->rows_sent + rows_of(x), "rows");
}

/* Ends every table's INSERT (cut when abort); 0 when all were taken.
 * Each refusal is shown as the server gave it, with the file and table. */
static int finish_tables(struct file_export *x, bool abort)
{
    int rc = 0;
    for (int t = 0; t < CT_CH_TABLES; t++) {
        struct table_out *o = &x->out[t];
        if (!o->stream)
            continue;
        table_flush(o);
        struct ct_http_response r;
        int sent = ct_http_stream_finish(o->stream, abort, &r);
        o->stream = NULL;
        if (abort) {
            ct_http_response_free(&r);
            continue;
        }
        if (sent != 0) {
            fprintf(stderr, "ctrace export: %s: cannot send the rows of %s.%s to %s: %s\n", o->path,
                    x->sv->database, ct_ch_table_name(t), x->sv->url,
                    r.error[0] ? r.error : "out of memory");
            rc = -1;
        } else if (r.status != 200) {
            fprintf(stderr, "ctrace export: %s: ClickHouse refused the rows of %s.%s (HTTP %ld): %s%s",
                    o->path, x->sv->database, ct_ch_table_name(t), r.status, r.body ? r.body : "",
                    r.body_len && r.body[r.body_len - 1] == '\n' ? "" : "\n");
            rc = -1;
        }
        ct_http_response_free(&r);
    }
    return rc;
}

/* The latest committed export of trace_id: its id and fingerprint (0, 0
 * when none); -1 when the server could not say. */
static int latest_export(const struct server *sv, const char *path, uint64_t trace_id,
                         uint64_t *export_id, uint64_t *fingerprint)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT export_id, fingerprint FROM traces WHERE trace_id = %" PRIu64
             " ORDER BY export_id DESC LIMIT 1 FORMAT RowBinary",
             trace_id);
    struct ct_http_response r;
    if (run_sql(sv, path, sql, true, &r) != 0)
        return -1;
    *export_id = *fingerprint = 0;
    if (r.body_len >= 16) {
        const uint8_t *b = (const uint8_t *)r.body;
        *export_id = ct_get_u32(b) | (uint64_t)ct_get_u32(b + 4) << 32;
        *fingerprint = ct_get_u32(b + 8) | (uint64_t)ct_get_u32(b + 12) << 32;
    }
    ct_http_response_free(&r);
    return 0;
}

/* Waits (up to 2 minutes) until the server has no request of export_id
 * running: one cut short by the client goes on storing the blocks it had
 * read, and rows stored after a mutation began would escape it. */
static void query_ids_done(const struct server *sv, const char *path, uint64_t export_id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count() FROM system.processes WHERE query_id LIKE 'ctrace-%" PRIu64
             "-%%' FORMAT RowBinary",
             export_id);
    for (int i = 0; i < 1200; i++) {
        struct ct_http_response r;
        if (run_sql(sv, path, sql, false, &r) != 0)
            return;
        bool running = r.body_len >= 8 && (ct_get_u32((const uint8_t *)r.body) ||
                                           ct_get_u32((const uint8_t *)r.body + 4));
        ct_http_response_free(&r);
        if (!running)
            return;
        struct timespec pause = {0, 100000000};
        nanosleep(&pause, NULL);
    }
}

/* Deletes the rows of trace_id's other exports than keep (all of
 * export_id `only` instead, when it is not 0), in the tables that have
 * some. Best effort: the exports view hides them anyway. */
static void delete_rows(const struct server *sv, const char *path, uint64_t trace_id,
                        uint64_t keep, uint64_t only)
{
    if (only)
        query_ids_done(sv, path, only);
    char where[160];
    if (only)
        snprintf(where, sizeof where, "export_id = %" PRIu64, only);
    else
        snprintf(where, sizeof where, "trace_id = %" PRIu64 " AND export_id != %" PRIu64, trace_id,
                 keep);
    char sql[2048];
    int n = snprintf(sql, sizeof sql, "SELECT t, c FROM (");
    for (int t = 0; t < CT_CH_TABLES; t++)
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      "%sSELECT '%s' AS t, count() AS c FROM %s WHERE %s", t ? " UNION ALL " : "",
                      ct_ch_table_name(t), ct_ch_table_name(t), where);
    snprintf(sql + n, sizeof sql - (size_t)n, ") WHERE c > 0 FORMAT RowBinary");
    struct ct_http_response r;
    if (run_sql(sv, path, sql, true, &r) != 0)
        return;
    struct ct_cursor c = {(const uint8_t *)r.body, (const uint8_t *)r.body + r.body_len};
    const uint8_t *name;
    uint64_t len;
    while (ct_get_bytes(&c, &name, &len) == 0 && c.end - c.p >= 8) {
        c.p += 8;
        char alter[512];
        snprintf(alter, sizeof alter, "ALTER TABLE %.*s DELETE WHERE %s", (int)len,
                 (const char *)name, where);
        struct ct_http_response a;
        if (run_sql(sv, path, alter, true, &a) == 0)
            ct_http_response_free(&a);
    }
    ct_http_response_free(&r);
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The traces row, in memory: no more room than the buffer's. */
static int fixed_more(struct ct_ch_out *o, size_t n)
{
    (void)o;
    (void)n;
    return -1;
}

/* The traces row, alone in its INSERT: the commit. */
static int commit(struct file_export *x, const struct ct_ch_trace *t, const char *path)
{
    uint8_t buf[8192];
    struct ct_ch_out o = {buf, buf + sizeof buf, 0, fixed_more};
    if (ct_ch_trace(&o, &x->f, t) != 0) {
        fprintf(stderr, "ctrace export: %s: the traces row is too long\n", path);
        return -1;
    }
    char *cols = ct_ch_column_list(CT_CH_TRACES);
    char sql[4096];
    snprintf(sql, sizeof sql, "INSERT INTO traces %s FORMAT RowBinary", cols ? cols : "");
    free(cols);
    char *q = ct_http_escape(sql), *db = ct_http_escape(x->sv->database);
    char params[8192];
    snprintf(params, sizeof params, "database=%s&query=%s", db ? db : "", q ? q : "");
    free(q);
    free(db);
    char *url = ct_http_url(x->sv->url, "/", params);
    struct ct_http_response r;
    int rc = url ? ct_http_post(url, "application/octet-stream", buf, (size_t)(o.p - buf), &r) : -1;
    free(url);
    if (rc != 0) {
        fprintf(stderr, "ctrace export: %s: cannot send the traces row to %s: %s\n", path,
                x->sv->url, r.error[0] ? r.error : "out of memory");
    } else if (r.status != 200) {
        fprintf(stderr, "ctrace export: %s: ClickHouse refused the rows of %s.traces (HTTP %ld): %s%s",
                path, x->sv->database, r.status, r.body ? r.body : "",
                r.body_len && r.body[r.body_len - 1] == '\n' ? "" : "\n");
        rc = -1;
    }
    ct_http_response_free(&r);
    return rc;
}

/* The trace's id: its host and recording (a flight recorder's snapshots
 * from one start, and a trace that grew, are the one trace), or its bytes
 * when it names no process. */
static uint64_t trace_id_of(const struct ct_fleet_trace *who, const char *host, uint64_t fingerprint)
{
    uint64_t h = ct_fleet_hash(0, host, strlen(host));
    if (!who->has_process)
        return ct_fleet_hash_u64(h, fingerprint) >> 1; /* below 2^63: reads alike as Int64 */
    h = ct_fleet_hash_u64(h, who->pid);
    h = ct_fleet_hash_u64(h, who->start_real_ns);
    return ct_fleet_hash_u64(h, who->first_generation) >> 1;
}

/* The file's rows, then its traces row; the rows of other exports of the
 * trace deleted, or this export's when it failed. */
static int send_file(struct file_export *x, const char *path, struct ct_fleet_trace *who,
                     uint64_t size, uint64_t fingerprint, bool replaces)
{
    struct server *sv = (struct server *)x->sv;
    uint64_t trace_id = x->f.trace_id, export_id = x->f.export_id;
    for (int t = 0; t < CT_CH_TABLES; t++) {
        x->out[t] = (struct table_out){.out = {.more = table_more}, .sv = sv, .table = t,
                                       .export_id = export_id, .path = path};
    }
    struct ct_fleet_sink sink = {x, on_region, on_task, on_log, on_block, on_thread, on_progress};
    struct ct_fleet_summary sum;
    struct ct_reader rd;
    int rc = ct_rd_open(&rd, path);
    if (rc == 0)
        rc = ct_fleet_read(&rd, &sink, &sum);
    bool sent_any = false;
    for (int t = 0; t < CT_CH_TABLES; t++)
        sent_any |= x->out[t].stream != NULL;
    ct_progress_end(&sv->progress);
    ct_cli_report(&rd); /* the error; or a warning: a trace cut between records reads */
    ct_rd_close(&rd);
    /* rc < 0: a damaged trace, whose rows sent so far are cut off; rc 1: a
     * table's INSERT ended early, and its answer says why. */
    if (finish_tables(x, rc < 0) != 0 || rc != 0) {
        if (sent_any)
            delete_rows(sv, path, trace_id, 0, export_id);
        return CT_EXIT_BAD_INPUT;
    }
    if (who->sched < sum.sched)
        who->sched = sum.sched;
    struct ct_ch_trace row = {who, &sum, size, fingerprint, (uint64_t)time(NULL),
                              CTRACE_VERSION_STRING};
    if (commit(x, &row, path) != 0) {
        delete_rows(sv, path, trace_id, 0, export_id);
        return CT_EXIT_BAD_INPUT;
    }
    /* Earlier exports of this trace, and failed ones, go. */
    delete_rows(sv, path, trace_id, export_id, 0);
    sv->rows_sent += rows_of(x) + 1;
    printf("%s: trace %" PRIu64 " of %.*s%s: %" PRIu64 " threads, %" PRIu64 " tasks, %" PRIu64
           " regions, %" PRIu64 " logs, %" PRIu64 " blocks and calls\n",
           path, trace_id, (int)x->f.host_len, x->f.host,
           replaces ? " (replaces an earlier export)" : "", x->out[CT_CH_THREADS].out.rows,
           x->out[CT_CH_TASKS].out.rows, x->out[CT_CH_REGIONS].out.rows, x->out[CT_CH_LOGS].out.rows,
           x->out[CT_CH_BLOCKS].out.rows);
    fflush(stdout);
    return CT_EXIT_OK;
}

/* One file; CT_EXIT_OK, or CT_EXIT_BAD_INPUT with the reason on stderr. */
static int export_file(struct server *sv, const char *path, const char *host_option)
{
    struct ct_reader rd;
    struct ct_fleet_trace who;
    if (ct_fleet_identify(path, &who, &rd) != 0) {
        ct_cli_report(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    char resolved[PATH_MAX];
    const char *file = realpath(path, resolved) ? resolved : path;
    const char *host = host_option ? host_option : who.host[0] ? who.host : "unknown";
    uint64_t size, fingerprint = ct_export_fingerprint(path, &size);
    uint64_t trace_id = trace_id_of(&who, host, fingerprint);
    uint64_t previous, previous_fingerprint;
    if (latest_export(sv, path, trace_id, &previous, &previous_fingerprint) != 0)
        return CT_EXIT_BAD_INPUT;
    if (previous && previous_fingerprint == fingerprint && !sv->force) {
        printf("%s: trace %" PRIu64 " of %s was exported already, skipped (--force exports it "
               "again)\n",
               path, trace_id, host);
        ct_progress_file_done(&sv->progress, size);
        return CT_EXIT_OK;
    }
    uint64_t export_id = realtime_ns();
    if (export_id <= previous)
        export_id = previous + 1;

    struct file_export x = {
        .sv = sv,
        .f = {trace_id, export_id, who.pid, host, file, strlen(host), strlen(file)},
        .zero_real_ns = who.start_real_ns,
        .progress = &sv->progress,
    };
    int rc = CT_EXIT_BAD_INPUT;
    if (ct_ch_file_init(&x.f) != 0)
        fprintf(stderr, "ctrace export: %s: out of memory\n", path);
    else
        rc = send_file(&x, path, &who, size, fingerprint, previous != 0);
    ct_ch_file_free(&x.f);
    ct_progress_file_done(&sv->progress, size);
    return rc;
}

int ct_export_clickhouse(const struct ct_export_options *o)
{
    for (const char *c = o->database; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return ct_cli_usage_error(&ct_cmd_export, "--database: letters, digits and _ only");
    if (!o->database[0])
        return ct_cli_usage_error(&ct_cmd_export, "--database needs a name");
    const char *why = ct_http_init();
    if (why) {
        fprintf(stderr, "ctrace export: %s\n", why);
        return CT_EXIT_BAD_INPUT;
    }
    struct server sv = {.url = o->url, .database = o->database, .force = o->force};
    if (create_tables(&sv) != 0 || check_columns(&sv) != 0)
        return CT_EXIT_BAD_INPUT;
    ct_progress_start(&sv.progress, o->files, o->nfiles);
    int rc = CT_EXIT_OK;
    for (int i = 0; i < o->nfiles; i++)
        if (export_file(&sv, o->files[i], o->host) != CT_EXIT_OK)
            rc = CT_EXIT_BAD_INPUT;
    ct_progress_end(&sv.progress);
    return rc;
}
