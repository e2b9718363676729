/* json.c - see json.h. */
#include "json.h"

void ct_json_string(FILE *out, const void *s, size_t len)
{
    const unsigned char *p = s;
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}
