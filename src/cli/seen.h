/*
 * seen.h - what `ctrace run` says when a trace shows nothing of the
 * program: a static binary (the preload library cannot load into it), a Go
 * program (its runtime makes threads and system calls without the C
 * library, and ends without its exit), or one that cleared LD_PRELOAD.
 */
#ifndef CT_CLI_SEEN_H
#define CT_CLI_SEEN_H

#include <stdbool.h>

enum ct_exe_kind { CT_EXE_UNKNOWN, CT_EXE_DYNAMIC, CT_EXE_STATIC, CT_EXE_GO };

/* What kind of ELF executable path is (a command name is looked up in
 * PATH): Go (a .go.buildinfo or .note.go.buildid section), static (no
 * PT_INTERP) or dynamic; UNKNOWN when it cannot be read (a script). */
enum ct_exe_kind ct_exe_kind(const char *path);

/* After `ctrace run`'s program ended: says on stderr, once, when its trace
 * at output (a regular file) holds nothing of it, and why. */
void ct_say_if_unseen(const char *command, const char *output);

#endif
