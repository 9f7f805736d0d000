/* logread.c -- see logread.h. */
#include "aggregator/logread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define LF_BUF_SIZE (1u << 20)   /* must exceed LF_LINE_MAX + 1 */

/* ---- a line buffer over a file descriptor or a gzFile ------------------ */

struct lf_lines {
    int       fd;          /* read() from this when gz is NULL         */
    gzFile    gz;
    char     *buf;
    size_t    start;       /* first byte of the next line              */
    size_t    scan;        /* no '\n' in [start, scan)                 */
    size_t    end;         /* bytes in buf                             */
    uint64_t  base;        /* stream offset of buf[0]                  */
    uint64_t  lineno;
    int       skipping;    /* line at start is too long: only its first
                              LF_LINE_MAX bytes are kept, the rest up to
                              its '\n' is dropped as it is read          */
    uint64_t  gap;         /* bytes dropped so: offsets of the bytes
                              after them are base + index + gap          */
    char      err[160];
};

static void
lr_error(struct lf_lines *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, sizeof l->err, fmt, ap);
    va_end(ap);
}

static int
lr_init(struct lf_lines *l, int fd, gzFile gz)
{
    memset(l, 0, sizeof *l);
    l->fd = fd;
    l->gz = gz;
    l->buf = malloc(LF_BUF_SIZE);
    return l->buf != NULL ? 0 : -1;
}

/* forgets buffered bytes: the stream continues at offset `at` */
static void
lr_reset(struct lf_lines *l, uint64_t at, uint64_t lineno)
{
    l->start = l->scan = l->end = 0;
    l->base = at;
    l->lineno = lineno;
    l->skipping = 0;
    l->gap = 0;
}

/* how many bytes of the stream were consumed from the input */
static uint64_t
lr_readpos(const struct lf_lines *l)
{
    return l->base + l->end + l->gap;
}

/* reads more input after compacting; >0 bytes, 0 at the end, -1 error */
static int
lr_fill(struct lf_lines *l)
{
    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->base += l->start;
        l->end -= l->start;
        l->scan -= l->start;
        l->start = 0;
    }
    size_t room = LF_BUF_SIZE - l->end;
    if (l->gz != NULL) {
        int n = gzread(l->gz, l->buf + l->end, (unsigned)room);
        int zerr = Z_OK;
        const char *msg = gzerror(l->gz, &zerr);
        /* data before a truncation comes first, the error after it */
        if (n < 0 || (n == 0 && zerr != Z_OK && zerr != Z_STREAM_END)) {
            if (zerr == Z_BUF_ERROR)
                lr_error(l, "gzip data ends too early (truncated file)");
            else
                lr_error(l, "gzip: %s", msg);
            return -1;
        }
        l->end += (size_t)n;
        return n > 0;
    }
    for (;;) {
        ssize_t n = read(l->fd, l->buf + l->end, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lr_error(l, "read: %s", strerror(errno));
            return -1;
        }
        l->end += (size_t)n;
        return n > 0;
    }
}

/* returns the line [s, e) whose successor starts at stream offset next */
static void
lr_emit(struct lf_lines *l, size_t s, size_t e, uint64_t next, lf_line *out)
{
    size_t n = e - s;
    out->p = l->buf + s;
    out->too_long = l->skipping || n > LF_LINE_MAX;
    if (out->too_long)
        n = LF_LINE_MAX;
    else if (n > 0 && l->buf[s + n - 1] == '\r')
        n--;
    out->n = n;
    out->lineno = ++l->lineno;
    out->offset = l->base + s;
    out->next = next;
    if (l->skipping) {
        /* the dropped bytes lie before everything still in buf */
        l->base += l->gap;
        l->gap = 0;
        l->skipping = 0;
    }
}

/* The next line: 1, 0 at the current end of input (then a partial last
 * line is returned only when `final`), -1 on error. */
static int
lr_next(struct lf_lines *l, lf_line *out, int final)
{
    for (;;) {
        const char *nl = memchr(l->buf + l->scan, '\n', l->end - l->scan);
        if (nl != NULL) {
            size_t e = (size_t)(nl - l->buf), s = l->start;
            uint64_t next = l->base + e + 1 + l->gap;
            l->start = l->scan = e + 1;
            lr_emit(l, s, e, next, out);
            return 1;
        }
        if (!l->skipping && l->end - l->start > LF_LINE_MAX)
            l->skipping = 1;
        if (l->skipping && l->end > l->start + LF_LINE_MAX) {
            size_t keep = l->start + LF_LINE_MAX;
            l->gap += l->end - keep;
            l->end = keep;
        }
        l->scan = l->end;
        int rc = lr_fill(l);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (final && l->end > l->start) {
                size_t s = l->start, e = l->end;
                uint64_t next = l->base + e + l->gap;
                l->start = l->scan = e;
                lr_emit(l, s, e, next, out);
                return 1;
            }
            return 0;
        }
    }
}

static void
lr_free(struct lf_lines *l)
{
    free(l->buf);
    l->buf = NULL;
}

static void
lf_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* 1 if the open file starts with gzip's magic bytes, 0 if not, -1 error */
static int
lf_is_gzip_fd(int fd)
{
    unsigned char m[2];
    ssize_t n = pread(fd, m, 2, 0);
    if (n < 0)
        return errno == ESPIPE ? 0 : -1;
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* ---- lf_reader ------------------------------------------------------------ */

struct lf_reader {
    struct lf_lines l;
    int             is_stdin;
    int             started;
};

lf_reader *
lf_reader_open(const char *path, char *err, size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lf_seterr(err, errlen, "%s: %s", is_stdin ? "stdin" : path,
                  strerror(errno));
        return NULL;
    }
    int gz = is_stdin ? 1 : lf_is_gzip_fd(fd);
    if (gz < 0) {
        lf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    lf_reader *r = calloc(1, sizeof *r);
    gzFile g = NULL;
    if (r != NULL && gz) {
        /* stdin: zlib reads plain input transparently */
        g = gzdopen(fd, "rb");
        if (g != NULL)
            gzbuffer(g, 256 * 1024);
    }
    if (r == NULL || (gz && g == NULL) || lr_init(&r->l, fd, g) != 0) {
        lf_seterr(err, errlen, "%s: out of memory", path);
        if (g != NULL)
            gzclose(g);
        else
            close(fd);
        if (r != NULL)
            lr_free(&r->l);
        free(r);
        return NULL;
    }
    r->is_stdin = is_stdin;
    if (!gz)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return r;
}

int
lf_reader_seek(lf_reader *r, uint64_t offset, uint64_t lineno)
{
    if (r->started) {
        lr_error(&r->l, "seek after reading started");
        return -1;
    }
    if (r->l.gz != NULL) {
        /* a forward seek on a read stream decompresses and discards, and
         * lazily: reading a byte makes it happen, then gztell() says how
         * far the input really went */
        if (gzseek(r->l.gz, (z_off_t)offset, SEEK_SET) < 0) {
            lr_error(&r->l, "cannot resume at offset %llu",
                     (unsigned long long)offset);
            return -1;
        }
        int c = gzgetc(r->l.gz);
        if (c >= 0)
            gzungetc(c, r->l.gz);
        int zerr = Z_OK;
        gzerror(r->l.gz, &zerr);
        if (zerr != Z_OK || (uint64_t)gztell(r->l.gz) != offset) {
            lr_error(&r->l, "cannot resume at offset %llu: the input ends "
                     "before it", (unsigned long long)offset);
            return -1;
        }
    } else {
        struct stat st;
        if (fstat(r->l.fd, &st) != 0 || (uint64_t)st.st_size < offset
            || lseek(r->l.fd, (off_t)offset, SEEK_SET) < 0) {
            lr_error(&r->l, "cannot resume at offset %llu: the file is "
                     "shorter (truncated or replaced?)",
                     (unsigned long long)offset);
            return -1;
        }
    }
    lr_reset(&r->l, offset, lineno);
    return 0;
}

int
lf_reader_next(lf_reader *r, lf_line *out)
{
    r->started = 1;
    return lr_next(&r->l, out, 1);
}

int
lf_reader_is_gzip(const lf_reader *r)
{
    return r->l.gz != NULL && !gzdirect(r->l.gz);
}

const char *
lf_reader_error(const lf_reader *r)
{
    return r->l.err;
}

void
lf_reader_close(lf_reader *r)
{
    if (r == NULL)
        return;
    if (r->l.gz != NULL)
        gzclose(r->l.gz);
    else
        close(r->l.fd);
    lr_free(&r->l);
    free(r);
}

/* ---- lf_follow ------------------------------------------------------------- */

struct lf_follow {
    struct lf_lines l;
    char           *path;
    uint64_t        dev, ino;
    int             moved;      /* 1: the path names another file;
                                   2: the old file is finished           */
    uint64_t        moved_at;   /* lr_readpos() when last seen at its end */
    uint64_t        restarts;
};

/* opens path as a plain file; fills dev/ino/size; returns the fd, or -1
 * with a reason in err and the open()/fstat() errno in *eno */
static int
lf_follow_openfd(const char *path, uint64_t *dev, uint64_t *ino,
                 uint64_t *size, int *eno, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    *eno = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *eno = errno;
        lf_seterr(err, errlen, "%s: %s", path, strerror(*eno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        lf_seterr(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (lf_is_gzip_fd(fd) == 1) {
        lf_seterr(err, errlen, "%s: a gzip file cannot be followed", path);
        close(fd);
        return -1;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *size = (uint64_t)st.st_size;
    return fd;
}

lf_follow *
lf_follow_open(const char *path, const lf_follow_pos *resume, char *err,
               size_t errlen)
{
    uint64_t dev, ino, size;
    int eno;
    int fd = lf_follow_openfd(path, &dev, &ino, &size, &eno, err, errlen);
    if (fd < 0)
        return NULL;
    lf_follow *f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL
        || lr_init(&f->l, fd, NULL) != 0) {
        lf_seterr(err, errlen, "%s: out of memory", path);
        close(fd);
        if (f != NULL) {
            free(f->path);
            lr_free(&f->l);
        }
        free(f);
        return NULL;
    }
    f->dev = dev;
    f->ino = ino;
    if (resume != NULL) {
        if (resume->dev == dev && resume->ino == ino
            && resume->offset <= size
            && lseek(fd, (off_t)resume->offset, SEEK_SET) >= 0)
            lr_reset(&f->l, resume->offset, resume->lineno);
        else
            f->restarts++;
    }
    return f;
}

/* the old file is finished: read the one now at the path from 0.
 * 1 switched, 0 no file there (yet), -1 error */
static int
lf_follow_switch(lf_follow *f)
{
    uint64_t dev, ino, size;
    int eno;
    int fd = lf_follow_openfd(f->path, &dev, &ino, &size, &eno, f->l.err,
                              sizeof f->l.err);
    if (fd < 0)
        return eno == ENOENT ? 0 : -1;
    close(f->l.fd);
    f->l.fd = fd;
    f->dev = dev;
    f->ino = ino;
    f->moved = 0;
    f->restarts++;
    lr_reset(&f->l, 0, 0);
    return 1;
}

int
lf_follow_poll(lf_follow *f, lf_line *out)
{
    for (;;) {
        int rc = lr_next(&f->l, out, f->moved == 2);
        if (rc != 0)
            return rc;
        /* at the end of what the file holds now */
        if (f->moved == 2) {
            int s = lf_follow_switch(f);
            if (s <= 0)
                return s;
            continue;
        }
        if (f->moved == 1) {
            /* quiet since the last poll: the server has reopened its log */
            if (lr_readpos(&f->l) == f->moved_at) {
                f->moved = 2;
                continue;
            }
            f->moved_at = lr_readpos(&f->l);
            return 0;
        }
        struct stat st;
        if (stat(f->path, &st) == 0) {
            if ((uint64_t)st.st_ino != f->ino
                || (uint64_t)st.st_dev != f->dev) {
                f->moved = 1;          /* renamed: finish the old file */
                f->moved_at = lr_readpos(&f->l);
                return 0;
            }
        } else if (errno != ENOENT) {
            lr_error(&f->l, "%s: %s", f->path, strerror(errno));
            return -1;
        }
        if (fstat(f->l.fd, &st) != 0) {
            lr_error(&f->l, "%s: %s", f->path, strerror(errno));
            return -1;
        }
        if ((uint64_t)st.st_size < lr_readpos(&f->l)) {
            /* copytruncate: the content moved elsewhere; start over */
            if (lseek(f->l.fd, 0, SEEK_SET) < 0) {
                lr_error(&f->l, "%s: %s", f->path, strerror(errno));
                return -1;
            }
            lr_reset(&f->l, 0, 0);
            f->restarts++;
            continue;
        }
        return 0;
    }
}

void
lf_follow_position(const lf_follow *f, lf_follow_pos *out)
{
    out->dev = f->dev;
    out->ino = f->ino;
    out->offset = f->l.base + f->l.start;
    out->lineno = f->l.lineno;
}

uint64_t
lf_follow_restarts(const lf_follow *f)
{
    return f->restarts;
}

const char *
lf_follow_error(const lf_follow *f)
{
    return f->l.err;
}

void
lf_follow_close(lf_follow *f)
{
    if (f == NULL)
        return;
    close(f->l.fd);
    lr_free(&f->l);
    free(f->path);
    free(f);
}
