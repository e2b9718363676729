/* symbol_cache.h - the frames ctrace run names from DWARF, kept between
 * runs (symbol_cache.c), for symbols.c. */
#ifndef CT_SYMBOL_CACHE_H
#define CT_SYMBOL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../format/reader.h"
#include "symbols.h"

/* The frames at an address are kept when named with room for this many. */
#define CT_FRAME_CACHE_FRAMES 16

/* One module file's: frames named before, in this run or an earlier one
 * (id: file address << 1 | return address, + 1; data: the frames' text;
 * len: how many), and those named since, to add to its file. */
struct ct_frame_cache {
    const unsigned char *build_id; /* the module's, which names the file */
    int build_id_len;
    struct ct_idmap frames;
    bool read;
    bool bad; /* a line did not read: the file is made anew */
    int no_debug_file; /* -1: not looked for yet (symbol_cache.c) */
    char *pending;
    size_t pending_len, pending_cap;
};

/* An empty cache for the module of that build-id (kept by the caller;
 * none: nothing is kept in a file). */
void ct_frame_cache_init(struct ct_frame_cache *c, const unsigned char *build_id, int len);
/* The frames kept at key, as ct_symbols_frames gives them without module
 * and offset (at most max); 0 when none; -1 when the module's symbols
 * are known not to name that address. The first call reads the module's
 * file, when ct_symbols_cache named a directory. */
int ct_frame_cache_get(struct ct_frame_cache *c, uint64_t key, struct ct_symbol *out, int max);
/* Keeps the n frames named at key, for this run and the file; n = 0:
 * the module's symbols do not name it. */
void ct_frame_cache_add(struct ct_frame_cache *c, uint64_t key, const struct ct_symbol *frames,
                        int n);
/* Appends the frames kept since to the module's file. */
void ct_frame_cache_flush(struct ct_frame_cache *c);
void ct_frame_cache_free(struct ct_frame_cache *c);

#endif
