/* drain.c -- see drain.h. */
#include "aggregator/drain.h"
#include "aggregator/log.h"
#include "aggregator/norm.h"
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct drain {
    char        dir[PATH_MAX];
    db         *d;
    unsigned    batch_max;
    uint64_t    corrupt_total;
    drain_stats *cur;          /* stats of the running pass */
    spool_event ev[SPOOL_MAX_EVENTS];
};

typedef struct {
    char name[SPOOL_NAME_MAX];
} drain_name;

drain *
drain_new(const char *spool_dir, db *d, unsigned batch_events)
{
    if (strlen(spool_dir) >= PATH_MAX)
        return NULL;
    drain *dr = calloc(1, sizeof(*dr));
    if (dr == NULL)
        return NULL;
    strcpy(dr->dir, spool_dir);
    dr->d = d;
    dr->batch_max = batch_events ? batch_events : 50000;
    return dr;
}

void
drain_free(drain *dr)
{
    free(dr);
}

uint64_t
drain_corrupt_total(const drain *dr)
{
    return dr->corrupt_total;
}

static void
drain_on_corrupt(void *ctx, const char *segment, uint64_t offset,
                 const char *why)
{
    drain *dr = ctx;
    dr->corrupt_total++;
    if (dr->cur)
        dr->cur->corrupt++;
    log_warn("drain: corrupt record in segment %s at offset %llu: %s; skipped",
             segment, (unsigned long long)offset, why ? why : "invalid");
}

/* Builds "<dir>/<name><suffix>" into out.  Returns 0, or -1 if it does
 * not fit. */
static int
drain_path(char *out, size_t cap, const char *dir, const char *name,
           const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int
drain_cmp(const void *a, const void *b)
{
    return strcmp(((const drain_name *)a)->name, ((const drain_name *)b)->name);
}

/* Lists the segment names of the spool, sorted.  Returns 0 with a
 * malloc'd array, or -1. */
static int
drain_list(const char *dir, drain_name **out, size_t *n)
{
    DIR *dp = opendir(dir);
    if (dp == NULL) {
        log_error("drain: cannot open spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    drain_name *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!spool_segment_name_valid(de->d_name)
            || strlen(de->d_name) >= SPOOL_NAME_MAX)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            drain_name *p = realloc(v, cap * sizeof(*p));
            if (p == NULL) {
                free(v);
                closedir(dp);
                return -1;
            }
            v = p;
        }
        strcpy(v[cnt++].name, de->d_name);
    }
    closedir(dp);
    qsort(v, cnt, sizeof(*v), drain_cmp);
    *out = v;
    *n = cnt;
    return 0;
}

static int
drain_listed(const drain_name *v, size_t n, const char *name)
{
    drain_name key;
    if (strlen(name) >= sizeof(key.name))
        return 0;
    strcpy(key.name, name);
    return bsearch(&key, v, n, sizeof(*v), drain_cmp) != NULL;
}

typedef struct {
    drain            *dr;
    const drain_name *v;
    size_t            n;
    drain_name       *gone;
    size_t            ngone, capgone;
} drain_gone_ctx;

static int
drain_collect_gone(void *ctx, const char *segment, uint64_t offset, int finished)
{
    (void)offset;
    (void)finished;
    drain_gone_ctx *g = ctx;
    if (drain_listed(g->v, g->n, segment) || strlen(segment) >= SPOOL_NAME_MAX)
        return 0;
    char path[PATH_MAX];
    struct stat sb;
    if (drain_path(path, sizeof(path), g->dr->dir, segment, "") != 0
        || stat(path, &sb) == 0)
        return 0;                      /* appeared after the listing */
    if (g->ngone == g->capgone) {
        g->capgone = g->capgone ? g->capgone * 2 : 16;
        drain_name *p = realloc(g->gone, g->capgone * sizeof(*p));
        if (p == NULL)
            return -1;
        g->gone = p;
    }
    strcpy(g->gone[g->ngone++].name, segment);
    return 0;
}

/* Deletes the spool_pos rows of segments whose files are gone. */
static int
drain_forget_gone(drain *dr, const drain_name *v, size_t n)
{
    drain_gone_ctx g = { .dr = dr, .v = v, .n = n };
    int rc = db_pos_each(dr->d, drain_collect_gone, &g);
    if (rc == 0 && g.ngone > 0) {
        if (db_begin(dr->d) != 0) {
            rc = -1;
        } else {
            for (size_t i = 0; i < g.ngone && rc == 0; i++)
                rc = db_pos_delete(dr->d, g.gone[i].name);
            if (rc == 0)
                rc = db_commit(dr->d);
            else
                db_rollback(dr->d);
        }
        if (rc == 0)
            log_debug("drain: forgot %zu deleted segments", g.ngone);
    }
    free(g.gone);
    return rc == 0 ? 0 : -1;
}

/* Converts one spool event and stores it.  Returns 1 stored, 0 skipped
 * (missing required field), -1 database error. */
static int
drain_store(drain *dr, const spool_event *e)
{
    const spool_str *f = e->field;
    if (f[SPOOL_F_SITE].ptr == NULL || f[SPOOL_F_NAME].ptr == NULL
        || f[SPOOL_F_URL].ptr == NULL)
        return 0;
    norm_url u;
    norm_url_split(f[SPOOL_F_URL].ptr, f[SPOOL_F_URL].len, &u);
    db_event ev = {
        .ts_ms = (int64_t)e->time_ms,
        .visitor_id = e->visitor_id,
        .site = f[SPOOL_F_SITE].ptr,         .site_len = f[SPOOL_F_SITE].len,
        .name = f[SPOOL_F_NAME].ptr,         .name_len = f[SPOOL_F_NAME].len,
        .pathname = u.path,                  .pathname_len = u.path_len,
        .hostname = u.host,                  .hostname_len = u.host_len,
        .referrer = f[SPOOL_F_REFERRER].ptr, .referrer_len = f[SPOOL_F_REFERRER].len,
        .ua = f[SPOOL_F_UA].ptr,             .ua_len = f[SPOOL_F_UA].len,
        .props = f[SPOOL_F_PROPS].ptr,       .props_len = f[SPOOL_F_PROPS].len,
        .revenue = f[SPOOL_F_REVENUE].ptr,   .revenue_len = f[SPOOL_F_REVENUE].len,
    };
    return db_event_insert(dr->d, &ev) == 0 ? 1 : -1;
}

static void
drain_log_commit(const drain_stats *st, uint64_t batch, const char *seg)
{
    log_info("drain: committed %llu events (segment %s); pass so far %llu events, %llu corrupt",
             (unsigned long long)batch, seg, (unsigned long long)st->events,
             (unsigned long long)st->corrupt);
}

/* Unlinks a consumed finished segment and then its marker. */
static void
drain_unlink(drain *dr, const char *name, drain_stats *st)
{
    char path[PATH_MAX];
    if (drain_path(path, sizeof(path), dr->dir, name, "") != 0)
        return;
    if (unlink(path) != 0 && errno != ENOENT) {
        log_warn("drain: cannot delete consumed segment %s: %s", name, strerror(errno));
        return;
    }
    if (drain_path(path, sizeof(path), dr->dir, name, ".done") == 0
        && unlink(path) != 0 && errno != ENOENT)
        log_warn("drain: cannot delete marker %s.done: %s", name, strerror(errno));
    st->segments_deleted++;
    log_info("drain: deleted consumed segment %s", name);
}

/* Reads one segment into the open transaction.  Returns 1 if it is
 * finished and fully consumed, 0 otherwise, -1 on a database error.  May
 * commit and reopen the transaction every batch_max events
 * (*batch counts the events of the open transaction). */
static int
drain_segment(drain *dr, const char *name, drain_stats *st, uint64_t *batch,
              const atomic_int *stop)
{
    uint64_t offset = 0;
    int pos_finished = 0;
    int have = db_pos_get(dr->d, name, &offset, &pos_finished);
    if (have < 0)
        return -1;

    char path[PATH_MAX];
    struct stat sb;
    if (drain_path(path, sizeof(path), dr->dir, name, "") != 0
        || stat(path, &sb) != 0)
        return 0;                               /* vanished meanwhile */
    if (have && pos_finished && offset >= (uint64_t)sb.st_size)
        return 1;               /* consumed before a crash, not unlinked */

    /* decided before reading: if finished now, every byte is written */
    int finished = spool_segment_is_finished(dr->dir, name);
    spool_reader *r = spool_reader_open(dr->dir, name, offset,
                                        drain_on_corrupt, dr);
    if (r == NULL) {
        if (errno != ENOENT)
            log_error("drain: cannot open segment %s at offset %llu: %s", name,
                      (unsigned long long)offset, strerror(errno));
        return 0;
    }
    spool_reader_set_finished(r, finished);

    uint64_t start = offset;
    size_t n;
    uint64_t rec_off, next_off;
    int rc;
    while ((rc = spool_reader_next(r, dr->ev, &n, &rec_off, &next_off)) == 1) {
        st->records++;
        for (size_t i = 0; i < n; i++) {
            int s = drain_store(dr, &dr->ev[i]);
            if (s < 0) {
                spool_reader_close(r);
                return -1;
            }
            if (s == 0) {
                st->invalid++;
                log_warn("drain: event %zu of the record in segment %s at offset %llu"
                         " lacks site, name or url; skipped", i, name,
                         (unsigned long long)rec_off);
            }
            st->events += (uint64_t)s;
            *batch += (uint64_t)s;
        }
        if (*batch >= dr->batch_max) {
            if (db_pos_set(dr->d, name, spool_reader_offset(r), 0) != 0
                || db_commit(dr->d) != 0) {
                spool_reader_close(r);
                return -1;
            }
            st->commits++;
            drain_log_commit(st, *batch, name);
            *batch = 0;
            start = spool_reader_offset(r);
            if ((stop && atomic_load(stop)) || db_begin(dr->d) != 0) {
                spool_reader_close(r);
                return (stop && atomic_load(stop)) ? -2 : -1;
            }
        }
    }
    if (rc < 0)
        log_error("drain: read error in segment %s: %s", name, strerror(errno));

    uint64_t end = spool_reader_offset(r);
    int done = finished && rc == 0 && spool_reader_at_eof(r);
    spool_reader_close(r);
    if (end != start || (done && !pos_finished)) {
        if (db_pos_set(dr->d, name, end, done) != 0)
            return -1;
    }
    if (!done && (uint64_t)sb.st_size > end) {
        st->segments_pending++;
        st->bytes_pending += (uint64_t)sb.st_size - end;
    }
    return done;
}

/* Removes ".done" markers whose segment no longer exists. */
static void
drain_orphan_markers(drain *dr)
{
    DIR *dp = opendir(dr->dir);
    if (dp == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 5 || l >= SPOOL_NAME_MAX + 5
            || strcmp(de->d_name + l - 5, ".done") != 0)
            continue;
        char seg[SPOOL_NAME_MAX + 8], path[PATH_MAX];
        memcpy(seg, de->d_name, l - 5);
        seg[l - 5] = '\0';
        if (!spool_segment_name_valid(seg))
            continue;
        struct stat sb;
        if (drain_path(path, sizeof(path), dr->dir, seg, "") != 0
            || stat(path, &sb) == 0 || errno != ENOENT)
            continue;
        if (drain_path(path, sizeof(path), dr->dir, de->d_name, "") == 0)
            unlink(path);
    }
    closedir(dp);
}

int
drain_pass(drain *dr, drain_stats *st, const atomic_int *stop)
{
    memset(st, 0, sizeof(*st));
    drain_name *v = NULL, *del = NULL;
    size_t n = 0, ndel = 0;
    int rc = 0;

    if (drain_list(dr->dir, &v, &n) != 0)
        return -1;
    if (drain_forget_gone(dr, v, n) != 0) {
        free(v);
        return -1;
    }
    del = calloc(n ? n : 1, sizeof(*del));
    if (del == NULL || db_begin(dr->d) != 0) {
        free(v);
        free(del);
        return -1;
    }
    dr->cur = st;
    uint64_t batch = 0;
    const char *last = "-";
    for (size_t i = 0; i < n; i++) {
        if (stop && atomic_load(stop))
            break;
        int s = drain_segment(dr, v[i].name, st, &batch, stop);
        if (s == -2) {                 /* stopped between transactions */
            rc = 1;
            break;
        }
        if (s < 0) {
            rc = -1;
            break;
        }
        if (s == 1)
            strcpy(del[ndel++].name, v[i].name);
        last = v[i].name;
    }
    dr->cur = NULL;
    if (rc < 0) {
        db_rollback(dr->d);
        free(v);
        free(del);
        return -1;
    }
    if (rc == 0) {
        if (db_commit(dr->d) != 0) {
            free(v);
            free(del);
            return -1;
        }
        if (batch > 0) {
            st->commits++;
            drain_log_commit(st, batch, last);
        }
        /* only after the commit: the rows say "consumed" durably now */
        for (size_t i = 0; i < ndel; i++)
            drain_unlink(dr, del[i].name, st);
        if (ndel > 0)
            drain_orphan_markers(dr);
    }
    if (st->events > 0 || st->corrupt > 0 || ndel > 0)
        log_info("drain: pass stored %llu events from %llu records (%llu corrupt, %llu invalid);"
                 " pending %llu segments, %llu bytes",
                 (unsigned long long)st->events, (unsigned long long)st->records,
                 (unsigned long long)st->corrupt, (unsigned long long)st->invalid,
                 (unsigned long long)st->segments_pending,
                 (unsigned long long)st->bytes_pending);
    free(v);
    free(del);
    return 0;
}
