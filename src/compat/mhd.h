/*
 * mhd.h - libmicrohttpd, loaded with dlopen when a server is asked for:
 * linked in, it and the TLS libraries it pulls in (gnutls, p11-kit,
 * nettle) cost every start of ctrace 4 ms here, `ctrace run` included, and
 * the preload library would load them into every traced program.
 */
#ifndef CT_COMPAT_MHD_H
#define CT_COMPAT_MHD_H

#include <microhttpd.h>

struct ct_mhd {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_lookup_connection_value) *lookup;
    __typeof__(MHD_create_response_from_buffer) *from_buffer;
    __typeof__(MHD_create_response_from_callback) *from_callback;
    __typeof__(MHD_create_response_from_fd) *from_fd;
    __typeof__(MHD_add_response_header) *add_header;
    __typeof__(MHD_queue_response) *queue;
    __typeof__(MHD_destroy_response) *destroy;
    /* ctrace view's: answers computed on threads of its own. */
    __typeof__(MHD_suspend_connection) *suspend;
    __typeof__(MHD_resume_connection) *resume;
    __typeof__(MHD_get_connection_info) *connection_info;
    __typeof__(MHD_get_connection_values) *values;
};

extern struct ct_mhd ct_mhd;

/* Loads the library (once; not thread-safe): NULL when every function is
 * there, else why not, for a one-line message. */
const char *ct_mhd_load(void);

#endif
