/* ship_plan.c -- reading the spool into the shipper's plan; see
 * ship_int.h. */
#include "aggregator/log.h"
#include "aggregator/ship_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
ship_path(const shipper *sh, char *out, const char *name, const char *suffix)
{
    int n = snprintf(out, PATH_MAX, "%s/%s%s", sh->cf.spool, name, suffix);
    return (n < 0 || n >= PATH_MAX) ? -1 : 0;
}

static void
ship_on_corrupt(void *ctx, const char *segment, uint64_t offset, const char *why)
{
    shipper *sh = ctx;
    sh->corrupt++;
    log_warn("ship: corrupt record in segment %s at offset %llu: %s; skipped",
             segment, (unsigned long long)offset, why ? why : "invalid");
}

/* Appends the record [off, off+len) of the open segment fd to the plan. */
static int
ship_take(shipper *sh, int fd, uint64_t off, size_t len, size_t rng)
{
    if (sh->nrec == sh->caprec) {
        size_t cap = sh->caprec ? sh->caprec * 2 : 512;
        ship_rec *p = realloc(sh->recs, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        sh->recs = p;
        sh->caprec = cap;
    }
    if (sh->buflen + len > sh->bufcap) {
        size_t cap = sh->bufcap ? sh->bufcap : 1 << 20;
        while (cap < sh->buflen + len)
            cap *= 2;
        unsigned char *p = realloc(sh->buf, cap);
        if (p == NULL)
            return -1;
        sh->buf = p;
        sh->bufcap = cap;
    }
    ssize_t got = pread(fd, sh->buf + sh->buflen, len, (off_t)off);
    if (got != (ssize_t)len) {
        if (got >= 0)
            errno = EIO;
        return -1;
    }
    sh->recs[sh->nrec++] = (ship_rec){ sh->buflen, len, off, rng, sh->nidx++ };
    sh->buflen += len;
    return 0;
}

/* Reads records of segment r->name from r->from into the plan (as range
 * index rng): exactly `want` records when want > 0 (replay), else as many
 * as the batch limits allow.  Fills r->count, r->end, r->done (only when
 * want == 0).  Returns 0, 1 if the segment does not exist, -1 on error. */
static int
ship_read(shipper *sh, ship_range *r, size_t rng, uint32_t want)
{
    /* decided before reading: if finished now, every byte is written */
    int finished = want ? 0 : spool_segment_is_finished(sh->cf.spool, r->name);
    char path[PATH_MAX];
    if (ship_path(sh, path, r->name, "") != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    spool_reader *rd = spool_reader_open(sh->cf.spool, r->name, r->from,
                                         ship_on_corrupt, sh);
    if (rd == NULL) {
        int e = errno;
        close(fd);
        errno = e;
        return e == ENOENT ? 1 : -1;
    }
    spool_reader_set_finished(rd, finished);
    r->count = 0;
    r->end = r->from;
    size_t n;
    uint64_t off, next;
    int rc = 0, full = 0;
    for (;;) {
        if (want ? r->count == want
                 : (sh->nrec >= sh->cf.batch || sh->buflen >= sh->cf.batch_bytes)) {
            full = 1;
            break;
        }
        rc = spool_reader_next(rd, sh->ev, &n, &off, &next);
        if (rc != 1)
            break;
        if (ship_take(sh, fd, off, (size_t)(next - off), rng) != 0) {
            rc = -1;
            break;
        }
        if (sh->oldest_ms == 0 && n > 0)
            sh->oldest_ms = sh->ev[0].time_ms;
        r->count++;
        r->end = next;
    }
    if (rc == 0 && !full) {
        r->end = spool_reader_offset(rd);    /* past a skipped corrupt tail */
        r->done = finished && spool_reader_at_eof(rd);
    }
    spool_reader_close(rd);
    close(fd);
    if (rc < 0) {
        log_error("ship: cannot read segment %s: %s", r->name, strerror(errno));
        return -1;
    }
    return 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment names of the spool, sorted (malloc'd, free each + array). */
static int
ship_list(shipper *sh, char ***out, size_t *n)
{
    DIR *dp = opendir(sh->cf.spool);
    if (dp == NULL) {
        log_error("ship: cannot open spool directory %s: %s", sh->cf.spool,
                  strerror(errno));
        return -1;
    }
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dp)) != NULL) {
        if (!spool_segment_name_valid(de->d_name)
            || strlen(de->d_name) >= SPOOL_NAME_MAX)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            char **p = realloc(v, cap * sizeof(*p));
            if (p == NULL) {
                rc = -1;
                break;
            }
            v = p;
        }
        if ((v[cnt] = strdup(de->d_name)) == NULL) {
            rc = -1;
            break;
        }
        cnt++;
    }
    closedir(dp);
    if (rc != 0) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return -1;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), name_cmp);
    *out = v;
    *n = cnt;
    return 0;
}

static int
ship_listed(char **v, size_t n, const char *name)
{
    return n > 0 && bsearch(&name, v, n, sizeof(*v), name_cmp) != NULL;
}

/* Drops rows of segments whose files are gone (drain's rule: forget the
 * position only once the file no longer exists). */
static void
ship_forget_gone(shipper *sh, char **v, size_t n)
{
    for (size_t i = 0; i < sh->st.npos;) {
        const char *name = sh->st.pos[i].name;
        char path[PATH_MAX];
        struct stat sb;
        if (!ship_listed(v, n, name) && ship_path(sh, path, name, "") == 0
            && stat(path, &sb) != 0 && errno == ENOENT) {
            log_debug("ship: forgot deleted segment %s", name);
            ship_state_forget(&sh->st, name);
            sh->dirty = 1;
            continue;
        }
        i++;
    }
}

int
ship_plan_build(shipper *sh)
{
    char **v = NULL;
    size_t n = 0;
    if (ship_list(sh, &v, &n) != 0)
        return -1;
    ship_forget_gone(sh, v, n);
    sh->st.nrng = 0;
    sh->nrec = 0;
    sh->nidx = 0;
    sh->buflen = 0;
    sh->oldest_ms = 0;
    sh->pending_bytes = sh->pending_segments = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ship_pos *p = ship_state_pos(&sh->st, v[i], 0);
        char path[PATH_MAX];
        struct stat sb;
        if (ship_path(sh, path, v[i], "") != 0 || stat(path, &sb) != 0)
            continue;                              /* vanished meanwhile */
        uint64_t from = p ? p->off : 0;
        if ((uint64_t)sb.st_size > from) {
            sh->pending_bytes += (uint64_t)sb.st_size - from;
            sh->pending_segments++;
        }
        int full = sh->nrec >= sh->cf.batch || sh->buflen >= sh->cf.batch_bytes;
        if (full)
            continue;                          /* only count the backlog */
        ship_range r = { .from = from };
        strcpy(r.name, v[i]);
        if (p && p->finished && from >= (uint64_t)sb.st_size) {
            r.end = from;                /* shipped before a crash, not */
            r.done = 1;                  /* deleted yet                 */
        } else {
            int s = ship_read(sh, &r, sh->st.nrng, 0);
            if (s == 1)
                continue;
            if (s < 0) {
                rc = -1;
                break;
            }
        }
        if ((r.count > 0 || r.end != r.from || r.done)
            && ship_state_add_range(&sh->st, &r) != 0)
            rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    if (rc != 0) {
        sh->st.nrng = 0;
        sh->nrec = 0;
        sh->nidx = 0;
        sh->buflen = 0;
    }
    return rc;
}

void
ship_pending(shipper *sh)
{
    char **v = NULL;
    size_t n = 0;
    if (ship_list(sh, &v, &n) != 0)
        return;
    sh->pending_bytes = sh->pending_segments = 0;
    for (size_t i = 0; i < n; i++) {
        const ship_pos *p = ship_state_pos(&sh->st, v[i], 0);
        char path[PATH_MAX];
        struct stat sb;
        if (ship_path(sh, path, v[i], "") == 0 && stat(path, &sb) == 0
            && (uint64_t)sb.st_size > (p ? p->off : 0)) {
            sh->pending_bytes += (uint64_t)sb.st_size - (p ? p->off : 0);
            sh->pending_segments++;
        }
        free(v[i]);
    }
    free(v);
}

int
ship_plan_load(shipper *sh)
{
    sh->nrec = 0;
    sh->nidx = 0;
    sh->buflen = 0;
    for (size_t i = 0; i < sh->st.nrng; i++) {
        ship_range r = sh->st.rng[i];
        uint64_t first = sh->nidx;
        if (r.count == 0)
            continue;
        int s = ship_read(sh, &r, i, r.count);
        if (s < 0) {
            sh->nrec = 0;
            sh->buflen = 0;
            return -1;
        }
        if (s == 1 || r.count != sh->st.rng[i].count)
            log_error("ship: pending batch: segment %s holds %u of the %u records"
                      " planned from offset %llu (spool files removed or"
                      " rewritten?); sending what is there",
                      r.name, s == 1 ? 0u : (unsigned)r.count,
                      (unsigned)sh->st.rng[i].count, (unsigned long long)r.from);
        sh->nidx = first + sh->st.rng[i].count;
    }
    sh->plan_loaded = 1;
    return 0;
}
