/* rdrain_maint.c -- the Redis side of the source besides reading:
 * discovering edges, the replica registration and heartbeat, the check
 * that nothing was trimmed before it was applied, trimming (replica.h). */
#include "aggregator/rdrain_int.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD_MAINT_MS     2000      /* edges, heartbeat, XINFO check */
#define RD_WARN_EVERY   60000     /* --stream-warn repeat, ms      */
#define RD_BACKOFF_MAX  5000

int
rd_down(rdrain *rd, const char *what)
{
    if (!rd->down) {
        const char *why = rsrc_errstr(rd->src);
        log_warn("rdrain: redis unreachable (%s: %s); queries are still"
                 " served from the database; retrying with backoff", what,
                 why[0] ? why : redis_errstr(rd->rc));
    }
    rd->down = 1;
    rd->backoff_ms = rd->backoff_ms ? rd->backoff_ms * 2 : 100;
    if (rd->backoff_ms > RD_BACKOFF_MAX)
        rd->backoff_ms = RD_BACKOFF_MAX;
    return -1;
}

void
rd_up(rdrain *rd)
{
    if (rd->down)
        log_info("rdrain: redis is back; resuming from the committed"
                 " positions");
    rd->down = 0;
    rd->backoff_ms = 0;
}

/* The replica connection, reconnected if needed.  0 when usable. */
static int
rd_conn(rdrain *rd)
{
    return redis_ok(rd->rc) ? 0 : redis_reconnect(rd->rc);
}

/* Publishes the committed prefix positions and the heartbeat (nothing
 * for an unregistered consumer).  0 or -1. */
static int
rd_publish(rdrain *rd)
{
    if (rd->name[0] == '\0')
        return 0;
    replica_pos *p = calloc(rd->ns + 1, sizeof(*p));
    if (p == NULL)
        return -1;
    size_t n = 0;
    if (rd->ctl.n > 0) {               /* the control stream, ctl.h */
        p[n].stream = CTL_STREAM;
        p[n].id = rd->ctl.pos;
        p[n].applied = rd->ctl.n;
        n++;
    }
    for (size_t i = 0; i < rd->ns; i++) {
        if (rd->s[i]->n_c == 0)
            continue;                  /* nothing applied: no field */
        p[n].stream = rd->s[i]->name;
        p[n].id = rd->s[i]->pos_c;
        p[n].applied = rd->s[i]->n_c;
        n++;
    }
    int rc = replica_publish(rd->rc, rd->name, p, n, rd_now_ms());
    free(p);
    return rc;
}

/* Refuses (logged, replica unregistered, -1) when trimming removed
 * entries of stream that this database never applied (it applied n). */
static int
rd_gap(rdrain *rd, const char *stream, const replica_sinfo *si, uint64_t n)
{
    uint64_t missed = replica_missed(si, n);
    if (missed == 0)
        return 0;
    log_error("rdrain: stream %s was trimmed past this database: %llu"
              " entries were removed before it applied them (it applied"
              " %llu; the stream has lost its first %llu). This database"
              " cannot catch up. Seed it from another replica's backup"
              " (`tallyd backup --db FILE OUT` there, copy OUT here as"
              " --db; the stream positions travel with it) and start"
              " again; see docs/cluster.md", stream,
              (unsigned long long)missed, (unsigned long long)n,
              (unsigned long long)(si->added - si->length));
    /* its position is useless now: let the others trim */
    if (rd->name[0] && replica_forget(rd->rc, rd->name) > 0)
        log_error("rdrain: replica %s unregistered", rd->name);
    return -1;
}

int
rd_maint(rdrain *rd)
{
    char **names;
    size_t n;
    if (rsrc_edges(rd->src, &names, &n) != 0)
        return rd_down(rd, "reading tally:edges");
    for (size_t i = 0; i < n; i++) {
        char stream[REPLICA_STREAM_MAX];
        if (rsrc_stream_name(stream, sizeof(stream), names[i]) != 0)
            continue;
        size_t k = 0;
        while (k < rd->ns && strcmp(rd->s[k]->name, stream) != 0)
            k++;
        if (k == rd->ns && rd_stream_add(rd, stream) != 0) {
            rsrc_free_names(names, n);
            return -1;
        }
    }
    rsrc_free_names(names, n);
    /* registered first: a trim from now on sees this replica, and one
     * that happened before shows in XINFO below */
    if (rd_conn(rd) != 0 || rd_publish(rd) != 0)
        return rd_down(rd, "publishing this replica's positions");
    int64_t now = rd_now_ms();
    /* the control stream: the admin commands may have applied entries
     * to this database meanwhile (ctl_sync.h) */
    if (ctl_position(rd->d, &rd->ctl) != 0)
        return -1;
    replica_sinfo ci;
    if (replica_stream_info(rd->rc, CTL_STREAM, &ci) != 0)
        return rd_down(rd, "XINFO STREAM");
    if (rd_gap(rd, CTL_STREAM, &ci, rd->ctl.n) != 0)
        return RDRAIN_FATAL;
    rd->ctl_dirty |= rd->ctl.n > 0;
    for (size_t i = 0; i < rd->ns; i++) {
        rd_stream *s = rd->s[i];
        replica_sinfo si;
        if (replica_stream_info(rd->rc, s->name, &si) != 0)
            return rd_down(rd, "XINFO STREAM");
        if (rd_gap(rd, s->name, &si, s->n_c) != 0)
            return RDRAIN_FATAL;
        if (rd->stream_warn && si.length > rd->stream_warn
            && now - s->warned_ms >= RD_WARN_EVERY) {
            s->warned_ms = now;
            log_warn("rdrain: stream %s holds %llu entries (more than"
                     " --stream-warn %u): a replica is behind or gone; see"
                     " `tallyd replicas --redis URL`", s->name,
                     (unsigned long long)si.length, rd->stream_warn);
        }
    }
    /* trim again now and then: a replica may have been forgotten */
    for (size_t i = 0; i < rd->ns; i++)
        rd->s[i]->dirty |= rd->s[i]->n_c > 0;
    rd->next_maint_ms = now + RD_MAINT_MS;
    return 0;
}

int
rd_after_commit(rdrain *rd)
{
    int any = rd->ctl_dirty;
    for (size_t i = 0; i < rd->ns; i++)
        any |= rd->s[i]->dirty;
    if (!any)
        return 0;
    if (rd_conn(rd) != 0 || rd_publish(rd) != 0)
        return -1;
    if (rd->ctl_dirty) {
        long long n = replica_trim(rd->rc, CTL_STREAM, rd->ctl.pos);
        if (n < 0) {
            log_warn("rdrain: trimming stream %s failed: %s", CTL_STREAM,
                     redis_errstr(rd->rc)[0] ? redis_errstr(rd->rc)
                                             : "error reply");
            return -1;
        }
        rd->st.trimmed += (uint64_t)n;
        rd->ctl_dirty = 0;
    }
    for (size_t i = 0; i < rd->ns; i++) {
        rd_stream *s = rd->s[i];
        if (!s->dirty)
            continue;
        long long n = replica_trim(rd->rc, s->name, s->pos_c);
        if (n < 0) {
            log_warn("rdrain: trimming stream %s failed: %s", s->name,
                     redis_errstr(rd->rc)[0] ? redis_errstr(rd->rc)
                                             : "error reply");
            return -1;
        }
        rd->st.trimmed += (uint64_t)n;
        s->dirty = 0;
    }
    return 0;
}
