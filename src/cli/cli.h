/* cli.h - what the commands share: exit codes, usage errors, opening a trace. */
#ifndef CT_CLI_H
#define CT_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "../analysis/json.h"

#include "../format/reader.h"

enum { CT_EXIT_OK = 0, CT_EXIT_BAD_INPUT = 1, CT_EXIT_USAGE = 2 };

struct ct_command {
    const char *name;
    const char *summary;
    const char *usage;   /* full help text */
    int (*run)(int argc, char **argv);
};

/* Prints "ctrace NAME: MESSAGE" and the usage to stderr; returns 2. */
int ct_cli_usage_error(const struct ct_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when argv holds --help or -h (the help is then printed). */
bool ct_cli_wants_help(const struct ct_command *cmd, int argc, char **argv);
/* Parses `[--json] FILE` and opens FILE: -1 when the command may go on,
 * else the exit status to return (usage or an unreadable file, reported). */
int ct_cli_open_json_file(const struct ct_command *cmd, int argc, char **argv, bool *json,
                          const char **path, struct ct_reader *rd);
/* Prints a reader's warnings, then its error, one line each on stderr. */
void ct_cli_report(const struct ct_reader *rd);

/* --strict (any command but run; taken out of argv by main): a damaged
 * trace is refused, with nothing printed but the error, as the commands
 * did before they read up to the damage. */
extern bool ct_cli_strict;
/* Whether a command prints what it read of rd: not a damaged trace's
 * under --strict. */
static inline bool ct_cli_may_print(const struct ct_reader *rd)
{
    return !rd->failed || !ct_cli_strict;
}
/* The exit status after a command read rd (its own result rc): 1 for a
 * damaged trace, even when what preceded the damage was printed. */
static inline int ct_cli_status(const struct ct_reader *rd, int rc)
{
    return rc == 0 && !rd->failed ? CT_EXIT_OK : CT_EXIT_BAD_INPUT;
}
/* Writes bytes for people: printable ASCII as is, the rest escaped. */
void ct_print_text(FILE *out, const void *s, size_t len);

/* The JSON of `ctrace threads`, `ctrace tasks` (and regions) and `ctrace
 * tasks --type=T`, for the commands and for ctrace view. */
struct ct_threads;
struct ct_type_stats;
struct ct_task_view;
void ct_cli_threads_json(FILE *out, const struct ct_threads *t);
void ct_cli_types_json(FILE *out, const struct ct_type_stats *types, size_t n);
void ct_cli_task_list_json(FILE *out, const struct ct_task_view *v);

/* ctrace run, after the program: a line on stderr if the traces of the
 * run's process tree (paths) come from programs without frame pointers;
 * with --sched=auto, one if the recorder fell back from the kernel's
 * context switches, and one if those cost the run a noticeable share of
 * its wall time (wall_ns, the program's). */
struct ct_run_heard {
    bool sched_auto;
    int64_t wall_ns;
};
void ct_run_say(const char (*paths)[PATH_MAX], size_t n, const struct ct_run_heard *how);

extern const struct ct_command ct_cmd_dump, ct_cmd_export, ct_cmd_pprof, ct_cmd_regions, ct_cmd_run, ct_cmd_stats, ct_cmd_tasks,
    ct_cmd_threads, ct_cmd_view;

#endif
