/* json.h - JSON output shared by the reports, the export and ctrace view. */
#ifndef CT_JSON_H
#define CT_JSON_H

#include <stddef.h>
#include <stdio.h>

/* len bytes as a JSON string: quotes and backslashes escaped, control and
 * non-ASCII bytes as \u00XX (a trace's bytes need not be UTF-8). */
void ct_json_string(FILE *out, const void *s, size_t len);

#endif
