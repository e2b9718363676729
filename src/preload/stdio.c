/*
 * stdio.c - reads and writes through the C library's streams.
 *
 * glibc's stdio reads and writes its descriptors with its own internal
 * read and write, which no wrapper of read and write sees: a program
 * blocked in fgets on a pipe, or in printf on a full pipe, would be off a
 * CPU with nothing to say why. The stream functions that may do I/O are
 * wrapped here and timed like system calls (io.c): a call that took at
 * least the threshold is one `syscall` event of its own call value
 * (fread, fgets, getc, printf, ...) on the stream's descriptor, with the
 * descriptor's class, so the time lands in network, pipe or file I/O with
 * the program's stack.
 *
 * The calls inside the real function are not recorded (ct_busy): a stream
 * whose functions are the program's own (fopencookie) would otherwise give
 * its read inside the fread. Calls that cannot do I/O go straight
 * through, no clock read: a getc or fread with its bytes in the buffer, a
 * putc with room that is not a newline, an fgets or getline whose line is
 * in the buffer, an fwrite, fputs or puts that fits in it (a compiler writes its
 * assembly with tens of thousands of those). The buffer pointers are
 * glibc's public FILE layout.
 */
/* Without glibc's extern inline stdio functions (getchar, putchar,
 * fgetc_unlocked, ... in bits/stdio.h when optimizing): this file defines
 * those symbols, exported, and clang ignores the visibility of a function
 * defined after an inline definition of it. */
#ifndef __NO_INLINE__
#define __NO_INLINE__ 1
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <wchar.h>

#include "preload.h"

/* Some are macros or inline functions in glibc's headers: the wrappers
 * define the library's symbols. */
#undef fread_unlocked
#undef fwrite_unlocked
#undef fputs_unlocked
#undef fgetc_unlocked
#undef fputc_unlocked
#undef getc
#undef putc
#undef getc_unlocked
#undef putc_unlocked
#undef getchar
#undef putchar
#undef getchar_unlocked
#undef putchar_unlocked

/* Declared by glibc's headers only under some settings (fortification, an
 * older libio.h, C99 scanf); these are the library's exported symbols. */
extern int __uflow(FILE *f);
extern int __underflow(FILE *f);
extern int __overflow(FILE *f, int c);
extern int _IO_getc(FILE *f);
extern int _IO_putc(int c, FILE *f);
extern char *__fgets_chk(char *s, size_t size, int n, FILE *f);
extern char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *f);
extern size_t __fread_chk(void *p, size_t room, size_t size, size_t n, FILE *f);
extern size_t __fread_unlocked_chk(void *p, size_t room, size_t size, size_t n, FILE *f);
extern int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
extern int __vprintf_chk(int flag, const char *fmt, va_list ap);
extern int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
extern int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
extern int __printf_chk(int flag, const char *fmt, ...);
extern int __dprintf_chk(int fd, int flag, const char *fmt, ...);
extern int __isoc99_vfscanf(FILE *f, const char *fmt, va_list ap);
extern int __isoc99_fscanf(FILE *f, const char *fmt, ...);
extern int __isoc99_scanf(const char *fmt, ...);
extern int __isoc99_vscanf(const char *fmt, va_list ap);

/* The stream's descriptor, -1 for one without (a memory stream). */
static inline int stream_fd(FILE *f)
{
    return f ? f->_fileno : -1;
}

/* Times `call` on stream f, the calls inside it left out; records it as
 * `reason` when slow. */
#define STREAM_TIMED(reason, f, call)                                         \
    ({                                                                        \
        struct ct_thread *self_ = ct_call_self();                             \
        uint64_t t0_ = ct_now();                                              \
        if (self_)                                                            \
            ct_call_enter(self_, t0_, (reason), stream_fd(f),                 \
                          ct_fd_class_cached(stream_fd(f)));                  \
        ct_busy++;                                                            \
        __typeof__(call) r_ = (call);                                         \
        ct_busy--;                                                            \
        if (self_)                                                            \
            atomic_store_explicit(&self_->call_since, 0, memory_order_relaxed); \
        uint64_t t1_ = ct_now();                                              \
        if (t1_ - t0_ >= ct_pconf.syscall_threshold_units)                    \
            CT_RECORD(({                                                      \
                int fd_ = stream_fd(f);                                       \
                ct_ev_syscall(t0_, t1_, (reason), fd_, ct_fd_class(fd_),      \
                              (int64_t)r_, ct_fd_pipe(fd_));                  \
            }));                                                              \
        r_;                                                                   \
    })

/* A wrapper of a stream function: untraced threads go straight through,
 * and so do calls that `no_io` says cannot do I/O; the rest are timed. */
#define PASS_WRAPPER(ret, name, reason, params, args, f, no_io)              \
    CT_REAL_DECL(name);                                                       \
    CT_EXPORT ret name params                                                 \
    {                                                                         \
        if (!ct_tracing_here() || (no_io))                                    \
            return REAL(name) args;                                           \
        return STREAM_TIMED(reason, f, REAL(name) args);                      \
    }
#define STREAM_WRAPPER(ret, name, reason, params, args, f)                    \
    PASS_WRAPPER(ret, name, reason, params, args, f, false)

/* A line in (fgets, getline): I/O only when the buffer holds neither the
 * delimiter nor the `want` bytes asked for. The check reads the bytes the
 * call then copies: a curl reads its configuration with some 300 fgets, a
 * clock read pair each otherwise. */
static inline bool line_in_buffer(FILE *f, int delim, size_t want)
{
    if (!f || f->_IO_read_ptr >= f->_IO_read_end)
        return false;
    size_t avail = (size_t)(f->_IO_read_end - f->_IO_read_ptr);
    return avail >= want || memchr(f->_IO_read_ptr, delim, avail) != NULL;
}

#define LINE_WRAPPER(ret, name, reason, params, args, f, delim, want)        \
    PASS_WRAPPER(ret, name, reason, params, args, f, line_in_buffer((f), (delim), (want)))
/* Bytes in (fread, getc): I/O only when fewer than asked for are
 * buffered. */
static inline bool bytes_in_buffer(FILE *f, size_t want)
{
    return f && f->_IO_read_ptr < f->_IO_read_end &&
           (size_t)(f->_IO_read_end - f->_IO_read_ptr) >= want;
}
#define GETC_WRAPPER(name, params, args, f)                                   \
    PASS_WRAPPER(int, name, CT_REASON_GETC, params, args, f, bytes_in_buffer((f), 1))
/* fgets reads at most n - 1 bytes, and none for n of 1 or less. */
#define FGETS_WANT(n) ((n) > 1 ? (size_t)(n) - 1 : 0)

/* Bytes out (fwrite, fputs, puts): I/O only when they do not fit in the
 * buffer's room, or, on a line-buffered stream, hold a newline. A
 * compiler writes its assembly with thousands of them. _IO_LINE_BUF is
 * glibc's flag (its FILE is ABI). */
#define CT_IO_LINE_BUF 0x200
static inline bool fits_in_buffer(FILE *f, const void *p, size_t len, bool newline)
{
    if (!f || !f->_IO_write_ptr || f->_IO_write_ptr >= f->_IO_write_end ||
        (size_t)(f->_IO_write_end - f->_IO_write_ptr) <= len)
        return false;
    return !(f->_flags & CT_IO_LINE_BUF) || (!newline && !memchr(p, '\n', len));
}

#define WRITE_WRAPPER(ret, name, reason, params, args, f, p, len, newline)   \
    PASS_WRAPPER(ret, name, reason, params, args, f, fits_in_buffer((f), (p), (len), (newline)))
/* size * n, or SIZE_MAX where it overflows (then never "fits"). */
static inline size_t product(size_t size, size_t n)
{
    size_t len;
    return __builtin_mul_overflow(size, n, &len) ? SIZE_MAX : len;
}

/* One character out: I/O only when the buffer is full, or at a newline
 * (a line-buffered stream). */
static inline bool room_for_char(FILE *f, int c)
{
    return f && f->_IO_write_ptr < f->_IO_write_end && c != '\n';
}
#define PUTC_WRAPPER(name, params, args, c, f)                                \
    PASS_WRAPPER(int, name, CT_REASON_PUTC, params, args, f, room_for_char((f), (c)))

PASS_WRAPPER(size_t, fread, CT_REASON_FREAD, (void *p, size_t size, size_t n, FILE *f),
             (p, size, n, f), f, bytes_in_buffer(f, product(size, n)))
PASS_WRAPPER(size_t, fread_unlocked, CT_REASON_FREAD,
             (void *p, size_t size, size_t n, FILE *f), (p, size, n, f), f,
             bytes_in_buffer(f, product(size, n)))
WRITE_WRAPPER(size_t, fwrite, CT_REASON_FWRITE, (const void *p, size_t size, size_t n, FILE *f),
              (p, size, n, f), f, p, product(size, n), false)
WRITE_WRAPPER(size_t, fwrite_unlocked, CT_REASON_FWRITE,
              (const void *p, size_t size, size_t n, FILE *f), (p, size, n, f), f, p,
              product(size, n), false)
LINE_WRAPPER(char *, fgets, CT_REASON_FGETS, (char *s, int n, FILE *f), (s, n, f), f, '\n',
             FGETS_WANT(n))
LINE_WRAPPER(char *, fgets_unlocked, CT_REASON_FGETS, (char *s, int n, FILE *f), (s, n, f), f,
             '\n', FGETS_WANT(n))
WRITE_WRAPPER(int, fputs, CT_REASON_FPUTS, (const char *s, FILE *f), (s, f), f, s, strlen(s),
              false)
WRITE_WRAPPER(int, fputs_unlocked, CT_REASON_FPUTS, (const char *s, FILE *f), (s, f), f, s,
              strlen(s), false)
WRITE_WRAPPER(int, puts, CT_REASON_FPUTS, (const char *s), (s), stdout, s, strlen(s) + 1, true)
STREAM_WRAPPER(int, fflush, CT_REASON_FFLUSH, (FILE *f), (f), f)
STREAM_WRAPPER(int, fflush_unlocked, CT_REASON_FFLUSH, (FILE *f), (f), f)
LINE_WRAPPER(ssize_t, getline, CT_REASON_GETLINE, (char **line, size_t *n, FILE *f),
             (line, n, f), f, '\n', SIZE_MAX)
LINE_WRAPPER(ssize_t, getdelim, CT_REASON_GETLINE, (char **line, size_t *n, int d, FILE *f),
             (line, n, d, f), f, d, SIZE_MAX)
LINE_WRAPPER(ssize_t, __getdelim, CT_REASON_GETLINE, (char **line, size_t *n, int d, FILE *f),
             (line, n, d, f), f, d, SIZE_MAX)
STREAM_WRAPPER(int, vfprintf, CT_REASON_PRINTF, (FILE *f, const char *fmt, va_list ap),
               (f, fmt, ap), f)
STREAM_WRAPPER(int, vprintf, CT_REASON_PRINTF, (const char *fmt, va_list ap), (fmt, ap), stdout)
STREAM_WRAPPER(int, vdprintf, CT_REASON_DPRINTF, (int fd, const char *fmt, va_list ap),
               (fd, fmt, ap), (FILE *)NULL)

GETC_WRAPPER(fgetc, (FILE *f), (f), f)
GETC_WRAPPER(getc, (FILE *f), (f), f)
GETC_WRAPPER(_IO_getc, (FILE *f), (f), f)
GETC_WRAPPER(fgetc_unlocked, (FILE *f), (f), f)
GETC_WRAPPER(getc_unlocked, (FILE *f), (f), f)
GETC_WRAPPER(getchar, (void), (), stdin)
GETC_WRAPPER(getchar_unlocked, (void), (), stdin)
/* What the getc_unlocked and putc_unlocked macros call in the program when
 * the buffer is empty or full. */
GETC_WRAPPER(__uflow, (FILE *f), (f), f)
GETC_WRAPPER(__underflow, (FILE *f), (f), f)
PUTC_WRAPPER(fputc, (int c, FILE *f), (c, f), c, f)
PUTC_WRAPPER(putc, (int c, FILE *f), (c, f), c, f)
PUTC_WRAPPER(_IO_putc, (int c, FILE *f), (c, f), c, f)
PUTC_WRAPPER(fputc_unlocked, (int c, FILE *f), (c, f), c, f)
PUTC_WRAPPER(putc_unlocked, (int c, FILE *f), (c, f), c, f)
PUTC_WRAPPER(putchar, (int c), (c), c, stdout)
PUTC_WRAPPER(putchar_unlocked, (int c), (c), c, stdout)
/* __overflow(f, c) is called only when the buffer is full: always I/O. */
CT_REAL_DECL(__overflow);
CT_EXPORT int __overflow(FILE *f, int c)
{
    if (!ct_tracing_here())
        return REAL(__overflow)(f, c);
    return STREAM_TIMED(CT_REASON_PUTC, f, REAL(__overflow)(f, c));
}

/* The fortified forms (_FORTIFY_SOURCE, as distributions build), which
 * reach the same internal calls. */
LINE_WRAPPER(char *, __fgets_chk, CT_REASON_FGETS, (char *s, size_t size, int n, FILE *f),
             (s, size, n, f), f, '\n', FGETS_WANT(n))
LINE_WRAPPER(char *, __fgets_unlocked_chk, CT_REASON_FGETS,
             (char *s, size_t size, int n, FILE *f), (s, size, n, f), f, '\n', FGETS_WANT(n))
PASS_WRAPPER(size_t, __fread_chk, CT_REASON_FREAD,
             (void *p, size_t room, size_t size, size_t n, FILE *f), (p, room, size, n, f), f,
             bytes_in_buffer(f, product(size, n)))
PASS_WRAPPER(size_t, __fread_unlocked_chk, CT_REASON_FREAD,
             (void *p, size_t room, size_t size, size_t n, FILE *f), (p, room, size, n, f), f,
             bytes_in_buffer(f, product(size, n)))
STREAM_WRAPPER(int, __vfprintf_chk, CT_REASON_PRINTF,
               (FILE *f, int flag, const char *fmt, va_list ap), (f, flag, fmt, ap), f)
STREAM_WRAPPER(int, __vprintf_chk, CT_REASON_PRINTF, (int flag, const char *fmt, va_list ap),
               (flag, fmt, ap), stdout)
STREAM_WRAPPER(int, __vdprintf_chk, CT_REASON_DPRINTF,
               (int fd, int flag, const char *fmt, va_list ap), (fd, flag, fmt, ap),
               (FILE *)NULL)

/* The variadic ones call their va_list forms' real functions (the
 * pointers the wrappers above resolve). */
#define VARIADIC(reason, f, vcall)                                            \
    ({                                                                        \
        int v_;                                                               \
        if (!ct_tracing_here())                                               \
            v_ = vcall;                                                       \
        else                                                                  \
            v_ = STREAM_TIMED(reason, f, vcall);                              \
        v_;                                                                   \
    })

CT_EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_PRINTF, f, REAL(vfprintf)(f, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_PRINTF, stdout, REAL(vfprintf)(stdout, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_PRINTF, f, REAL(__vfprintf_chk)(f, flag, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_PRINTF, stdout, REAL(__vfprintf_chk)(stdout, flag, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_DPRINTF, (FILE *)NULL, REAL(vdprintf)(fd, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_DPRINTF, (FILE *)NULL, REAL(__vdprintf_chk)(fd, flag, fmt, ap));
    va_end(ap);
    return r;
}

/* scanf: what programs built with glibc's headers since 2.7 call (the
 * headers redirect fscanf, scanf and their va_list forms to these). */
STREAM_WRAPPER(int, __isoc99_vfscanf, CT_REASON_SCANF, (FILE *f, const char *fmt, va_list ap),
               (f, fmt, ap), f)

CT_EXPORT int __isoc99_fscanf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_SCANF, f, REAL(__isoc99_vfscanf)(f, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int __isoc99_scanf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = VARIADIC(CT_REASON_SCANF, stdin, REAL(__isoc99_vfscanf)(stdin, fmt, ap));
    va_end(ap);
    return r;
}

CT_EXPORT int __isoc99_vscanf(const char *fmt, va_list ap)
{
    return VARIADIC(CT_REASON_SCANF, stdin, REAL(__isoc99_vfscanf)(stdin, fmt, ap));
}
