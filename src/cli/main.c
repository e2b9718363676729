/*
 * main.c - the ctrace command: dispatches to one file per subcommand.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct ct_command *commands[] = {&ct_cmd_run,   &ct_cmd_stats,   &ct_cmd_threads,
                                              &ct_cmd_tasks, &ct_cmd_regions, &ct_cmd_pprof,
                                              &ct_cmd_export, &ct_cmd_dump,  &ct_cmd_view};

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: ctrace COMMAND [OPTIONS] FILE\n"
            "\n"
            "ctrace records and analyses execution traces of C programs:\n"
            "threads, tasks, regions and logs on one timeline.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\n"
            "'ctrace COMMAND --help' describes a command, 'man ctrace' every one;\n"
            "'ctrace --version' prints the version.\n"
            "Exit status: 0 success, 1 bad input (the message names the file and the\n"
            "byte offset), 2 bad usage.\n"
            "\n"
            "A trace that is cut or damaged is read up to the damage: each command\n"
            "reports on what it read, then names the damage (file, byte, what was\n"
            "expected) and exits 1. With --strict it prints only the error.\n"
            "A trace that ends between two records (a program killed while\n"
            "tracing) is read with a warning; --strict refuses it too.\n");
}

int ct_cli_usage_error(const struct ct_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ctrace %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", cmd->usage);
    va_end(ap);
    return CT_EXIT_USAGE;
}

bool ct_cli_wants_help(const struct ct_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cmd->usage, stdout);
            return true;
        }
    }
    return false;
}

int ct_cli_open_json_file(const struct ct_command *cmd, int argc, char **argv, bool *json,
                          const char **path, struct ct_reader *rd)
{
    *json = false;
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            *json = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return ct_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (*path)
            return ct_cli_usage_error(cmd, "expected one FILE");
        else
            *path = argv[i];
    }
    if (!*path)
        return ct_cli_usage_error(cmd, "missing FILE");
    if (ct_rd_open(rd, *path) != 0) {
        ct_cli_report(rd);
        return CT_EXIT_BAD_INPUT;
    }
    return -1;
}

bool ct_cli_strict;

void ct_cli_report(const struct ct_reader *rd)
{
    fflush(stdout); /* after what was read, where both streams go to one place */
    if (rd->symbols_warning[0])
        fprintf(stderr, "ctrace: warning: %s\n", rd->symbols_warning);
    if (rd->failed)
        fprintf(stderr, "ctrace: %s\n", rd->error);
    else if (rd->warning[0])
        fprintf(stderr, "ctrace: warning: %s\n", rd->warning);
}

/* Takes --strict out of argv (before a "--"); the new argc. */
static int take_strict(int argc, char **argv)
{
    int n = 0;
    bool options = true;
    for (int i = 0; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0)
            options = false;
        if (options && i > 0 && strcmp(argv[i], "--strict") == 0)
            ct_cli_strict = ct_rd_strict = true;
        else
            argv[n++] = argv[i];
    }
    argv[n] = NULL;
    return n;
}

void ct_print_text(FILE *out, const void *s, size_t len)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\')
            fprintf(out, "\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] >= 0x7f)
            fprintf(out, "\\x%02x", p[i]);
        else
            fputc(p[i], out);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return CT_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ctrace %s\n", CTRACE_VERSION_STRING);
        return CT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i]->name) != 0)
            continue;
        if (commands[i] != &ct_cmd_run)
            argc = take_strict(argc - 1, argv + 1) + 1;
        return commands[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ctrace: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return CT_EXIT_USAGE;
}
