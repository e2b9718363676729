/*
 * format.h - constants of the trace format (docs/format.md is the reference).
 *
 * A file is a 32-byte header followed by records. Every record has a 12-byte
 * header:
 *
 *   0      1        4        8        12
 *   +------+--------+--------+--------+------------------+
 *   | type | 0 0 0  | length | crc32c | payload[length]  |
 *   +------+--------+--------+--------+------------------+
 *
 * length and crc32c are little-endian u32; the CRC-32C covers header bytes
 * 0-7 and the payload, so a flipped bit anywhere in a record is caught.
 */
#ifndef CT_FORMAT_H
#define CT_FORMAT_H

#include <stdint.h>

#define CT_MAGIC "\x89" "CTRACE\n"
#define CT_MAGIC_LEN 8
#define CT_VERSION_MAJOR 1
#define CT_VERSION_MINOR 8
#define CT_ENDIAN_CHECK 0x0A0B0C0Du
#define CT_FILE_HEADER_SIZE 32
#define CT_RECORD_HEADER_SIZE 12
/* No record is larger; a reader rejects longer lengths before using them. */
#define CT_MAX_RECORD (64u << 20)

/* Record types. Order is part of the format. */
#define CT_RECORDS(X)                                                         \
    X(1, GEN_BEGIN, "gen_begin")                                              \
    X(2, SCHEMA, "schema")                                                    \
    X(3, PROCESS, "process")                                                  \
    X(4, MODULES, "modules")                                                  \
    X(5, THREADS, "threads")                                                  \
    X(6, BATCH, "batch")                                                      \
    X(7, LOST, "lost")                                                        \
    X(8, GEN_END, "gen_end")                                                  \
    X(9, END, "end")                                                          \
    X(10, SYMBOLS, "symbols")

enum ct_record_type {
#define X(id, NAME, name) CT_REC_##NAME = id,
    CT_RECORDS(X)
#undef X
    CT_REC_MAX
};

enum ct_event_kind {
#define X(id, NAME, name, timed, args, names) CT_EV_##NAME = id,
#include "events.def"
#undef X
    CT_EV_COUNT
};

/* The kind byte of an event: bits 0-5 the kind, bit 6 "same task as the
 * previous event's" (its 'a' argument is omitted), bit 7 "a stack id
 * follows the arguments". */
#define CT_KIND_STACK 0x80u
#define CT_KIND_SAME_TASK 0x40u
#define CT_KIND_MASK 0x3Fu
#define CT_MAX_KINDS 64
#define CT_MAX_ARGS 8
#define CT_MAX_FRAMES 64
#define CT_MAX_STRING 255

enum ct_reason {
#define R(id, NAME, name, group) CT_REASON_##NAME = id,
#include "reasons.def"
#undef R
};

enum ct_fd_class {
#define C(id, NAME, name) CT_FD_##NAME = id,
#include "reasons.def"
#undef C
};

enum ct_counter {
#define K(id, NAME, name, unit) CT_COUNTER_##NAME = id,
#include "reasons.def"
#undef K
};

const char *ct_reason_name(unsigned reason);
const char *ct_reason_group(unsigned reason);
const char *ct_fd_class_name(unsigned fd_class);
const char *ct_counter_name(unsigned counter);
const char *ct_cpu_state_name(unsigned state);
/* An x86-64 system call number's name and group (syscalls.def), NULL for
 * one not in the table. */
const char *ct_syscall_name(unsigned sysno);
const char *ct_syscall_group(unsigned sysno);

/* THREADS record flags. */
#define CT_THREAD_FLAG_EXITED 1u
#define CT_THREAD_FLAG_TRACER 2u
#define CT_THREAD_FLAG_REGISTERED 4u

struct ct_event_info {
    uint8_t id;
    uint8_t timed;
    const char *name;
    const char *args;
    const char *names;
};

/* The rate a complete generation's times are read with, in ns per unit
 * with 32 fraction bits: its own two clock readings' when both clocks
 * advanced between them (a reading's error is then bounded by the two
 * readings', however short the generation), else its GEN_BEGIN's. The
 * writer converts the kernel's switch times with it and writes it into
 * the next GEN_BEGIN (prev_ns_per_unit), so that the two agree. */
static inline uint64_t ct_gen_rate(uint64_t base_units, uint64_t base_mono_ns,
                                   uint64_t end_units, uint64_t end_mono_ns, uint64_t begin_q32)
{
    if (end_units <= base_units || end_mono_ns <= base_mono_ns)
        return begin_q32;
    return (uint64_t)(((unsigned __int128)(end_mono_ns - base_mono_ns) << 32) /
                      (end_units - base_units));
}

/* Indexed by kind id; entries of unused ids have name NULL. */
extern const struct ct_event_info ct_event_table[CT_MAX_KINDS];
const char *ct_record_name(unsigned type);

#endif
