/*
 * safe_open.c - opening outputs without following what another user
 * planted (safe_open.h).
 */
#include "safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory that holds path's last component: its stat, and whether
 * it is sticky and writable by all. False when it cannot be read. */
static bool parent_of(const char *path, struct stat *dir, bool *sticky)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return false;
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/') /* "dir/" names dir itself */
        buf[--len] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        strcpy(buf, ".");
    else if (slash == buf)
        buf[1] = 0;
    else
        *slash = 0;
    if (stat(buf, dir) != 0)
        return false;
    *sticky = (dir->st_mode & S_ISVTX) && (dir->st_mode & S_IWOTH);
    return true;
}

/* The owner rule of a sticky world-writable directory: the caller's own
 * files, and the directory owner's. */
static bool trusted_owner(uid_t owner, const struct stat *dir)
{
    return owner == geteuid() || owner == dir->st_uid;
}

int ct_open_output(const char *path, int flags, mode_t mode)
{
    struct stat dir;
    bool sticky = false;
    if (!parent_of(path, &dir, &sticky) || !sticky)
        return open(path, flags, mode);
    struct stat st;
    bool link = false;
    if (lstat(path, &st) == 0) {
        if (!trusted_owner(st.st_uid, &dir)) {
            errno = EPERM;
            return -1;
        }
        link = S_ISLNK(st.st_mode);
        if (!link)
            flags |= O_NOFOLLOW;
    } else {
        flags |= O_NOFOLLOW; /* a link that appears meanwhile is refused */
    }
    bool truncate = flags & O_TRUNC;
    int fd = open(path, flags & ~O_TRUNC, mode);
    if (fd < 0) {
        if (errno == ELOOP)
            errno = EPERM;
        return -1;
    }
    /* A file created by another user between the lstat and the open (a
     * trusted link leads where its owner chose). */
    if (fstat(fd, &st) != 0 ||
        (!link && S_ISREG(st.st_mode) && !trusted_owner(st.st_uid, &dir))) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    if (truncate && S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Appends the decimal digits of n at p; returns the end. */
static char *put_decimal(char *p, unsigned long n)
{
    char digits[24];
    int k = 0;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (k)
        *p++ = digits[--k];
    return p;
}

int ct_open_unique(const char *prefix, char *out, size_t cap)
{
    size_t len = strlen(prefix);
    if (len + 48 > cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (unsigned long n = 0; n < 1000; n++) {
        char *p = out;
        memcpy(p, prefix, len);
        p += len;
        *p++ = '.';
        p = put_decimal(p, (unsigned long)getpid());
        *p++ = '.';
        p = put_decimal(p, n);
        *p = 0;
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

bool ct_path_replaceable(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT;
    return S_ISREG(st.st_mode);
}
