/* rdrain.c -- see rdrain.h: the pass, applying entries, committing.
 * Window and positions: rdrain_win.c; Redis bookkeeping: rdrain_maint.c. */
#include "aggregator/rdrain_int.h"
#include "aggregator/db_streams.h"
#include "aggregator/log.h"
#include "aggregator/migrate_v1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RD_TIMEOUT_MS 5000

int64_t
rd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rdrain *
rdrain_new(const char *url, const char *replica, db *d, ingest *g,
           unsigned batch_events, unsigned stream_warn, char *err,
           size_t errlen)
{
    if (replica && replica[0] && !replica_name_valid(replica)) {
        snprintf(err, errlen, "invalid replica name (1 to 64 characters from"
                 " A-Z a-z 0-9 . _ -)");
        return NULL;
    }
    redis_url u;
    if (redis_url_parse(url, &u, err, errlen) != 0)
        return NULL;
    rdrain *rd = calloc(1, sizeof(*rd));
    if (rd == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rd->d = d;
    rd->g = g;
    rd->batch_max = batch_events ? batch_events : 50000;
    rd->stream_warn = stream_warn;
    snprintf(rd->name, sizeof(rd->name), "%s", replica ? replica : "");
    rd->src = rsrc_open(url, err, errlen);
    rd->rc = rd->src ? redis_new(&u, RD_TIMEOUT_MS) : NULL;
    memset(&u, 0, sizeof(u));
    if (rd->rc == NULL) {
        if (rd->src)
            snprintf(err, errlen, "out of memory");
        rdrain_free(rd);
        return NULL;
    }
    if (db_streams_init(d) != 0 || ctl_mark(d) != 0) {
        snprintf(err, errlen, "cannot create the source_pos or admin tables: %s",
                 db_errmsg(d));
        rdrain_free(rd);
        return NULL;
    }
    return rd;
}

void
rdrain_free(rdrain *rd)
{
    if (rd == NULL)
        return;
    for (size_t i = 0; i < rd->ns; i++)
        rd_stream_free(rd->s[i]);
    free(rd->s);
    rsrc_close(rd->src);
    redis_close(rd->rc);
    free(rd);
}

unsigned
rdrain_backoff_ms(const rdrain *rd)
{
    return rd->backoff_ms ? rd->backoff_ms : 100;
}

void
rdrain_get_stats(const rdrain *rd, rdrain_stats *st)
{
    *st = rd->st;
}

int
rdrain_start(rdrain *rd)
{
    int rc = rd_maint(rd);
    if (rc == 0)
        rd_up(rd);
    return rc;
}

/* Stores the events of entry e (the head of sub b of stream s) in the
 * open transaction.  Returns the events stored, or -1 (database). */
static long
rd_apply(rdrain *rd, rd_stream *s, rd_sub *b, rd_entry *e)
{
    long stored = 0;
    if (e->why != NULL) {
        rd->st.corrupt++;
        log_error("rdrain: corrupt entry %s in stream %s (segment %s, offset"
                  " %llu): %s; skipped", e->id, s->name,
                  e->seg[0] ? e->seg : "?", (unsigned long long)e->off, e->why);
    } else {
        size_t rl, n = 0;
        const char *why = NULL;
        if (spool_record_decode(e->rec, e->len, &rl, rd->ev, &n, &why) != SPOOL_OK)
            n = 0;                     /* checked when read: cannot happen */
        for (size_t i = 0; i < n; i++) {
            const char *skip = "invalid";
            int r = ingest_event(rd->g, &rd->ev[i], &skip);
            if (r < 0)
                return -1;
            if (r == 0) {
                rd->st.invalid++;
                if (strcmp(skip, "bot") != 0)
                    log_warn("rdrain: event %zu of entry %s in stream %s"
                             " (segment %s, offset %llu) %s; skipped", i, e->id,
                             s->name, e->seg, (unsigned long long)e->off, skip);
            }
            stored += r;
        }
    }
    rd_done(s, b, e);
    rd->st.entries++;
    rd->st.events += (uint64_t)stored;
    return stored;
}

/* Positions, ingest flush and commit.  0 or -1 (caller rolls back). */
static int
rd_commit(rdrain *rd)
{
    for (size_t i = 0; i < rd->ns; i++) {
        rd_stream *s = rd->s[i];
        char *ahead = rd_ahead(s);
        int rc = ahead == NULL ? -1
               : db_streams_set(rd->d, s->name, s->pos, s->n, ahead);
        free(ahead);
        if (rc != 0)
            return -1;
    }
    if (ingest_flush(rd->g) != 0 || db_commit(rd->d) != 0)
        return -1;
    for (size_t i = 0; i < rd->ns; i++)
        rd_committed(rd->s[i]);
    rd->st.commits++;
    return 0;
}

static void
rd_rewind_all(rdrain *rd)
{
    for (size_t i = 0; i < rd->ns; i++)
        rd_rewind(rd->s[i]);
}

long
rdrain_pass(rdrain *rd, const atomic_int *stop)
{
    if (!rd->migrated) {
        if (migrate_v1_run(rd->d, rd->g) != 0)
            return -1;
        rd->migrated = 1;
    }
    if (rd_now_ms() >= rd->next_maint_ms) {
        int m = rd_maint(rd);
        if (m != 0)
            return m;
    }
    /* admin changes first, in their own transaction (ctl_sync.h) */
    long nctl = ctl_sync(rd->d, rd->src, &rd->ctl);
    if (nctl == -1)
        return rd_down(rd, "reading " CTL_STREAM);
    if (nctl < 0)
        return -1;
    if (nctl > 0) {
        rd->ctl_dirty = 1;
        rd->st.ctl += (uint64_t)nctl;
        if (rd->ctl.site_removed)
            ingest_reset(rd->g);   /* its sessions may name the site */
    }
    int redis_err = 0;
    rd_stream *s = NULL;
    for (size_t i = 0; i < rd->ns && !redis_err; i++) {
        rd_rewind(rd->s[i]);
        redis_err = rd_top_up(rd, rd->s[i]) != 0;
    }
    if (rd_pick(rd, &s) == NULL) {
        rd_rewind_all(rd);
        if (redis_err)
            return rd_down(rd, "XREAD");
        rd_up(rd);
        if (rd_after_commit(rd) != 0)  /* a publish or trim left over */
            return rd_down(rd, "trimming");
        return nctl;
    }

    const rdrain_stats before = rd->st;
    uint64_t batch = 0;
    int dberr = db_begin(rd->d) != 0 || ingest_ready(rd->g) != 0;
    int stopped = 0;
    while (!dberr) {
        rd_sub *b = rd_pick(rd, &s);
        if (b == NULL)
            break;
        long r = rd_apply(rd, s, b, b->q[b->qhead]);
        if (r < 0) {
            dberr = 1;
            break;
        }
        batch += (uint64_t)r;
        /* this writer's next entry may be further on: read ahead */
        if (b->qhead == b->qlen && !redis_err && rd_top_up(rd, s) != 0)
            redis_err = 1;             /* commit what we have, then fail */
        if (batch >= rd->batch_max) {
            if (rd_commit(rd) != 0) {
                dberr = 1;
                break;
            }
            batch = 0;
            rd_after_commit(rd);       /* a failure is retried later */
            if (stop && atomic_load(stop)) {
                stopped = 1;           /* the rest is read again later */
                break;
            }
            if (db_begin(rd->d) != 0 || ingest_ready(rd->g) != 0)
                dberr = 1;
        }
    }
    if (dberr || (!stopped && rd_commit(rd) != 0)) {
        log_error("rdrain: database error (%s); the open transaction is"
                  " rolled back and its entries read again", db_errmsg(rd->d));
        db_rollback(rd->d);
        ingest_reset(rd->g);
        rd_rewind_all(rd);
        return -1;
    }
    rd_rewind_all(rd);
    if (rd_after_commit(rd) != 0)
        redis_err = 1;
    long applied = (long)(rd->st.entries - before.entries) + nctl;
    log_info("rdrain: stored %llu events from %ld entries of %zu streams"
             " (%llu corrupt, %llu skipped) in %llu transactions; trimmed %llu",
             (unsigned long long)(rd->st.events - before.events), applied,
             rd->ns, (unsigned long long)(rd->st.corrupt - before.corrupt),
             (unsigned long long)(rd->st.invalid - before.invalid),
             (unsigned long long)(rd->st.commits - before.commits),
             (unsigned long long)(rd->st.trimmed - before.trimmed));
    if (redis_err)
        return rd_down(rd, "reading the streams");
    rd_up(rd);
    return applied;
}
