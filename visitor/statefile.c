/*
 * statefile.c -- tv_state_sync: the state file on disk.  Lock, read (or
 * create from the OS random source), ratchet forward, replace atomically
 * (temp file, fsync, rename, directory fsync), unlock.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* for builds without -D_GNU_SOURCE (NGINX) */
#endif

#include "visitor/visitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TV_FILE_MODE 0600

/* ---- errors and paths ---- */

static void
set_err(char *err, size_t errlen, const char *path, const char *what,
        int errnum)
{
    if (err == NULL || errlen == 0)
        return;
    if (errnum != 0)
        snprintf(err, errlen, "salt state file \"%s\": %s: %s", path, what,
                 strerror(errnum));
    else
        snprintf(err, errlen, "salt state file \"%s\": %s", path, what);
}

/* out = path + suffix; -1 if it does not fit in PATH_MAX. */
static int
path_with(char out[PATH_MAX], const char *path, const char *suffix)
{
    int n = snprintf(out, PATH_MAX, "%s%s", path, suffix);
    return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* The directory holding path ("." if path has no slash). */
static void
dir_of(char out[PATH_MAX], const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(out, ".");
    } else if (slash == path) {
        strcpy(out, "/");
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(out, path, n);
        out[n] = '\0';
    }
}

/* ---- the lock ---- */

/* Opens (creating it 0600 if needed) "<path>.lock" and takes an exclusive
 * flock.  Returns the fd (closing it releases the lock) or -1. */
static int
lock_take(const char *path, char *err, size_t errlen)
{
    char lockpath[PATH_MAX];
    int fd;

    if (path_with(lockpath, path, ".lock") < 0) {
        set_err(err, errlen, path, "path too long", ENAMETOOLONG);
        return -1;
    }
    fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
              TV_FILE_MODE);
    if (fd < 0 && (errno == EACCES || errno == EROFS))
        fd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        set_err(err, errlen, path, "cannot open lock file", errno);
        return -1;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            set_err(err, errlen, path, "cannot lock", errno);
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* ---- reading ---- */

/* Reads and decodes the state file.  Returns 0 with *st, *sb and *fd (kept
 * open, read-write when permitted, so the old inode can be scrubbed after
 * it is replaced), 1 if the file does not exist, -1 on error. */
static int
state_read(const char *path, tv_state *st, struct stat *sb, int *fd,
           char *err, size_t errlen)
{
    unsigned char buf[TV_STATE_SIZE];
    size_t got = 0;
    int rc = -1;

    *fd = open(path, O_RDWR | O_CLOEXEC);
    if (*fd < 0 && (errno == EACCES || errno == EROFS))
        *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        if (errno == ENOENT)
            return 1;
        set_err(err, errlen, path, "cannot open", errno);
        return -1;
    }
    if (fstat(*fd, sb) < 0) {
        set_err(err, errlen, path, "cannot stat", errno);
        goto out;
    }
    if (!S_ISREG(sb->st_mode)) {
        set_err(err, errlen, path, "not a regular file", 0);
        goto out;
    }
    if (sb->st_size != TV_STATE_SIZE) {
        char what[96];
        snprintf(what, sizeof what,
                 "not a valid state file (%lld bytes, expected %d)",
                 (long long)sb->st_size, TV_STATE_SIZE);
        set_err(err, errlen, path, what, 0);
        goto out;
    }
    while (got < sizeof buf) {
        ssize_t n = pread(*fd, buf + got, sizeof buf - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(err, errlen, path, "cannot read", errno);
            goto out;
        }
        if (n == 0) {
            set_err(err, errlen, path, "not a valid state file (short)", 0);
            goto out;
        }
        got += (size_t)n;
    }
    if (tv_state_decode(buf, sizeof buf, st) < 0) {
        set_err(err, errlen, path,
                "not a valid state file (bad magic or version)", 0);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(buf, sizeof buf);
    if (rc < 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* ---- writing ---- */

static int
write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    int fd, rc;

    dir_of(dir, path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* Replaces the state file with st: writes "<path>.tmp" (mode 0600), fsyncs
 * it, renames it over path and fsyncs the directory.  old is the replaced
 * file's stat (NULL when creating): a root process keeps its owner, so
 * workers that were given the file can still use it. */
static int
state_write(const char *path, const tv_state *st, const struct stat *old,
            char *err, size_t errlen)
{
    char tmppath[PATH_MAX];
    unsigned char buf[TV_STATE_SIZE];
    const char *what;
    int fd, e;

    if (path_with(tmppath, path, ".tmp") < 0) {
        set_err(err, errlen, path, "path too long", ENAMETOOLONG);
        return -1;
    }
    /* we hold the lock: a temp file left here is from a crashed writer */
    if (unlink(tmppath) < 0 && errno != ENOENT) {
        set_err(err, errlen, path, "cannot remove stale temp file", errno);
        return -1;
    }
    fd = open(tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, TV_FILE_MODE);
    if (fd < 0) {
        set_err(err, errlen, path, "cannot create temp file", errno);
        return -1;
    }

    tv_state_encode(st, buf);
    what = "cannot set temp file mode";
    if (fchmod(fd, TV_FILE_MODE) < 0)
        goto fail;
    what = "cannot set temp file owner";
    if (old != NULL && geteuid() == 0
        && (old->st_uid != 0 || old->st_gid != 0)
        && fchown(fd, old->st_uid, old->st_gid) < 0)
        goto fail;
    what = "cannot write temp file";
    if (write_all(fd, buf, sizeof buf) < 0)
        goto fail;
    what = "cannot fsync temp file";
    if (fsync(fd) < 0)
        goto fail;
    sodium_memzero(buf, sizeof buf);
    what = "cannot close temp file";
    e = close(fd);
    fd = -1;
    if (e < 0)
        goto fail;
    what = "cannot rename temp file over it";
    if (rename(tmppath, path) < 0)
        goto fail;
    if (fsync_dir(path) < 0) {
        /* renamed, so the temp file is gone: report, nothing to undo */
        set_err(err, errlen, path, "cannot fsync its directory", errno);
        return -1;
    }
    return 0;

fail:
    e = errno;
    sodium_memzero(buf, sizeof buf);
    if (fd >= 0)
        close(fd);
    unlink(tmppath);
    set_err(err, errlen, path, what, e);
    return -1;
}

/* Best effort: overwrites the replaced (now unlinked) inode with zeros so
 * the old key does not stay in its data blocks.  The new state is already
 * durable, so a crash here loses nothing.  Filesystems that copy on write,
 * journal data or remap blocks (SSDs) may still keep old bytes. */
static void
scrub_old(int fd)
{
    static const unsigned char zeros[TV_STATE_SIZE];

    if (fd < 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR)
        return;
    if (pwrite(fd, zeros, sizeof zeros, 0) == (ssize_t)sizeof zeros)
        (void)fdatasync(fd);
}

/* ---- the public entry point ---- */

int
tv_state_sync(const char *path, uint32_t today, tv_state *st, int *flags,
              char *err, size_t errlen)
{
    tv_state cur;
    struct stat sb;
    int lockfd, oldfd = -1, r, rc = -1, fl = 0;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    tv_state_wipe(st);
    if (path == NULL || path[0] == '\0') {
        set_err(err, errlen, "", "no path given", 0);
        return -1;
    }

    lockfd = lock_take(path, err, errlen);
    if (lockfd < 0)
        return -1;

    memset(&cur, 0, sizeof cur);
    r = state_read(path, &cur, &sb, &oldfd, err, errlen);
    if (r < 0)
        goto out;

    if (r == 1) {
        randombytes_buf(cur.key, sizeof cur.key);
        cur.day = today;
        tv_state_derive(&cur);
        if (state_write(path, &cur, NULL, err, errlen) < 0)
            goto out;
        fl |= TV_SYNC_CREATED;
    } else if (today > cur.day) {
        uint32_t steps = today - cur.day;
        if (steps > TV_SYNC_MAX_STEPS) {
            char what[128];
            snprintf(what, sizeof what,
                     "refusing to ratchet %u days ahead (stored day %u, "
                     "today %u): is the clock wrong?",
                     steps, cur.day, today);
            set_err(err, errlen, path, what, 0);
            goto out;
        }
        while (cur.day < today) {
            tv_ratchet_step(cur.key);
            cur.day++;
        }
        tv_state_derive(&cur);
        if (state_write(path, &cur, &sb, err, errlen) < 0)
            goto out;
        scrub_old(oldfd);
        fl |= TV_SYNC_ADVANCED;
    } else if (today < cur.day) {
        fl |= TV_SYNC_CLOCKBACK;
    }

    *st = cur;
    if (flags != NULL)
        *flags |= fl;
    rc = 0;
out:
    tv_state_wipe(&cur);
    if (oldfd >= 0)
        close(oldfd);
    close(lockfd);
    return rc;
}

int
tv_state_chown(const char *path, uid_t uid, gid_t gid, char *err,
               size_t errlen)
{
    char lockpath[PATH_MAX];

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path_with(lockpath, path, ".lock") < 0) {
        set_err(err, errlen, path, "path too long", ENAMETOOLONG);
        return -1;
    }
    if (chown(path, uid, gid) < 0) {
        set_err(err, errlen, path, "cannot chown", errno);
        return -1;
    }
    if (chown(lockpath, uid, gid) < 0) {
        set_err(err, errlen, path, "cannot chown lock file", errno);
        return -1;
    }
    return 0;
}
