/*
 * units.h - durations and sizes as people write them, for the command line
 * and the CTRACE_* variables: "10s", "500ms", "2m", "250us", "1h" (a bare
 * number is seconds); "10MB", "64KiB", "1G", "4096" (a bare number is
 * bytes; K, M and G are powers of 1024, with or without "iB" or "B").
 */
#ifndef CT_UNITS_H
#define CT_UNITS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline bool ct_units_number(const char *s, char **end, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, end, 10);
    *out = v;
    return v < (1ull << 53);
}

static inline bool ct_parse_duration_ns(const char *s, uint64_t *ns)
{
    char *end;
    uint64_t v;
    if (!ct_units_number(s, &end, &v))
        return false;
    static const struct { const char *suffix; uint64_t ns; } units[] = {
        {"", 1000000000ull}, {"s", 1000000000ull}, {"ms", 1000000ull},
        {"us", 1000ull},     {"ns", 1ull},         {"m", 60000000000ull},
        {"h", 3600000000000ull},
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].ns)
                return false;
            *ns = v * units[i].ns;
            return true;
        }
    return false;
}

static inline bool ct_parse_bytes(const char *s, uint64_t *bytes)
{
    char *end;
    uint64_t v;
    if (!ct_units_number(s, &end, &v))
        return false;
    uint64_t scale = 1;
    switch (*end) {
    case 'K': case 'k': scale = 1ull << 10; end++; break;
    case 'M': case 'm': scale = 1ull << 20; end++; break;
    case 'G': case 'g': scale = 1ull << 30; end++; break;
    default: break;
    }
    if (scale > 1 && strcmp(end, "iB") == 0)
        end += 2;
    else if (strcmp(end, "B") == 0)
        end += 1;
    if (*end || v > UINT64_MAX / scale)
        return false;
    *bytes = v * scale;
    return true;
}

/* "AGE[,BYTES]", the flight recorder's window; a missing part is 0 (the
 * default). */
static inline bool ct_parse_flight(const char *s, uint64_t *age_ns, uint64_t *bytes)
{
    char age[64];
    const char *comma = strchr(s, ',');
    size_t n = comma ? (size_t)(comma - s) : strlen(s);
    if (n >= sizeof age)
        return false;
    memcpy(age, s, n);
    age[n] = 0;
    *age_ns = *bytes = 0;
    if (n && !ct_parse_duration_ns(age, age_ns))
        return false;
    return !comma || !comma[1] || ct_parse_bytes(comma + 1, bytes);
}

#endif
