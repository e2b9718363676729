/* view_files.h - the web UI's files, embedded by scripts/embed.py. */
#ifndef CT_VIEW_FILES_H
#define CT_VIEW_FILES_H

#include <stddef.h>

struct ct_ui_file {
    const char *path; /* "/index.html", ... */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

/* Ends with a NULL path. */
extern const struct ct_ui_file ct_ui_files[];

#endif
