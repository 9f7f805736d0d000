/*
 * reader.c -- reads whole records from one segment file (see VALIDITY in
 * spool.h).  Reads with pread() in large chunks into a private buffer and
 * decodes records in place, so a stream of small records costs about one
 * syscall per buffer, not per record.  Stops at a torn tail of a live
 * segment and continues from there on a later call; reports corrupt
 * records and resynchronises on the next valid one.  A zero byte where a
 * record should start is an unwritten (preallocated) tail, see UNWRITTEN
 * TAIL in spool.h.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* for builds without -D_GNU_SOURCE (NGINX) */
#endif

#include "spool/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SP_BUF_INITIAL (256 * 1024)
#define SP_BUF_MAX (SPOOL_REC_HDR_SIZE + SPOOL_MAX_PAYLOAD)

/* Header state. */
enum { SP_HDR_UNKNOWN, SP_HDR_OK, SP_HDR_BAD };

struct spool_reader {
    int              fd;
    char             name[SPOOL_NAME_MAX];
    uint32_t         pid;
    uint64_t         created_us;
    spool_corrupt_fn on_corrupt;
    void            *ctx;
    unsigned char   *buf;
    size_t           cap;
    size_t           pos;      /* next unread byte in buf              */
    size_t           end;      /* bytes of buf holding file data       */
    uint64_t         buf_off;  /* file offset of buf[0]                */
    int              hdr;      /* SP_HDR_*                             */
    int              finished; /* set by spool_reader_set_finished     */
    int              resyncing;/* buf[pos] is known bad; scan past it  */
    int              probing;  /* buf[pos] is a resync candidate       */
};

static void
sp_report(spool_reader *r, uint64_t off, const char *why)
{
    if (r->on_corrupt)
        r->on_corrupt(r->ctx, r->name, off, why);
}

/* See spool.h.  Offsets 1..31 (inside the header) are rejected with
 * EINVAL; so are names that are not segment names. */
spool_reader *
spool_reader_open(const char *dir, const char *name, uint64_t offset,
                  spool_corrupt_fn on_corrupt, void *ctx)
{
    char path[PATH_MAX];
    spool_reader *r;
    uint64_t us;
    uint32_t pid;
    int n;

    if (spool_segment_name_parse(name, &us, &pid) != 0
        || (offset > 0 && offset < SPOOL_SEG_HDR_SIZE)) {
        errno = EINVAL;
        return NULL;
    }
    n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->buf = malloc(SP_BUF_INITIAL);
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int saved = errno;
        free(r->buf);
        free(r);
        errno = saved;
        return NULL;
    }
    r->cap = SP_BUF_INITIAL;
    memcpy(r->name, name, strlen(name) + 1);
    r->pid = pid;
    r->created_us = us;
    r->on_corrupt = on_corrupt;
    r->ctx = ctx;
    r->buf_off = offset ? offset : SPOOL_SEG_HDR_SIZE;
    r->hdr = SP_HDR_UNKNOWN;
    return r;
}

/* Moves the unread bytes to the front, makes room for at least `need`
 * unread bytes, and reads as much as fits.  Returns the number of bytes
 * read (0 at end of file) or -1 with errno set. */
static ssize_t
sp_fill(spool_reader *r, size_t need)
{
    ssize_t got;

    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->buf_off += r->pos;
        r->end -= r->pos;
        r->pos = 0;
    }
    if (need > r->cap) {
        size_t cap = r->cap;
        unsigned char *nb;
        while (cap < need)
            cap *= 2;
        if (cap > SP_BUF_MAX)
            cap = SP_BUF_MAX;
        if (cap < need) {
            errno = EINVAL;
            return -1;
        }
        nb = realloc(r->buf, cap);
        if (nb == NULL)
            return -1;
        r->buf = nb;
        r->cap = cap;
    }
    if (r->end == r->cap)
        return 0; /* cannot happen: callers ask only when short */
    do
        got = pread(r->fd, r->buf + r->end, r->cap - r->end,
                    (off_t)(r->buf_off + r->end));
    while (got < 0 && errno == EINTR);
    if (got > 0)
        r->end += (size_t)got;
    return got;
}

/* Skips everything up to the current end of file. */
static int
sp_skip_to_eof(spool_reader *r)
{
    struct stat st;

    if (fstat(r->fd, &st) != 0)
        return -1;
    if ((uint64_t)st.st_size > r->buf_off + r->pos) {
        r->buf_off = (uint64_t)st.st_size;
        r->pos = r->end = 0;
    }
    return 0;
}

/* In a finished segment, at a record boundary holding a zero byte: 1 (and
 * positioned at the end of the file) when every byte from there to the
 * end is zero, 0 when another byte follows (the caller reports it), -1 on
 * an I/O error. */
static int
sp_zero_tail(spool_reader *r)
{
    unsigned char chunk[16 * 1024];
    uint64_t off;
    ssize_t got;
    size_t i;

    for (i = r->pos; i < r->end; i++)
        if (r->buf[i] != 0)
            return 0;
    off = r->buf_off + r->end;
    for (;;) {
        do
            got = pread(r->fd, chunk, sizeof chunk, (off_t)off);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        for (i = 0; i < (size_t)got; i++)
            if (chunk[i] != 0)
                return 0;
        off += (uint64_t)got;
    }
    r->buf_off = off;
    r->pos = r->end = 0;
    return 1;
}

/* Checks the segment header once it is complete.  Returns 1 when records
 * may be read, 0 when not (yet), -1 on I/O error. */
static int
sp_check_header(spool_reader *r)
{
    unsigned char hdr[SPOOL_SEG_HDR_SIZE];
    uint32_t pid;
    uint64_t us;
    ssize_t got;

    if (r->hdr == SP_HDR_OK)
        return 1;
    if (r->hdr == SP_HDR_BAD)
        return 0;
    do
        got = pread(r->fd, hdr, sizeof hdr, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return -1;
    if ((size_t)got == sizeof hdr
        && spool_segment_header_check(hdr, sizeof hdr, &pid, &us) == 0
        && pid == r->pid && us == r->created_us) {
        r->hdr = SP_HDR_OK;
        return 1;
    }
    if (!r->finished)
        return 0; /* being created, or never will be: ask again later */
    if ((size_t)got == sizeof hdr) {
        /* a finished segment whose header is damaged: its records cannot
         * be trusted to belong here */
        sp_report(r, 0, "bad segment header");
        r->hdr = SP_HDR_BAD;
        return sp_skip_to_eof(r) < 0 ? -1 : 0;
    }
    return 0; /* shorter than a header: it holds no records */
}

/* See spool.h. */
int
spool_reader_next(spool_reader *r, spool_event *ev, size_t *n,
                  uint64_t *rec_offset, uint64_t *next_offset)
{
    int h = sp_check_header(r), confirmed = 0;

    if (h <= 0)
        return h;
    for (;;) {
        size_t avail = r->end - r->pos, rec_len, k;
        const char *why = "corrupt record";
        spool_status st;
        ssize_t got;
        int z;

        if (r->resyncing) {
            k = avail > 1 ? spool_record_resync(r->buf + r->pos, avail)
                          : avail;
            if (k < avail) { /* a candidate: try it as a record */
                r->pos += k;
                r->resyncing = 0;
                r->probing = 1;
                continue;
            }
            if (avail > 1)
                r->pos = r->end - 1; /* all but the last byte ruled out */
            if ((got = sp_fill(r, 2)) < 0)
                return -1;
            if (got > 0)
                continue;
            if (r->finished) { /* nothing valid up to end of file */
                r->pos = r->end;
                r->resyncing = 0;
            }
            return 0;
        }

        if (avail > 0 && r->buf[r->pos] == 0 && !r->probing) {
            if (!r->finished) {
                /* not written yet: read it again later */
                r->end = r->pos;
                return 0;
            }
            z = sp_zero_tail(r);
            if (z != 0)
                return z < 0 ? -1 : 0; /* the records end here */
            /* zeros, then something else: corrupt (decoded below) */
        }

        st = spool_record_decode(r->buf + r->pos, avail, &rec_len, ev, n,
                                 &why);
        if (st == SPOOL_OK) {
            *rec_offset = r->buf_off + r->pos;
            r->pos += rec_len;
            *next_offset = r->buf_off + r->pos;
            r->probing = 0;
            return 1;
        }
        if (st == SPOOL_CORRUPT) {
            if (!r->probing && !confirmed) {
                /* read these bytes again before calling them corrupt: the
                 * buffer may hold a torn write the writer has since
                 * truncated away and replaced (spool_segment_append) */
                confirmed = 1;
                r->end = r->pos;
                if (sp_fill(r, SPOOL_REC_HDR_SIZE) < 0)
                    return -1;
                continue;
            }
            if (!r->probing) /* one report per damaged stretch */
                sp_report(r, r->buf_off + r->pos, why);
            confirmed = 0;
            r->probing = 0;
            r->resyncing = 1;
            continue;
        }
        /* SPOOL_INCOMPLETE: read more, if there is more */
        if ((got = sp_fill(r, rec_len ? rec_len : SPOOL_REC_HDR_SIZE)) < 0)
            return -1;
        if (got > 0)
            continue;
        if (!r->finished) {
            /* wait for the writer; forget the partial bytes, it may still
             * truncate them away and write something else there */
            r->end = r->pos;
            return 0;
        }
        if (avail > 0) {
            /* a bare magic prefix found while resyncing is part of the
             * damaged stretch already reported */
            if (!(r->probing && rec_len == 0))
                sp_report(r, r->buf_off + r->pos, "torn tail");
            r->pos = r->end;
            r->probing = 0;
        }
        return 0;
    }
}

/* See spool.h. */
uint64_t
spool_reader_offset(const spool_reader *r)
{
    return r->buf_off + r->pos;
}

/* See spool.h.  Also lets a damaged header of a finished segment be
 * reported. */
void
spool_reader_set_finished(spool_reader *r, int finished)
{
    r->finished = finished != 0;
}

/* See spool.h.  Costs one fstat(). */
int
spool_reader_at_eof(spool_reader *r)
{
    struct stat st;

    if (fstat(r->fd, &st) != 0)
        return 0;
    return spool_reader_offset(r) >= (uint64_t)st.st_size;
}

/* See spool.h.  Accepts NULL. */
void
spool_reader_close(spool_reader *r)
{
    if (r == NULL)
        return;
    close(r->fd);
    free(r->buf);
    free(r);
}
