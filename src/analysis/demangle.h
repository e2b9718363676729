/*
 * demangle.h - C++ names for people, as go tool pprof shows them:
 * _ZNSt5mutex4lockEv is std::mutex::lock().
 */
#ifndef CT_DEMANGLE_H
#define CT_DEMANGLE_H

#include <stddef.h>

/* name demangled into buf (cap bytes, cut to fit), or name itself when it
 * is not a C++ name or no demangler is at hand. Thread-safe. */
const char *ct_demangle(const char *name, char *buf, size_t cap);

#endif
