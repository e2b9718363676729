/*
 * demangle.c - C++ names through libstdc++'s __cxa_demangle, the one the
 * C++ toolchain ships (c++filt's rules), loaded with dlopen the first time
 * a C++ name is met: ctrace is C and links no C++ runtime, and a system
 * without libstdc++ has no C++ programs to trace; names then stay mangled.
 */
#include "demangle.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef char *(*cxa_demangle_fn)(const char *mangled, char *out, size_t *len, int *status);
static cxa_demangle_fn demangler;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *lib = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
    if (lib)
        demangler = (cxa_demangle_fn)dlsym(lib, "__cxa_demangle");
}

const char *ct_demangle(const char *name, char *buf, size_t cap)
{
    if (strncmp(name, "_Z", 2) != 0 || cap == 0)
        return name;
    pthread_once(&once, load);
    if (!demangler)
        return name;
    int status = -1;
    char *plain = demangler(name, NULL, NULL, &status);
    if (status != 0 || !plain) {
        free(plain);
        return name;
    }
    snprintf(buf, cap, "%s", plain);
    free(plain);
    return buf;
}
