/*
 * curl.h - libcurl, loaded with dlopen when an export sends to a server
 * (ctrace export --url, --otlp-endpoint): linked in, it and the libraries
 * it pulls in (OpenSSL, nghttp2, libssh2, LDAP, Kerberos) would load at
 * every start of every ctrace command.
 */
#ifndef CT_COMPAT_CURL_H
#define CT_COMPAT_CURL_H

#include <curl/curl.h>

struct ct_curl {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_easy_escape) *easy_escape;
    __typeof__(curl_free) *free;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
};

extern struct ct_curl ct_curl;

/* Loads the library and initialises it (once; call before starting
 * threads): NULL when every function is there, else why not, for a
 * one-line message. */
const char *ct_curl_load(void);

#endif
