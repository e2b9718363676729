/*
 * test_symbols.c - the sorted symbol table that names a stack's frames
 * (symbols.c) names every address as libdw's own search of the whole table
 * does: at the start, middle and end of every function, and just before
 * it, in the C library (whose separate debug file has local aliases,
 * versioned names and functions of no size), in libdw itself, and in this
 * program.
 */
#include "helpers.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../src/analysis/symbols.h"

static void check(const char *path, long at_least)
{
    long differ = 0;
    long compared = ct_symbols_check_table(path, &differ);
    fprintf(stderr, "%s: %ld addresses, %ld named otherwise\n", path, compared, differ);
    assert_true(compared >= at_least);
    assert_int_equal(differ, 0);
}

/* The file of the library that holds fn. */
static void library_of(void *fn, char *path)
{
    Dl_info info;
    assert_true(dladdr(fn, &info) != 0 && info.dli_fname);
    assert_non_null(realpath(info.dli_fname, path));
}

static void test_libc(void **state)
{
    (void)state;
    char path[PATH_MAX];
    library_of((void *)printf, path);
    check(path, 4000); /* its .dynsym alone names about 3000 functions */
}

static void test_libdw(void **state)
{
    (void)state;
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    void *fn = lib ? dlsym(lib, "dwfl_begin") : NULL;
    if (!fn)
        skip();
    char path[PATH_MAX];
    library_of(fn, path);
    check(path, 400); /* its exported functions, without libdw1-dbgsym */
}

static void test_self(void **state)
{
    (void)state;
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    assert_true(n > 0);
    path[n] = 0;
    check(path, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libc),
        cmocka_unit_test(test_libdw),
        cmocka_unit_test(test_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
