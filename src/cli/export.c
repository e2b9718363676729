/*
 * export.c - `ctrace export`: the trace as Trace Event Format JSON for
 * Perfetto's UI and chrome://tracing (--format=chrome), as OpenTelemetry
 * spans (--format=otlp, export_otlp.c), or as rows in ClickHouse
 * (--format=clickhouse, export_clickhouse.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/chrome.h"
#include "cli.h"
#include "export.h"
#include "output.h"
#include "tree_cmds.h"

/* The process's pid and command, from the first generation. */
static void process_of(const char *path, uint64_t *pid, char *command, size_t cap)
{
    struct ct_reader rd;
    struct ct_gen gen = {0};
    *pid = 0;
    snprintf(command, cap, "process");
    if (ct_rd_open(&rd, path) == 0 && ct_rd_next_gen(&rd, &gen) == 1 && gen.has_process) {
        *pid = gen.process.pid;
        size_t n = gen.process.cmdline_len < cap - 1 ? gen.process.cmdline_len : cap - 1;
        for (size_t i = 0; i < n; i++)
            command[i] = gen.process.cmdline[i] ? (char)gen.process.cmdline[i] : ' ';
        while (n > 0 && command[n - 1] == ' ')
            n--;
        command[n] = 0;
    }
    ct_gen_free(&gen);
    ct_rd_close(&rd);
}

/* The Chrome export: one file. */
static int export_chrome(const char *path, const char *output)
{
    struct ct_reader rd;
    if (ct_rd_open(&rd, path) != 0) {
        ct_cli_report(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    struct ct_output out;
    if (ct_output_open(&out, output, "export") != 0) {
        ct_rd_close(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    uint64_t pid;
    char command[256];
    process_of(path, &pid, command, sizeof command);
    int rc = ct_export_chrome(&rd, out.f, pid, command);
    /* What was there stays on a failure (--strict: on damage too); a
     * damaged trace otherwise exports what precedes the damage. */
    if (rc != 0 || !ct_cli_may_print(&rd))
        ct_output_abort(&out);
    else if (ct_output_commit(&out, "export") != 0)
        rc = -1;
    ct_cli_report(&rd);
    ct_rd_close(&rd);
    return ct_cli_status(&rd, rc);
}

/* Whether the arguments ask for one of the fleet's formats, which take
 * any number of unrelated files. */
static bool fleet_format(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *f = strncmp(argv[i], "--format=", 9) == 0 ? argv[i] + 9
                        : strcmp(argv[i], "--format") == 0 && i + 1 < argc ? argv[i + 1]
                                                                            : NULL;
        if (f && (strcmp(f, "otlp") == 0 || strcmp(f, "clickhouse") == 0))
            return true;
    }
    return false;
}

/* "--name=VALUE" or "--name VALUE": the value, advancing *i; NULL if arg
 * is not that option. */
static const char *option(const char *name, int argc, char **argv, int *i)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_export, argc, argv))
        return CT_EXIT_OK;
    /* Chrome's: FILE FILE.* or --tree FILE, a process tree on one time line */
    if (!fleet_format(argc, argv) && ct_cli_tree_wanted(argc, argv))
        return ct_cli_tree_run(&ct_cmd_export, argc, argv);
    struct ct_export_options o = {.database = "ctrace"};
    char **files = calloc((size_t)argc, sizeof *files);
    if (!files)
        return CT_EXIT_BAD_INPUT;
    o.files = files;
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            o.output = argv[++i];
        else if ((v = option("--format", argc, argv, &i)))
            o.format = v;
        else if ((v = option("--url", argc, argv, &i)))
            o.url = v;
        else if ((v = option("--database", argc, argv, &i)))
            o.database = v;
        else if ((v = option("--otlp-endpoint", argc, argv, &i)))
            o.otlp_endpoint = v;
        else if ((v = option("--host", argc, argv, &i)))
            o.host = v;
        else if (strcmp(argv[i], "--force") == 0)
            o.force = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            free(files);
            return ct_cli_usage_error(&ct_cmd_export, "unknown option '%s'", argv[i]);
        } else
            files[o.nfiles++] = argv[i];
    }
    const char *error = NULL;
    bool chrome = o.format && strcmp(o.format, "chrome") == 0;
    bool otlp = o.format && strcmp(o.format, "otlp") == 0;
    bool clickhouse = o.format && strcmp(o.format, "clickhouse") == 0;
    if (!chrome && !otlp && !clickhouse)
        error = "--format=chrome, otlp or clickhouse is needed";
    else if (o.nfiles == 0)
        error = "missing FILE";
    else if (chrome && o.nfiles > 1)
        error = "--format=chrome exports one FILE";
    else if (clickhouse && !o.url)
        error = "--format=clickhouse needs --url (ClickHouse's HTTP interface)";
    else if (clickhouse && o.output)
        error = "--format=clickhouse sends to --url, not to -o";
    else if (!clickhouse && (o.url || o.host || o.force || strcmp(o.database, "ctrace") != 0))
        error = "--url, --database, --host and --force are for --format=clickhouse";
    else if (!otlp && o.otlp_endpoint)
        error = "--otlp-endpoint is for --format=otlp";
    else if (o.host && !o.host[0])
        error = "--host needs a name";
    int rc = error ? ct_cli_usage_error(&ct_cmd_export, "%s", error)
           : chrome ? export_chrome(files[0], o.output)
           : otlp   ? ct_export_otlp(&o)
                    : ct_export_clickhouse(&o);
    free(files);
    return rc;
}

const struct ct_command ct_cmd_export = {
    "export",
    "the trace as Chrome/Perfetto JSON, OpenTelemetry spans, or rows in ClickHouse",
    "usage: ctrace export --format=chrome [-o OUT] [--strict] [--tree] FILE [FILE.PID...]\n"
    "       ctrace export --format=otlp [-o OUT] [--otlp-endpoint URL] FILE...\n"
    "       ctrace export --format=clickhouse --url URL [--database DB] [--host NAME]\n"
    "                     [--force] FILE...\n"
    "\n"
    "--format=chrome writes the trace as Trace Event Format JSON, which\n"
    "Perfetto's UI (ui.perfetto.dev) and chrome://tracing open: each thread's\n"
    "regions (nested slices), tasks (async slices) and logs (instants); each\n"
    "thread's states (running, runnable, blocked with the primitive, sleeping,\n"
    "system call, off CPU) in a process of their own; which thread ran on each\n"
    "CPU; heap, RSS and thread counters; and flow arrows from each wake to the\n"
    "unblock it caused. Times in microseconds from the start of the trace.\n"
    "A process tree: FILE FILE.* (the traces ctrace run wrote for the program's\n"
    "children and exec'd programs), or --tree FILE (FILE and every trace of its\n"
    "descendants beside it) reads them as one, on one time line: one JSON, a\n"
    "process for each.\n"
    "\n"
    "--format=otlp writes OpenTelemetry spans as OTLP/JSON: each task is a\n"
    "trace with a span of its own, its regions are spans nested as they were\n"
    "on their threads, logs are events of the span they happened in; the\n"
    "process is the resource (service.name, host.name, process.pid, ...), the\n"
    "thread a span attribute (thread.id, thread.name). Regions of no task are\n"
    "traces of their own. One ExportTraceServiceRequest a line (at most 4 MiB\n"
    "each), the JSON Lines of OpenTelemetry's file exporter; with several\n"
    "files, one resource each.\n"
    "\n"
    "--format=clickhouse sends the trace's rows to ClickHouse's HTTP interface:\n"
    "traces, threads (the columns of ctrace threads), tasks, regions, logs and\n"
    "blocks (each block and slow system call, with its object and symbolized\n"
    "stack), each row with its host and file; the tables of docs/fleet.sql\n"
    "(installed as share/ctrace/fleet.sql) are created when missing, and\n"
    "docs/fleet.md has the queries over a fleet. Rows are streamed in\n"
    "RowBinary while the trace is read. A file's rows count once its traces\n"
    "row is written, last: a failed export leaves nothing that queries see.\n"
    "A file exported again unchanged is skipped; a changed one (a trace still\n"
    "growing) replaces the earlier rows. Errors from the server are shown as\n"
    "they come, with the file and the table; the other files go on, and the\n"
    "exit status is 1.\n"
    "\n"
    "  -o OUT                 write to OUT instead of standard output. OUT is\n"
    "                         replaced only once the export is whole; on a\n"
    "                         failure it is left as it was. Written readable by\n"
    "                         its owner only\n"
    "  --otlp-endpoint URL    also POST each request to a collector (OTLP/HTTP,\n"
    "                         JSON); /v1/traces is added to a URL with no path\n"
    "  --url URL              ClickHouse's HTTP interface, e.g.\n"
    "                         http://127.0.0.1:8123 (user:password@ for a user)\n"
    "  --database DB          the database of the tables (default ctrace)\n"
    "  --host NAME            the host name recorded for these files, instead of\n"
    "                         the one each trace names\n"
    "  --force                export files already exported, replacing their rows\n"
    "\n"
    "A cut or damaged FILE: the Chrome export writes what precedes the damage,\n"
    "then the error, exit 1 (with --strict only the error); the OTLP and\n"
    "ClickHouse exports leave such a file out whole, with the error, exit 1.\n"
    "\n"
    "Progress goes to stderr on a terminal, and elsewhere every 10 s once the\n"
    "work has taken 10 s.\n",
    run,
};
