/*
 * export.c - `ctrace export --format=chrome [-o OUT] FILE`: the trace as
 * Trace Event Format JSON for Perfetto's UI and chrome://tracing.
 */
#include <errno.h>
#include <string.h>

#include "../analysis/chrome.h"
#include "cli.h"
#include "tree_cmds.h"
#include "output.h"

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

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_export, argc, argv))
        return CT_EXIT_OK;
    if (ct_cli_tree_wanted(argc, argv)) /* FILE FILE.*, or --tree FILE */
        return ct_cli_tree_run(&ct_cmd_export, argc, argv);
    const char *format = NULL, *output = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--format=", 9) == 0)
            format = argv[i] + 9;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            output = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return ct_cli_usage_error(&ct_cmd_export, "unknown option '%s'", argv[i]);
        else if (path)
            return ct_cli_usage_error(&ct_cmd_export, "expected one FILE");
        else
            path = argv[i];
    }
    if (!path)
        return ct_cli_usage_error(&ct_cmd_export, "missing FILE");
    if (!format || strcmp(format, "chrome") != 0)
        return ct_cli_usage_error(&ct_cmd_export, "--format=chrome is the format there is");
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

const struct ct_command ct_cmd_export = {
    "export",
    "the trace as Trace Event Format JSON (Perfetto, chrome://tracing)",
    "usage: ctrace export --format=chrome [-o OUT] [--strict] [--tree] FILE [FILE.PID...]\n"
    "\n"
    "Writes the trace as Trace Event Format JSON, which Perfetto's UI\n"
    "(ui.perfetto.dev) and chrome://tracing open: each thread's regions (nested\n"
    "slices), tasks (async slices) and logs (instants); each thread's states\n"
    "(running, runnable, blocked with the primitive, sleeping, system call,\n"
    "off CPU) in a process of their own; which thread ran on each CPU; heap,\n"
    "RSS and thread counters; and flow arrows from each wake to the unblock it\n"
    "caused. Times in microseconds from the start of the trace.\n"
    "\n"
    "  -o OUT   write to OUT instead of standard output. OUT is replaced only\n"
    "           once the export is whole; on a failure it is left as it was.\n"
    "           Written readable by its owner only\n"
    "\n"
    "A cut or damaged FILE: what precedes the damage, then the error, exit 1;\n"
    "with --strict only the error.\n"
    "\n"
    "A process tree: FILE FILE.* (the traces ctrace run wrote for the program's\n"
    "children and exec'd programs), or --tree FILE (FILE and every trace of its\n"
    "descendants beside it) reads them as one, on one time line:\n"
    "one JSON, a process for each.\n",
    run,
};
