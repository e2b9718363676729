/*
 * curl.c - libcurl through dlopen (see curl.h).
 */
#include "curl.h"

#include <dlfcn.h>
#include <stddef.h>

struct ct_curl ct_curl;

const char *ct_curl_load(void)
{
    static const char *result;
    static int done;
    if (done)
        return result;
    done = 1;
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        lib = dlopen("libcurl-gnutls.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return result = "libcurl.so.4 is not installed (Debian: libcurl4)";
    static const struct {
        const char *name;
        size_t offset;
    } fns[] = {
        {"curl_global_init", offsetof(struct ct_curl, global_init)},
        {"curl_easy_init", offsetof(struct ct_curl, easy_init)},
        {"curl_easy_setopt", offsetof(struct ct_curl, easy_setopt)},
        {"curl_easy_perform", offsetof(struct ct_curl, easy_perform)},
        {"curl_easy_getinfo", offsetof(struct ct_curl, easy_getinfo)},
        {"curl_easy_cleanup", offsetof(struct ct_curl, easy_cleanup)},
        {"curl_easy_strerror", offsetof(struct ct_curl, easy_strerror)},
        {"curl_easy_escape", offsetof(struct ct_curl, easy_escape)},
        {"curl_free", offsetof(struct ct_curl, free)},
        {"curl_slist_append", offsetof(struct ct_curl, slist_append)},
        {"curl_slist_free_all", offsetof(struct ct_curl, slist_free_all)},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        void *f = dlsym(lib, fns[i].name);
        if (!f)
            return result = "libcurl lacks a function ctrace needs";
        *(void **)(void *)((char *)&ct_curl + fns[i].offset) = f;
    }
    if (ct_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return result = "libcurl could not be initialised";
    return NULL;
}
