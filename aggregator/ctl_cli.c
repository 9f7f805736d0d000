/* ctl_cli.c -- see ctl_cli.h. */
#include "aggregator/ctl_cli.h"
#include "aggregator/ctl_sync.h"
#include "aggregator/db_ctl.h"
#include "aggregator/redis.h"
#include "aggregator/redis_source.h"
#include "aggregator/replica.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
ctl_cli_mode(const char *cmd, db *d, const char *source)
{
    if (source == NULL || source[0] == '\0') {
        int r = ctl_is_replica(d);
        if (r == 0)
            return 0;
        if (r > 0)
            fprintf(stderr, "tallyd %s: this database belongs to a replica (it"
                    " applies the control stream of a Redis source): an admin"
                    " change made here alone would differ from the other"
                    " replicas. Pass --source redis://... (the serve's"
                    " --source) so that every replica applies it; see"
                    " docs/cluster.md\n", cmd);
        else
            fprintf(stderr, "tallyd %s: database error: %s\n", cmd, db_errmsg(d));
        return -1;
    }
    redis_url u;
    char err[256];
    if (strncmp(source, "redis://", 8) != 0
        || redis_url_parse(source, &u, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd %s: --source: %s\n", cmd,
                strncmp(source, "redis://", 8) ? "needs redis://..." : err);
        return -1;
    }
    memset(&u, 0, sizeof(u));
    if (ctl_mark(d) != 0) {
        fprintf(stderr, "tallyd %s: database error: %s\n", cmd, db_errmsg(d));
        return -1;
    }
    return 1;
}

static double
cc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
cc_nap(void)
{
    struct timespec ts = { 0, 100 * 1000000L };
    nanosleep(&ts, NULL);
}

/* Refuses a database that missed trimmed control entries.  0, or -1
 * with the reason in err. */
static int
cc_check_gap(db *d, const char *source, double deadline, char *err,
             size_t errlen)
{
    redis_url u;
    if (redis_url_parse(source, &u, err, errlen) != 0)
        return -1;
    redis_conn *rc = redis_new(&u, 5000);
    memset(&u, 0, sizeof(u));
    if (rc == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    replica_sinfo si;
    ctl_state st;
    int r;
    while ((r = replica_stream_info(rc, CTL_STREAM, &si)) != 0
           && cc_now() < deadline) {
        cc_nap();
        redis_reconnect(rc);
    }
    redis_close(rc);
    if (r != 0) {
        snprintf(err, errlen, "redis unreachable (or older than 7.0); nothing"
                 " was changed");
        return -1;
    }
    if (ctl_position(d, &st) != 0) {
        snprintf(err, errlen, "database error: %s", db_errmsg(d));
        return -1;
    }
    uint64_t missed = replica_missed(&si, st.n);
    if (missed > 0) {
        snprintf(err, errlen, "the control stream %s was trimmed past this"
                 " database (%llu entries it never applied are gone); nothing"
                 " was changed. Seed this replica from another replica's backup"
                 " (see docs/cluster.md)", CTL_STREAM,
                 (unsigned long long)missed);
        return -1;
    }
    return 0;
}

int
ctl_submit(db *d, const char *source, const ctl_cmd *c, int64_t *obj,
           char *err, size_t errlen)
{
    double deadline = cc_now() + CTL_CLI_WAIT_S;
    char id[RSRC_ID_MAX];
    char *text = malloc(CTL_ENTRY_MAX + 1);
    long len = text ? ctl_encode(c, text, CTL_ENTRY_MAX + 1) : -1;
    if (len < 0) {
        snprintf(err, errlen, "cannot encode the change");
        free(text);
        return -1;
    }
    if (cc_check_gap(d, source, deadline, err, errlen) != 0) {
        free(text);
        return -1;
    }
    rsrc *src = rsrc_open(source, err, errlen);
    if (src == NULL) {
        free(text);
        return -1;
    }
    int added = rsrc_add(src, CTL_STREAM, CTL_FIELD, (const unsigned char *)text,
                         (size_t)len, id);
    free(text);
    if (added != 0) {
        snprintf(err, errlen, "cannot add the change to %s (%s); nothing was"
                 " changed", CTL_STREAM, rsrc_errstr(src));
        rsrc_close(src);
        return -1;
    }
    ctl_state st;
    int done = 0;
    while (!done) {
        long r = ctl_sync(d, src, &st);
        if (r >= 0 && rsrc_id_cmp(st.pos, id) >= 0)
            done = 1;
        else if (cc_now() >= deadline)
            break;
        else if (r <= 0)
            cc_nap();
    }
    if (!done) {
        const char *why = rsrc_errstr(src);
        snprintf(err, errlen, "the change is in %s as entry %s, but this"
                 " database has not applied it within %d s (%s); every replica"
                 " applies it once it can (a running serve does it here)",
                 CTL_STREAM, id, CTL_CLI_WAIT_S,
                 why[0] ? why : "database busy or redis unreachable");
        rsrc_close(src);
        return -1;
    }
    rsrc_close(src);
    uint64_t ms, seq;
    int status;
    if (rsrc_id_parse(id, &ms, &seq) != 0
        || db_ctl_result(d, ms, seq, &status, obj) != 1) {
        snprintf(err, errlen, "entry %s was applied but its outcome is not"
                 " recorded", id);
        return -1;
    }
    return status;
}

int
ctl_cli_submit(const char *cmd, db *d, const char *source, const ctl_cmd *c,
               int64_t *obj)
{
    char err[512];
    int st = ctl_submit(d, source, c, obj, err, sizeof(err));
    if (st < 0)
        fprintf(stderr, "tallyd %s: %s\n", cmd, err);
    return st;
}
