/*
 * output.c - writing a command's output file safely (output.h).
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../compat/safe_open.h"
#include "cli.h"

static void say(const char *cmd, const char *path, int err)
{
    fprintf(stderr, "ctrace %s: cannot write %s: %s\n", cmd, path,
            err == EPERM ? "refused: another user's file or link in a sticky "
                           "world-writable directory"
                         : strerror(err));
}

int ct_output_open(struct ct_output *o, const char *path, const char *cmd)
{
    *o = (struct ct_output){.mode = -1};
    if (!path || strcmp(path, "-") == 0) {
        o->held = ct_cli_strict;
        o->f = o->held ? tmpfile() : stdout;
        if (!o->f)
            say(cmd, "a temporary file", errno);
        return o->f ? 0 : -1;
    }
    o->path = path;
    struct stat st;
    if (ct_path_replaceable(path)) {
        char prefix[4096];
        snprintf(prefix, sizeof prefix, "%s.tmp", path);
        int fd = ct_open_unique(prefix, o->tmp, sizeof o->tmp);
        if (fd >= 0) {
            if (lstat(path, &st) == 0)
                o->mode = (int)(st.st_mode & 07777);
            o->f = fdopen(fd, "w");
            if (o->f)
                return 0;
            close(fd);
            unlink(o->tmp);
        }
        /* A directory we cannot create in, where the file itself may be
         * writable: in place, as below. */
        o->tmp[0] = 0;
    }
    /* In place: checked now, written at the end. */
    int fd = ct_open_output(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(cmd, path, errno);
        return -1;
    }
    close(fd);
    o->f = tmpfile();
    if (!o->f) {
        say(cmd, path, errno);
        return -1;
    }
    return 0;
}

/* Copies the temporary file f to path, in place. */
static int copy_in_place(FILE *f, const char *path)
{
    int fd = ct_open_output(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    rewind(f);
    char buf[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t at = 0; at < n && rc == 0;) {
            ssize_t w = write(fd, buf + at, n - at);
            if (w < 0 && errno != EINTR)
                rc = -1;
            else if (w > 0)
                at += (size_t)w;
        }
    if (rc == 0 && ferror(f)) {
        errno = EIO;
        rc = -1;
    }
    int err = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = err;
    return rc;
}

int ct_output_commit(struct ct_output *o, const char *cmd)
{
    if (!o->path) {
        if (o->held) {
            rewind(o->f);
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, o->f)) > 0)
                fwrite(buf, 1, n, stdout);
            fclose(o->f);
            o->f = NULL;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            say(cmd, "standard output", errno);
            return -1;
        }
        return 0;
    }
    int rc = 0;
    if (o->tmp[0]) {
        if (o->mode >= 0)
            fchmod(fileno(o->f), (mode_t)o->mode);
        if (fclose(o->f) != 0 || rename(o->tmp, o->path) != 0) {
            rc = -1;
            say(cmd, o->path, errno);
            unlink(o->tmp);
        }
    } else {
        if (fflush(o->f) != 0 || copy_in_place(o->f, o->path) != 0) {
            rc = -1;
            say(cmd, o->path, errno);
        }
        fclose(o->f);
    }
    o->f = NULL;
    return rc;
}

void ct_output_abort(struct ct_output *o)
{
    if (!o->f || (!o->path && !o->held))
        return;
    fclose(o->f);
    if (o->tmp[0])
        unlink(o->tmp);
    o->f = NULL;
}
