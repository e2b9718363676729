/*
 * mhd.c - libmicrohttpd through dlopen (see mhd.h).
 */
#include "mhd.h"

#include <dlfcn.h>
#include <stddef.h>

struct ct_mhd ct_mhd;

const char *ct_mhd_load(void)
{
    static const char *result;
    static int done;
    if (done)
        return result;
    done = 1;
    void *lib = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return result = "libmicrohttpd.so.12 is not installed (Debian: libmicrohttpd12)";
    static const struct {
        const char *name;
        size_t offset;
    } fns[] = {
        {"MHD_start_daemon", offsetof(struct ct_mhd, start_daemon)},
        {"MHD_stop_daemon", offsetof(struct ct_mhd, stop_daemon)},
        {"MHD_lookup_connection_value", offsetof(struct ct_mhd, lookup)},
        {"MHD_create_response_from_buffer", offsetof(struct ct_mhd, from_buffer)},
        {"MHD_create_response_from_callback", offsetof(struct ct_mhd, from_callback)},
        {"MHD_create_response_from_fd", offsetof(struct ct_mhd, from_fd)},
        {"MHD_add_response_header", offsetof(struct ct_mhd, add_header)},
        {"MHD_queue_response", offsetof(struct ct_mhd, queue)},
        {"MHD_destroy_response", offsetof(struct ct_mhd, destroy)},
        {"MHD_suspend_connection", offsetof(struct ct_mhd, suspend)},
        {"MHD_resume_connection", offsetof(struct ct_mhd, resume)},
        {"MHD_get_connection_info", offsetof(struct ct_mhd, connection_info)},
        {"MHD_get_connection_values", offsetof(struct ct_mhd, values)},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        void *f = dlsym(lib, fns[i].name);
        if (!f)
            return result = "libmicrohttpd lacks a function ctrace needs";
        *(void **)(void *)((char *)&ct_mhd + fns[i].offset) = f;
    }
    return NULL;
}
