/* drain.c -- see drain.h: streams per writer pid, merged by time. */
#include "aggregator/drain_int.h"
#include "aggregator/log.h"
#include "aggregator/migrate_v1.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* One writer pid's segments, read in order. */
typedef struct {
    const drain_name *seg;       /* its segments, in name order */
    size_t        nseg, at;      /* at: the segment being read   */
    uint32_t      pid;
    spool_reader *r;
    int           finished;      /* segment `at` is finished     */
    int           has;           /* a decoded record is pending  */
    int           idle;          /* no complete record for now   */
    int           touched;       /* position to write at commit  */
    uint64_t      rec_time, rec_off, start;
    size_t        n;
    spool_event   ev[SPOOL_MAX_EVENTS];
} drain_stream;

drain *
drain_new(const char *spool_dir, db *d, ingest *g, unsigned batch_events)
{
    if (strlen(spool_dir) >= PATH_MAX)
        return NULL;
    drain *dr = calloc(1, sizeof(*dr));
    if (dr == NULL)
        return NULL;
    strcpy(dr->dir, spool_dir);
    dr->d = d;
    dr->g = g;
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

/* The resume position of a stream's current segment. */
static uint64_t
drain_stream_pos(const drain_stream *s)
{
    return s->has ? s->rec_off : spool_reader_offset(s->r);
}

/* Opens segment s->at at its stored position.  Returns 1 opened, 0 the
 * segment is already consumed (or vanished; s->at moved on), -1 on a
 * database error. */
static int
drain_stream_open(drain *dr, drain_stream *s, drain_name *del, size_t *ndel)
{
    while (s->at < s->nseg) {
        const char *name = s->seg[s->at].name;
        uint64_t offset = 0;
        int pos_finished = 0;
        int have = db_pos_get(dr->d, name, &offset, &pos_finished);
        if (have < 0)
            return -1;
        char path[PATH_MAX];
        struct stat sb;
        if (drain_path(path, sizeof(path), dr->dir, name, "") != 0
            || stat(path, &sb) != 0) {
            s->at++;                       /* vanished meanwhile */
            continue;
        }
        if (have && pos_finished && offset >= (uint64_t)sb.st_size) {
            strcpy(del[(*ndel)++].name, name);   /* consumed, not unlinked */
            s->at++;
            continue;
        }
        /* decided before reading: if finished now, every byte is written */
        s->finished = spool_segment_is_finished(dr->dir, name);
        s->r = spool_reader_open(dr->dir, name, offset, drain_on_corrupt, dr);
        if (s->r == NULL) {
            if (errno != ENOENT)
                log_error("drain: cannot open segment %s at offset %llu: %s", name,
                          (unsigned long long)offset, strerror(errno));
            s->idle = 1;
            return 0;
        }
        spool_reader_set_finished(s->r, s->finished);
        s->start = offset;
        s->touched = 0;
        return 1;
    }
    s->idle = 1;
    return 0;
}

/* Decodes the stream's next record, moving to the pid's next segment
 * when the current one is finished and consumed (its position is then
 * written and it is queued for deletion).  Returns 0 or -1. */
static int
drain_stream_next(drain *dr, drain_stream *s, drain_stats *st, drain_name *del,
                  size_t *ndel)
{
    s->has = 0;
    while (!s->idle) {
        if (s->r == NULL) {
            int o = drain_stream_open(dr, s, del, ndel);
            if (o <= 0)
                return o;
        }
        uint64_t next_off;
        int rc = spool_reader_next(s->r, s->ev, &s->n, &s->rec_off, &next_off);
        if (rc == 1) {
            st->records++;
            s->has = 1;
            s->rec_time = s->ev[0].time_ms;
            return 0;
        }
        const char *name = s->seg[s->at].name;
        if (rc < 0)
            log_error("drain: read error in segment %s: %s", name, strerror(errno));
        uint64_t end = spool_reader_offset(s->r);
        int done = s->finished && rc == 0 && spool_reader_at_eof(s->r);
        if (!done) {
            s->idle = 1;              /* live segment: more later */
            return 0;
        }
        if (db_pos_set(dr->d, name, end, 1) != 0)
            return -1;
        strcpy(del[(*ndel)++].name, name);
        spool_reader_close(s->r);
        s->r = NULL;
        s->at++;
    }
    return 0;
}

/* Writes the positions of the streams that moved. */
static int
drain_positions(drain *dr, drain_stream *ss, size_t ns)
{
    for (size_t i = 0; i < ns; i++) {
        drain_stream *s = &ss[i];
        if (s->r == NULL)
            continue;
        uint64_t pos = drain_stream_pos(s);
        if (pos != s->start
            && db_pos_set(dr->d, s->seg[s->at].name, pos, 0) != 0)
            return -1;
        s->start = pos;
        s->touched = 0;
    }
    return 0;
}

static int
drain_commit(drain *dr, drain_stream *ss, size_t ns, drain_stats *st,
             uint64_t batch)
{
    if (drain_positions(dr, ss, ns) != 0 || ingest_flush(dr->g) != 0
        || db_commit(dr->d) != 0)
        return -1;
    if (batch > 0) {
        st->commits++;
        log_debug("drain: committed %llu events; pass so far %llu events,"
                  " %llu corrupt", (unsigned long long)batch,
                  (unsigned long long)st->events, (unsigned long long)st->corrupt);
    }
    return 0;
}

/* Groups the sorted names into streams by pid, oldest first, at most
 * DRAIN_MAX_STREAMS. */
static size_t
drain_streams(const drain_name *v, size_t n, drain_stream *ss)
{
    size_t ns = 0;
    /* names sort by creation time, so a pid's first segment in v is its
     * oldest; the stream order is the order of first appearance */
    for (size_t i = 0; i < n; i++) {
        uint32_t pid;
        if (spool_segment_name_parse(v[i].name, NULL, &pid) != 0)
            continue;
        size_t k = 0;
        while (k < ns && ss[k].pid != pid)
            k++;
        if (k == ns) {
            if (ns == DRAIN_MAX_STREAMS)
                continue;
            memset(&ss[ns], 0, sizeof(ss[ns]));
            ss[ns].pid = pid;
            ns++;
        }
        ss[k].nseg++;
    }
    return ns;
}

static int
drain_name_cmp_pid(const void *a, const void *b)
{
    uint32_t pa = 0, pb = 0;
    spool_segment_name_parse(((const drain_name *)a)->name, NULL, &pa);
    spool_segment_name_parse(((const drain_name *)b)->name, NULL, &pb);
    if (pa != pb)
        return pa < pb ? -1 : 1;
    return strcmp(((const drain_name *)a)->name, ((const drain_name *)b)->name);
}

int
drain_pass(drain *dr, drain_stats *st, const atomic_int *stop)
{
    memset(st, 0, sizeof(*st));
    if (migrate_v1_run(dr->d, dr->g) != 0)
        return -1;

    drain_name *v = NULL, *del = NULL, *bypid = NULL;
    drain_stream *ss = NULL;
    size_t n = 0, ndel = 0, ns = 0;
    int rc = 0;
    if (drain_list(dr->dir, &v, &n) != 0)
        return -1;
    if (drain_forget_gone(dr, v, n) != 0) {
        free(v);
        return -1;
    }
    del = calloc(n ? n : 1, sizeof(*del));
    bypid = malloc((n ? n : 1) * sizeof(*bypid));
    ss = malloc(DRAIN_MAX_STREAMS * sizeof(*ss));
    if (del == NULL || bypid == NULL || ss == NULL) {
        rc = -1;
        goto out;
    }
    ns = drain_streams(v, n, ss);
    /* each stream's segments: a contiguous run of bypid */
    if (n > 0) {            /* v is NULL when n == 0 (UBSan) */
        memcpy(bypid, v, n * sizeof(*bypid));
        qsort(bypid, n, sizeof(*bypid), drain_name_cmp_pid);
    }
    for (size_t k = 0; k < ns; k++) {
        for (size_t i = 0; i < n; i++) {
            uint32_t pid;
            if (spool_segment_name_parse(bypid[i].name, NULL, &pid) == 0
                && pid == ss[k].pid) {
                ss[k].seg = &bypid[i];
                break;
            }
        }
    }

    if (db_begin(dr->d) != 0 || ingest_ready(dr->g) != 0) {
        rc = -1;
        goto out;
    }
    dr->cur = st;
    for (size_t k = 0; k < ns && rc == 0; k++)
        rc = drain_stream_next(dr, &ss[k], st, del, &ndel);

    uint64_t batch = 0;
    while (rc == 0) {
        drain_stream *best = NULL;
        for (size_t k = 0; k < ns; k++) {
            drain_stream *s = &ss[k];
            if (!s->has)
                continue;
            if (best == NULL || s->rec_time < best->rec_time
                || (s->rec_time == best->rec_time
                    && strcmp(s->seg[s->at].name, best->seg[best->at].name) < 0))
                best = s;
        }
        if (best == NULL)
            break;
        for (size_t i = 0; i < best->n; i++) {
            const char *why = "invalid";
            int s = ingest_event(dr->g, &best->ev[i], &why);
            if (s < 0) {
                rc = -1;
                break;
            }
            if (s == 0) {
                st->invalid++;
                if (strcmp(why, "bot") != 0)
                    log_warn("drain: event %zu of the record in segment %s at offset %llu"
                             " %s; skipped", i, best->seg[best->at].name,
                             (unsigned long long)best->rec_off, why);
            }
            st->events += (uint64_t)s;
            batch += (uint64_t)s;
        }
        if (rc != 0)
            break;
        best->touched = 1;
        if ((rc = drain_stream_next(dr, best, st, del, &ndel)) != 0)
            break;
        if (batch >= dr->batch_max) {
            if ((rc = drain_commit(dr, ss, ns, st, batch)) != 0)
                break;
            batch = 0;
            if (stop && atomic_load(stop)) {
                rc = 1;
                break;
            }
            if (db_begin(dr->d) != 0 || ingest_ready(dr->g) != 0)
                rc = -1;
        }
    }
    dr->cur = NULL;
    if (rc == 0)
        rc = drain_commit(dr, ss, ns, st, batch);
    if (rc < 0) {
        db_rollback(dr->d);
        ingest_reset(dr->g);
        goto out;
    }
    /* only after the commit: the rows say "consumed" durably now.  (On a
     * stop between transactions the queued ones are committed too.) */
    for (size_t i = 0; i < ndel; i++)
        drain_unlink(dr, del[i].name, st);
    if (ndel > 0)
        drain_orphan_markers(dr);
    for (size_t k = 0; k < ns; k++) {
        drain_stream *s = &ss[k];
        if (s->r == NULL)
            continue;
        struct stat sb;
        char path[PATH_MAX];
        uint64_t pos = drain_stream_pos(s);
        if (drain_path(path, sizeof(path), dr->dir, s->seg[s->at].name, "") == 0
            && stat(path, &sb) == 0 && (uint64_t)sb.st_size > pos) {
            st->segments_pending++;
            st->bytes_pending += (uint64_t)sb.st_size - pos;
        }
        for (size_t j = s->at + 1; j < s->nseg; j++) {
            if (drain_path(path, sizeof(path), dr->dir, s->seg[j].name, "") == 0
                && stat(path, &sb) == 0) {
                st->segments_pending++;
                st->bytes_pending += (uint64_t)sb.st_size;
            }
        }
    }
    st->hwm_ms = ingest_hwm(dr->g);
    if (st->events > 0 || st->corrupt > 0 || ndel > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t lag = st->hwm_ms > 0
            ? (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - st->hwm_ms : 0;
        log_info("drain: pass stored %llu events from %llu records (%llu corrupt,"
                 " %llu skipped) in %llu transactions; behind: %llu segments,"
                 " %llu bytes; newest event %lld s old",
                 (unsigned long long)st->events, (unsigned long long)st->records,
                 (unsigned long long)st->corrupt, (unsigned long long)st->invalid,
                 (unsigned long long)st->commits,
                 (unsigned long long)st->segments_pending,
                 (unsigned long long)st->bytes_pending, (long long)(lag / 1000));
    }
    rc = rc > 0 ? 0 : rc;
out:
    for (size_t k = 0; k < ns; k++)
        spool_reader_close(ss[k].r);
    free(ss);
    free(v);
    free(del);
    free(bypid);
    return rc < 0 ? -1 : 0;
}
