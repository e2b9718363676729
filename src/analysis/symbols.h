/* symbols.h - addresses of a trace to names (symbols.c, libdw). */
#ifndef CT_SYMBOLS_H
#define CT_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "../format/reader.h"

struct ct_symbol {
    char function[256];
    char file[256];
    int line;
    char module[256];
    uint64_t offset; /* in the module's file */
    bool resolved;   /* function came from the module's symbols */
};

struct ct_symbols;

/* A symbolizer for the modules of a generation; NULL without memory. */
struct ct_symbols *ct_symbols_open(const struct ct_gen *gen);
/* The same, which also knows the symbols embedded in rd's file (looked up
 * first: they name frames whose modules are not on this machine). */
struct ct_symbols *ct_symbols_open_rd(const struct ct_reader *rd, const struct ct_gen *gen);
/* The symbols embedded in the trace, (re)read: cheapest once rd has read
 * every generation (ct_rd_symtab). */
void ct_symbols_load_embedded(struct ct_symbols *s, const struct ct_reader *rd);
/* `ctrace run`, once the program ended: appends to the trace at path the
 * symbols of every stack frame and start function it holds (a SYMBOLS
 * record before its END). 1 when written, 0 when there was nothing to do
 * (no end record: a cut trace is left as it is), -1 with errno. */
int ct_symbols_embed(const char *path);
/* Keeps the frames named from modules' DWARF in dir, a file for each
 * build-id, and reads them back instead of opening the DWARF again (""
 * or NULL: no cache, the default). For ctrace run, before embedding. */
void ct_symbols_cache(const char *dir);
void ct_symbols_close(struct ct_symbols *s);
/* 1 when named from symbols, 0 when only module+offset (or an address) is
 * known. is_return: pc is a return address (a stack frame). Names the
 * function the code at pc belongs to (the outermost, when inlined). */
int ct_symbols_lookup(struct ct_symbols *s, uint64_t pc, bool is_return, struct ct_symbol *out);
/* The frames at pc, inlined ones included, innermost first: out[0] is the
 * function whose code is at pc (perhaps inlined) with pc's file and line;
 * each next one the function it was inlined into, at the line of the
 * inlined call; the last is the function that was compiled. Returns how
 * many (1 to max); a pc without symbols gives one frame, as
 * ct_symbols_lookup. */
int ct_symbols_frames(struct ct_symbols *s, uint64_t pc, bool is_return, struct ct_symbol *out,
                      int max);
/* For the tests: looks up the start, middle and last byte of every
 * function of the file at path, and the byte before it, both in the
 * sorted table names are found in and with libdw's own search; returns
 * how many addresses were compared (-1: the file has no symbols, or no
 * libdw), with *differ how many were named otherwise (said on stderr). */
long ct_symbols_check_table(const char *path, long *differ);

#endif
