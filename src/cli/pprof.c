/*
 * pprof.c - `ctrace pprof --type=net|sync|syscall|sched [-o OUT] FILE`.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "../analysis/pprof.h"
#include "cli.h"
#include "tree_cmds.h"
#include "output.h"

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_pprof, argc, argv))
        return CT_EXIT_OK;
    if (ct_cli_tree_wanted(argc, argv)) /* FILE FILE.*, or --tree FILE */
        return ct_cli_tree_run(&ct_cmd_pprof, argc, argv);
    const char *type = NULL, *output = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--type=", 7) == 0)
            type = argv[i] + 7;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            output = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return ct_cli_usage_error(&ct_cmd_pprof, "unknown option '%s'", argv[i]);
        else if (path)
            return ct_cli_usage_error(&ct_cmd_pprof, "expected one FILE");
        else
            path = argv[i];
    }
    static const char *names[] = {"net", "sync", "syscall", "sched"};
    int kind = -1;
    for (int i = 0; type && i < 4; i++)
        if (strcmp(type, names[i]) == 0)
            kind = i;
    if (kind < 0)
        return ct_cli_usage_error(&ct_cmd_pprof, "--type must be net, sync, syscall or sched");
    if (!path)
        return ct_cli_usage_error(&ct_cmd_pprof, "missing FILE");
    struct ct_reader rd;
    if (ct_rd_open(&rd, path) != 0) {
        ct_cli_report(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    char fallback[4200];
    if (!output) {
        snprintf(fallback, sizeof fallback, "%s.%s.pb.gz", path, names[kind]);
        output = fallback;
    }
    struct ct_output out;
    if (ct_output_open(&out, output, "pprof") != 0) {
        ct_rd_close(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    struct ct_pprof_totals totals;
    int rc = ct_pprof_write(&rd, (enum ct_pprof_type)kind, out.f, &totals);
    if (rc != 0)
        fprintf(stderr, "ctrace pprof: cannot write %s: %s\n", output, strerror(errno));
    /* A damaged trace: the profile of what precedes the damage, unless
     * --strict. */
    if (rc != 0 || !ct_cli_may_print(&rd))
        ct_output_abort(&out);
    else if (ct_output_commit(&out, "pprof") != 0)
        rc = -1;
    bool written = rc == 0 && ct_cli_may_print(&rd);
    if (written && out.path)
        fprintf(stderr, "wrote %s: %" PRIu64 " contentions, %.3f ms of delay, %" PRIu64
                        " stacks\n",
                output, totals.contentions, (double)totals.delay_ns / 1e6, totals.stacks);
    ct_cli_report(&rd);
    ct_rd_close(&rd);
    return ct_cli_status(&rd, rc);
}

const struct ct_command ct_cmd_pprof = {
    "pprof",
    "blocking profiles for pprof: net, sync, syscall, sched",
    "usage: ctrace pprof --type=net|sync|syscall|sched [-o OUT] [--strict] [--tree]\n"
    "                    FILE [FILE.PID...]\n"
    "\n"
    "Writes a gzipped pprof profile of where threads waited, as go tool trace\n"
    "-pprof=TYPE does: two values per stack, contentions (count) and delay\n"
    "(nanoseconds). Functions, files and lines come from the modules' symbols\n"
    "and debug information (libdw); a module that is missing or was rebuilt\n"
    "since (another build-id) shows as module+offset.\n"
    "\n"
    "  net      system calls on sockets\n"
    "  sync     mutexes, rwlocks, spinlocks, condvars, semaphores, barriers, joins\n"
    "  syscall  other slow system calls\n"
    "  sched    time runnable but waiting for a CPU (needs the kernel's context\n"
    "           switches: ctrace run), at the thread's most recent stack; a new\n"
    "           thread's wait for its first run at the stack that created it\n"
    "  -o OUT   the profile (default FILE.TYPE.pb.gz; - for standard output).\n"
    "           OUT is replaced only once the profile is whole; on a failure it\n"
    "           is left as it was. Written readable by its owner only\n"
    "\n"
    "Then: go tool pprof -top OUT, or go tool pprof -http=: OUT.\n"
    "\n"
    "A cut or damaged FILE: the profile of what precedes the damage, then the\n"
    "error, exit 1; with --strict only the error (OUT is left as it was).\n"
    "\n"
    "A process tree: FILE FILE.* (the traces ctrace run wrote for the program's\n"
    "children and exec'd programs), or --tree FILE (FILE and every trace of its\n"
    "descendants beside it) reads them as one, on one time line:\n"
    "one profile, each process's stacks named\n"
    "from its own modules, each sample with a pid label (go tool pprof\n"
    "-tagfocus=pid=N).\n",
    run,
};
