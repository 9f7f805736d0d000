/*
 * segment.c -- spool segment files: header, names, creation, the finish
 * marker, appending whole records, and deciding whether a segment is
 * finished (see the DIRECTORY and SEGMENT HEADER sections of spool.h).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* for builds without -D_GNU_SOURCE (NGINX) */
#endif

#include "spool/spool.h"
#include "spool/le.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SP_NAME_LEN 33 /* "seg-" 16 hex "-" 8 hex ".tsp" */
#define SP_DONE_SUFFIX ".done"
#define SP_TMP_SUFFIX ".tmp"

/* See spool.h. */
void
spool_segment_header(unsigned char hdr[SPOOL_SEG_HDR_SIZE], uint32_t pid,
                     uint64_t created_us)
{
    memcpy(hdr, SPOOL_SEG_MAGIC, 8);
    sp_put32(hdr + 8, SPOOL_SEG_VERSION);
    sp_put32(hdr + 12, pid);
    sp_put64(hdr + 16, created_us);
    sp_put32(hdr + 24, 0);
    sp_put32(hdr + 28, spool_crc32c(0, hdr, 28));
}

/* See spool.h.  The reserved word is covered by the checksum but its value
 * is not checked. */
int
spool_segment_header_check(const unsigned char *hdr, size_t len,
                           uint32_t *pid, uint64_t *created_us)
{
    if (len < SPOOL_SEG_HDR_SIZE || memcmp(hdr, SPOOL_SEG_MAGIC, 8) != 0
        || spool_crc32c(0, hdr, 28) != sp_get32(hdr + 28)
        || sp_get32(hdr + 8) != SPOOL_SEG_VERSION)
        return -1;
    if (pid)
        *pid = sp_get32(hdr + 12);
    if (created_us)
        *created_us = sp_get64(hdr + 16);
    return 0;
}

/* See spool.h. */
void
spool_segment_name(char *name, uint64_t created_us, uint32_t pid)
{
    snprintf(name, SPOOL_NAME_MAX, "seg-%016llx-%08x.tsp",
             (unsigned long long)created_us, (unsigned)pid);
}

/* Parses n lower-case hex digits. */
static int
sp_hex(const char *s, int n, uint64_t *out)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* See spool.h.  Only the exact form spool_segment_name writes (lower-case
 * hex, full width) is accepted, so names and values map one to one. */
int
spool_segment_name_parse(const char *name, uint64_t *created_us,
                         uint32_t *pid)
{
    uint64_t us, p;

    if (strnlen(name, SP_NAME_LEN + 1) != SP_NAME_LEN
        || memcmp(name, "seg-", 4) != 0 || name[20] != '-'
        || memcmp(name + 29, ".tsp", 4) != 0
        || sp_hex(name + 4, 16, &us) != 0 || sp_hex(name + 21, 8, &p) != 0)
        return -1;
    if (created_us)
        *created_us = us;
    if (pid)
        *pid = (uint32_t)p;
    return 0;
}

/* See spool.h. */
int
spool_segment_name_valid(const char *name)
{
    return spool_segment_name_parse(name, NULL, NULL) == 0;
}

/* Writes "<dir>/<name><suffix>" into path (PATH_MAX bytes). */
static int
sp_path(char *path, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(path, PATH_MAX, "%s/%s%s", dir, name, suffix);

    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int
sp_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc, saved;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* 0 when a write of len bytes returned w == len; a short write is an
 * error (EIO), a failed one keeps its errno. */
static int
sp_full(ssize_t w, size_t len)
{
    if (w < 0)
        return -1;
    if ((size_t)w != len) {
        errno = EIO;
        return -1;
    }
    return 0;
}

static int
sp_write_all(int fd, const void *buf, size_t len)
{
    return sp_full(write(fd, buf, len), len);
}

/* See spool.h.  The segment is built under "<name>.tmp" (a name readers
 * ignore), its header written and -- when pid is this process -- an
 * exclusive flock taken, then it is published with link(), which fails
 * with EEXIST like O_EXCL would.  A reader therefore never sees a segment
 * without a complete header, nor the segment of a live writer unlocked
 * (spool_segment_is_finished relies on that).  The lock lasts as long as
 * the returned fd (and any duplicate of it) stays open. */
int
spool_segment_create(const char *dir, uint32_t pid, uint64_t created_us,
                     int durable, char *name)
{
    char seg[SPOOL_NAME_MAX], tmp[PATH_MAX], path[PATH_MAX];
    unsigned char hdr[SPOOL_SEG_HDR_SIZE];
    int fd, saved;

    spool_segment_name(seg, created_us, pid);
    if (sp_path(path, dir, seg, "") != 0
        || sp_path(tmp, dir, seg, SP_TMP_SUFFIX) != 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    spool_segment_header(hdr, pid, created_us);
    if ((pid == (uint32_t)getpid() && flock(fd, LOCK_EX | LOCK_NB) != 0
         && errno != ENOLCK && errno != EINVAL && errno != EOPNOTSUPP)
        || sp_write_all(fd, hdr, sizeof hdr) != 0
        || (durable && fdatasync(fd) != 0) || link(tmp, path) != 0)
        goto fail;
    unlink(tmp);
    if (durable && sp_fsync_dir(dir) != 0) {
        saved = errno;
        unlink(path);
        close(fd);
        errno = saved;
        return -1;
    }
    memcpy(name, seg, strlen(seg) + 1);
    return fd;

fail:
    saved = errno;
    unlink(tmp);
    close(fd);
    errno = saved;
    return -1;
}

/* See spool.h.  Idempotent: an existing marker is fine. */
int
spool_segment_finish(const char *dir, const char *name, int durable)
{
    char path[PATH_MAX];
    int fd;

    if (sp_path(path, dir, name, SP_DONE_SUFFIX) != 0)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return durable ? sp_fsync_dir(dir) : 0;
}

/* See spool.h.  There is one writer per segment, so after a short write
 * of w bytes the previous size is the current size minus w; the fast path
 * costs exactly one write(). */
int
spool_segment_append(int fd, const void *buf, size_t len, int *truncated_ok)
{
    ssize_t w;
    struct stat st;
    int saved;

    if (truncated_ok)
        *truncated_ok = 1;
    if (len == 0)
        return 0;
    w = write(fd, buf, len);
    if (w >= 0 && (size_t)w == len)
        return 0;
    if (w <= 0) {
        /* nothing was written (Linux reports a partial count, never -1,
         * once bytes went in) */
        if (w == 0)
            errno = EIO;
        return -1;
    }
    saved = EIO;
    if (fstat(fd, &st) != 0 || st.st_size < w
        || ftruncate(fd, st.st_size - w) != 0) {
        if (truncated_ok)
            *truncated_ok = 0;
    }
    errno = saved;
    return -1;
}

/* See spool.h. */
int
spool_segment_preallocate(int fd, uint64_t from, uint64_t to)
{
    static const unsigned char zeros[64 * 1024];
    ssize_t w;
    size_t n;

    while (from < to) {
        n = to - from < sizeof zeros ? (size_t)(to - from) : sizeof zeros;
        w = pwrite(fd, zeros, n, (off_t)from);
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        from += (uint64_t)w;
    }
    return 0;
}

/* pwrite() of all len bytes at off; a short write is an error (EIO). */
static int
sp_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    return sp_full(pwrite(fd, buf, len, (off_t)off), len);
}

/* See spool.h.  Two pwrite()s: everything after the first record header,
 * then that header, so that a reader racing with the copy never sees a
 * record header whose bytes are still zero. */
int
spool_segment_write_at(int fd, uint64_t off, const void *buf, size_t len,
                       int *truncated_ok)
{
    const unsigned char *b = buf;
    int saved;

    if (truncated_ok)
        *truncated_ok = 1;
    if (len == 0)
        return 0;
    if (len < SPOOL_REC_HDR_SIZE) {
        errno = EINVAL;
        return -1;
    }
    if ((len == SPOOL_REC_HDR_SIZE
         || sp_pwrite_all(fd, b + SPOOL_REC_HDR_SIZE,
                          len - SPOOL_REC_HDR_SIZE,
                          off + SPOOL_REC_HDR_SIZE) == 0)
        && sp_pwrite_all(fd, b, SPOOL_REC_HDR_SIZE, off) == 0)
        return 0;
    saved = errno;
    if (ftruncate(fd, (off_t)off) != 0 && truncated_ok)
        *truncated_ok = 0;
    errno = saved;
    return -1;
}

/* 1 if dir holds a segment of `pid` created after created_us. */
static int
sp_newer_of_pid(const char *dir, uint32_t pid, uint64_t created_us)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;

    if (d == NULL)
        return 0;
    while (!found && (de = readdir(d)) != NULL) {
        uint64_t us;
        uint32_t p;
        if (spool_segment_name_parse(de->d_name, &us, &p) == 0 && p == pid
            && us > created_us)
            found = 1;
    }
    closedir(d);
    return found;
}

/* 1 if some process holds the writer's flock on the segment. */
static int
sp_locked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), locked = 0;

    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        locked = 1;
    close(fd); /* drops our shared lock, if we got it */
    return locked;
}

/* See spool.h.  "Writer gone" means kill(pid, 0) fails with ESRCH *and*
 * no process holds the writer's flock on the segment: the lock keeps a
 * writer in another pid namespace (a separate container sharing the spool
 * directory) from being taken for dead.  Scans the directory for the
 * newer-segment rule, so it costs O(segments). */
int
spool_segment_is_finished(const char *dir, const char *name)
{
    char path[PATH_MAX];
    uint64_t us;
    uint32_t pid;

    if (spool_segment_name_parse(name, &us, &pid) != 0)
        return 0;
    if (sp_path(path, dir, name, SP_DONE_SUFFIX) == 0
        && access(path, F_OK) == 0)
        return 1;
    if (sp_newer_of_pid(dir, pid, us))
        return 1;
    if (pid == 0 || pid > (uint32_t)INT_MAX
        || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
        if (sp_path(path, dir, name, "") != 0)
            return 0;
        return !sp_locked(path);
    }
    return 0;
}
