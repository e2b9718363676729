/*
 * safe_open.h - opening the files ctrace writes (traces, flight recorder
 * windows, profiles, exports) so that another user cannot redirect them.
 *
 * In a sticky world-writable directory (/tmp, /var/tmp) anyone may create
 * a name, so a trace written there as root could follow a symbolic link
 * planted by another user onto a file of root's, or write into a file that
 * user created and can read. ct_open_output refuses both, as Linux's
 * fs.protected_symlinks and fs.protected_regular do, whatever those are
 * set to: in such a directory a symbolic link is followed only when it
 * belongs to the caller or to the directory's owner, and an existing
 * regular file is written only when it does. Elsewhere the path is opened
 * as given (a link to /dev/stdout keeps working). Only the last component
 * of the path is checked.
 */
#ifndef CT_SAFE_OPEN_H
#define CT_SAFE_OPEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* open(path, flags, mode) for writing, under the rules above: O_TRUNC
 * truncates only once the file is found acceptable. -1 with errno on a
 * failure; EPERM when the rules refused the file. */
int ct_open_output(const char *path, int flags, mode_t mode);

/* Creates a new file "PREFIX.PID.N" (N counting from 0 until a name is
 * free) with O_CREAT|O_EXCL, which never follows a link, mode 0600;
 * its name in out. Async-signal-safe (no formatting through stdio). */
int ct_open_unique(const char *prefix, char *out, size_t cap);

/* Whether path names a regular file or nothing (lstat): such a path is
 * written through a temporary file renamed over it; another (a link, a
 * device, a pipe) is written in place. */
bool ct_path_replaceable(const char *path);

#endif
