/*
 * test_symbols.c - the sorted symbol table that names a stack's frames
 * (symbols.c) names every address as libdw's own search of the whole table
 * does: at the start, middle and end of every function, and just before
 * it, in the C library (whose separate debug file has local aliases,
 * versioned names and functions of no size), in libdw itself, and in this
 * program. And the frames `ctrace run` keeps between runs (a file for each
 * build-id): a trace of cxx_workers recorded without symbols, copied and
 * named with the cache cold, warm, off, spoiled, and made anew, is the
 * same file each time, byte for byte; and a warm naming finds every frame
 * in the cache's files.
 */
#include "helpers.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static const char *ctrace, *workers;

static char *slurp(const char *path, size_t *len);

static void copy(const char *from, const char *to)
{
    size_t len;
    char *data = slurp(from, &len);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(data);
}

/* Names the frames of the trace at path in a process of its own (the
 * files a process opened stay open in it), with the cache in dir ("": none). */
static void embed(const char *path, const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ct_symbols_cache(dir);
        _exit(ct_symbols_embed(path) == 1 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = malloc(64u << 20);
    assert_non_null(data);
    *len = fread(data, 1, 64u << 20, f);
    fclose(f);
    return data;
}

static void same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *da = slurp(a, &na), *db = slurp(b, &nb);
    if (na != nb || memcmp(da, db, na) != 0)
        fail_msg("%s and %s differ (%zu and %zu bytes)", a, b, na, nb);
    free(da);
    free(db);
}

/* Every file of the cache, its bytes replaced by junk of the same length
 * (`how` 0), or cut after its first line's first bytes (1). */
static void spoil(const char *dir, int how)
{
    char cmd[2 * PATH_MAX];
    if (how == 0)
        snprintf(cmd, sizeof cmd, "for f in '%s'/*; do head -c $(stat -c %%s \"$f\") /dev/urandom > \"$f.j\" && mv \"$f.j\" \"$f\"; done", dir);
    else
        snprintf(cmd, sizeof cmd, "for f in '%s'/*; do head -c 24 \"$f\" > \"$f.j\" && printf '12 R 9\\tx' >> \"$f.j\" && mv \"$f.j\" \"$f\"; done", dir);
    assert_int_equal(system(cmd), 0);
}

static long dir_bytes(const char *dir)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "cat '%s'/* | wc -c", dir);
    FILE *p = popen(cmd, "r");
    long n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%ld", &n), 1);
    pclose(p);
    return n;
}

static void test_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/ctrace-symcache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char base[PATH_MAX], cache[PATH_MAX], names[6][PATH_MAX], cmd[4 * PATH_MAX + 64];
    snprintf(base, sizeof base, "%s/t", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    assert_int_equal(mkdir(cache, 0700), 0);
    snprintf(cmd, sizeof cmd, "'%s' run --no-symbols --no-follow -o '%s' -- '%s' >/dev/null 2>&1",
             ctrace, base, workers);
    assert_int_equal(system(cmd), 0);
    const char *how[6] = {"off", "cold", "warm", "junk", "cut", "again"};
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "%s/%s", dir, how[i]);
        copy(base, names[i]);
    }
    embed(names[0], "");
    embed(names[1], cache);
    snprintf(cmd, sizeof cmd, "test -n \"$(ls '%s')\"", cache);
    assert_int_equal(system(cmd), 0); /* the cold run wrote the cache */
    long before = dir_bytes(cache);
    embed(names[2], cache);
    assert_int_equal(dir_bytes(cache), before); /* all found there: nothing added */
    spoil(cache, 0);
    embed(names[3], cache);
    spoil(cache, 1);
    embed(names[4], cache);
    snprintf(cmd, sizeof cmd, "grep -c '^ctrace-symbols 1$' '%s'/* | grep -v ':1$'", cache);
    assert_int_not_equal(system(cmd), 0); /* a spoiled file is made anew, each with one header */
    before = dir_bytes(cache);
    embed(names[5], cache);
    assert_int_equal(dir_bytes(cache), before); /* and reads whole again */
    for (int i = 1; i < 6; i++)
        same_file(names[0], names[i]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_symbols CTRACE CXX_WORKERS\n");
        return 2;
    }
    ctrace = argv[1];
    workers = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libc),
        cmocka_unit_test(test_libdw),
        cmocka_unit_test(test_self),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
