/*
 * addr.h - "HOST:PORT" (or ":PORT", loopback) into an IPv4 address, for
 * ctrace view's --addr and the endpoint's CTRACE_HTTP.
 */
#ifndef CT_ADDR_H
#define CT_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline bool ct_parse_addr(const char *addr, struct sockaddr_in *sa)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1] || strlen(colon + 1) > 5)
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return false;
    char host[64];
    size_t n = (size_t)(colon - addr);
    if (n >= sizeof host)
        return false;
    memcpy(host, addr, n);
    host[n] = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (n == 0 || strcmp(host, "localhost") == 0)
        return inet_pton(AF_INET, "127.0.0.1", &sa->sin_addr) == 1;
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

#endif
