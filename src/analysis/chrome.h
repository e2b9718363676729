/* chrome.h - Trace Event Format export (chrome.c). */
#ifndef CT_CHROME_H
#define CT_CHROME_H

#include <stdint.h>
#include <stdio.h>

#include "../format/reader.h"

/* Writes the whole trace as JSON; 0, or -1 on a failure of
 * its own (memory, output). A damaged trace is read up to the damage: 0, with
 * rd->failed and rd->error set (the caller reports it). */
int ct_export_chrome(struct ct_reader *rd, FILE *out, uint64_t pid, const char *command);

#endif
