/*
 * tally_seg.c -- one writer's current spool segment (see tally_seg.h).
 */

#include "ngx_module/tally_seg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>


uint64_t
tally_seg_now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec;
}


static void
tally_seg_fail(tally_seg *s, const char *what, int err)
{
    s->what = what;
    s->err = err;
    memcpy(s->err_name, s->name, sizeof(s->err_name));
}


void
tally_seg_init(tally_seg *s, const char *dir, uint32_t pid,
               uint64_t max_size, uint64_t max_age_us, int sync_on_close,
               uint64_t prealloc)
{
    memset(s, 0, sizeof(*s));
    s->dir = dir;
    s->pid = pid;
    s->max_size = max_size;
    s->max_age_us = max_age_us;
    s->sync_on_close = sync_on_close;
    s->prealloc = prealloc;
    s->fd = -1;
}


int
tally_seg_due(const tally_seg *s, uint64_t now_us)
{
    if (s->fd == -1 || s->size <= SPOOL_SEG_HDR_SIZE) {
        return 0;
    }
    if (s->size >= s->max_size) {
        return 1;
    }
    return s->max_age_us != 0 && now_us >= s->created_us
           && now_us - s->created_us >= s->max_age_us;
}


int
tally_seg_open(tally_seg *s)
{
    int       fd;
    uint64_t  us;

    us = tally_seg_now_us();
    if (us <= s->last_created_us) {
        us = s->last_created_us + 1;
    }

    fd = spool_segment_create(s->dir, s->pid, us, 1, s->name);
    if (fd == -1) {
        s->name[0] = '\0';
        tally_seg_fail(s, "create", errno);
        return -1;
    }

    /* records are written in place (pwrite) over the preallocated zeros */
    if (s->prealloc) {
        int  fl = fcntl(fd, F_GETFL);

        if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_APPEND) == -1) {
            s->prealloc = 0;
        }
    }

    s->fd = fd;
    s->size = SPOOL_SEG_HDR_SIZE;
    s->alloc = SPOOL_SEG_HDR_SIZE;
    s->created_us = us;
    s->last_created_us = us;
    s->opened++;
    return 0;
}


int
tally_seg_close(tally_seg *s)
{
    int  rc = 0;

    if (s->fd == -1) {
        return 0;
    }

    /* a zero tail left behind is harmless to readers (UNWRITTEN TAIL) */
    if (s->alloc > s->size && ftruncate(s->fd, (off_t) s->size) != 0) {
        tally_seg_fail(s, "ftruncate", errno);
        rc = -1;
    }

    if (s->sync_on_close && fdatasync(s->fd) != 0) {
        tally_seg_fail(s, "fdatasync", errno);
        rc = -1;
    }

    if (close(s->fd) != 0) {
        tally_seg_fail(s, "close", errno);
        rc = -1;
    }
    s->fd = -1;

    if (spool_segment_finish(s->dir, s->name, 1) != 0) {
        tally_seg_fail(s, "finish", errno);
        rc = -1;
    }

    return rc;
}


int
tally_seg_ready(tally_seg *s, uint64_t now_us)
{
    if (tally_seg_due(s, now_us)) {
        (void) tally_seg_close(s);
    }

    if (s->fd == -1) {
        return tally_seg_open(s);
    }

    return 0;
}


/* makes sure zeros are preallocated for len more bytes of records, best
 * effort: what the disk refuses is simply appended later */
static void
tally_seg_preallocate(tally_seg *s, size_t len)
{
    uint64_t     to, max;
    struct stat  st;

    if (s->size + len <= s->alloc) {
        return;
    }

    to = s->size + len + s->prealloc;
    max = s->max_size > s->size + len ? s->max_size : s->size + len;
    if (to > max) {
        to = max;
    }

    if (spool_segment_preallocate(s->fd, s->alloc, to) == 0) {
        s->alloc = to;

    } else if (fstat(s->fd, &st) == 0 && (uint64_t) st.st_size > s->alloc) {
        s->alloc = (uint64_t) st.st_size;    /* what made it */
    }
}


int
tally_seg_append(tally_seg *s, const void *buf, size_t len)
{
    int  rc, truncated_ok, saved, sync_on_close;

    if (s->fd == -1) {
        tally_seg_fail(s, "write", EBADF);
        return -1;
    }

    truncated_ok = 1;

    if (s->prealloc) {
        tally_seg_preallocate(s, len);
        rc = spool_segment_write_at(s->fd, s->size, buf, len, &truncated_ok);
        if (rc != 0) {
            s->alloc = s->size;              /* truncated back to it */
        }

    } else {
        rc = spool_segment_append(s->fd, buf, len, &truncated_ok);
    }

    if (rc != 0) {
        saved = errno;
        if (!truncated_ok) {
            sync_on_close = s->sync_on_close;
            s->sync_on_close = 0;
            (void) tally_seg_close(s);
            s->sync_on_close = sync_on_close;
            tally_seg_fail(s, "write", saved);
            return -2;
        }
        tally_seg_fail(s, "write", saved);
        return -1;
    }

    s->size += len;
    if (s->alloc < s->size) {
        s->alloc = s->size;
    }
    return 0;
}


int
tally_seg_sync(tally_seg *s)
{
    int  saved, sync_on_close;

    if (s->fd == -1) {
        return 0;
    }

    if (fdatasync(s->fd) == 0) {
        return 0;
    }

    saved = errno;
    sync_on_close = s->sync_on_close;
    s->sync_on_close = 0;
    (void) tally_seg_close(s);
    s->sync_on_close = sync_on_close;
    tally_seg_fail(s, "fdatasync", saved);
    return -1;
}


int
tally_seg_sync_fd(int fd)
{
    int  err = 0;

    if (fdatasync(fd) != 0) {
        err = errno;
    }
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    return err;
}
