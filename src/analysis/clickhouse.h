/*
 * clickhouse.h - a trace's rows (fleet.h) in ClickHouse's RowBinary format,
 * for the tables of docs/fleet.sql (clickhouse.c). One table of columns per
 * table gives the order rows are written in, the INSERT's column list and
 * the types the exporter checks the server's tables against.
 */
#ifndef CT_CLICKHOUSE_H
#define CT_CLICKHOUSE_H

#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

enum ct_ch_table {
    CT_CH_TRACES,
    CT_CH_THREADS,
    CT_CH_TASKS,
    CT_CH_REGIONS,
    CT_CH_LOGS,
    CT_CH_BLOCKS,
    CT_CH_TABLES
};

const char *ct_ch_table_name(int table);
/* Column i of a table (name and ClickHouse type, as system.columns gives
 * them); 0 past the last. */
int ct_ch_column(int table, size_t i, const char **name, const char **type);
/* "(day,trace_id,...)": the INSERT's column list; malloc'd. */
char *ct_ch_column_list(int table);

/* What every row of a file carries; ct_ch_file_init encodes it once. */
struct ct_ch_file {
    uint64_t trace_id, export_id, pid;
    const char *host, *file;
    size_t host_len, file_len;
    uint8_t *prefix;          /* the five columns after the day, encoded */
    size_t prefix_used;       /* their bytes */
    size_t prefix_len;        /* the buffer's: prefix_used rounded up to 16 */
};
int ct_ch_file_init(struct ct_ch_file *f);
void ct_ch_file_free(struct ct_ch_file *f);

/* Where a table's bytes go: the room [p, end) that the writers fill in
 * place, row after row, with no call while it lasts; when a row may not
 * fit, more() takes the bytes written so far and gives room for at least
 * n bytes (-1: stop, nothing more is taken). rows counts the rows written. */
struct ct_ch_out {
    uint8_t *p, *end;
    uint64_t rows;
    int (*more)(struct ct_ch_out *o, size_t n);
};

/* Each writes one row; 0, or -1 when the output refused room. */
int ct_ch_region(struct ct_ch_out *o, const struct ct_ch_file *f,
                 const struct ct_fleet_region *r);
int ct_ch_task(struct ct_ch_out *o, const struct ct_ch_file *f, const struct ct_fleet_task *t);
int ct_ch_log(struct ct_ch_out *o, const struct ct_ch_file *f, const struct ct_fleet_log *l);
int ct_ch_block(struct ct_ch_out *o, const struct ct_ch_file *f,
                const struct ct_fleet_block *b);
/* A thread; begin_real_ns is the wall clock at the trace's time zero. */
int ct_ch_thread(struct ct_ch_out *o, const struct ct_ch_file *f,
                 const struct ct_thread_row *r, uint64_t zero_real_ns);

/* The traces row: written last, it makes the file's rows count. */
struct ct_ch_trace {
    const struct ct_fleet_trace *who;
    const struct ct_fleet_summary *sum;
    uint64_t file_size, fingerprint;
    uint64_t exported_at; /* seconds since 1970 */
    const char *version;
};
int ct_ch_trace(struct ct_ch_out *o, const struct ct_ch_file *f, const struct ct_ch_trace *t);

/* The UTC day (days since 1970) of a wall clock in ns: the partition. */
uint16_t ct_ch_day(uint64_t real_ns);

#endif
