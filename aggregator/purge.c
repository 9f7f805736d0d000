/* purge.c -- see purge.h. */
#include "aggregator/purge.h"
#include "aggregator/attrs.h"
#include "aggregator/db_seal.h"
#include "aggregator/ingest.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_HOUR_MS 3600000LL
#define PG_DAY_MS  86400000LL
#define PG_CHUNK   4096          /* events read per statement          */
#define PG_FLUSH   (16 * PG_CHUNK) /* events between rollup flushes    */

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
pg_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
pg_day_str(int64_t day, char out[11])
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    int64_t y = yoe + era * 400 + (m <= 2);
    if (y < 0 || y > 9999) {
        snprintf(out, 11, "?");
        return;
    }
    snprintf(out, 11, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

int
pg_day_parse(const char *s, int64_t *day)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-'
        || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3
        || y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    int64_t v = pg_days_from_civil(y, m, d);
    char back[11];
    pg_day_str(v, back);
    if (strcmp(back, s) != 0)          /* 2024-02-30 and the like */
        return -1;
    *day = v;
    return 0;
}

/* ---- windows ---- */

typedef struct {
    int64_t lo, hi;     /* ms, day aligned, [lo, hi) */
} pg_window;

/* Widens w until no visit of site crosses either edge.  0 or -1. */
static int
pg_widen(db *d, int64_t site, pg_window *w)
{
    int64_t s, e;
    int rc;
    while ((rc = db_pg_crossing(d, site, w->lo, &s, &e)) == 1)
        w->lo = (s / PG_DAY_MS) * PG_DAY_MS;
    if (rc < 0)
        return -1;
    while ((rc = db_pg_crossing(d, site, w->hi, &s, &e)) == 1)
        w->hi = (e / PG_DAY_MS + 1) * PG_DAY_MS;
    return rc < 0 ? -1 : 0;
}

/* The windows of a purge, before anything is deleted: for --path one
 * per run of affected days (merged when they meet), for --before the
 * one that starts at the day (none when no visit crosses it). */
static int
pg_windows(db *d, int64_t site, const pg_spec *s, pg_window **out,
           size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s->path == NULL) {
        int64_t t = s->before_day * PG_DAY_MS, st, en;
        int rc = db_pg_crossing(d, site, t, &st, &en);
        if (rc <= 0)
            return rc;
        pg_window *w = malloc(sizeof(*w));
        if (w == NULL)
            return -1;
        w->lo = t;
        w->hi = (en / PG_DAY_MS + 1) * PG_DAY_MS;
        /* the part before t is deleted, not rebuilt: widen forward only */
        while ((rc = db_pg_crossing(d, site, w->hi, &st, &en)) == 1)
            w->hi = (en / PG_DAY_MS + 1) * PG_DAY_MS;
        if (rc < 0) {
            free(w);
            return -1;
        }
        *out = w;
        *n = 1;
        return 0;
    }
    int64_t *days;
    size_t nd;
    if (db_pg_path_days(d, site, s->path, &days, &nd) != 0)
        return -1;
    pg_window *w = malloc((nd ? nd : 1) * sizeof(*w));
    if (w == NULL) {
        free(days);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < nd; i++) {
        if (k > 0 && days[i] * PG_DAY_MS < w[k - 1].hi)
            continue;                       /* inside the previous one */
        pg_window x = { days[i] * PG_DAY_MS, (days[i] + 1) * PG_DAY_MS };
        if (pg_widen(d, site, &x) != 0) {
            free(days);
            free(w);
            return -1;
        }
        if (k > 0 && x.lo <= w[k - 1].hi) {
            if (x.hi > w[k - 1].hi)
                w[k - 1].hi = x.hi;
        } else {
            w[k++] = x;
        }
    }
    free(days);
    *out = w;
    *n = k;
    return 0;
}

/* ---- rebuilding one window ---- */

static int
pg_rebuild(db *d, attrs_ctx *x, int64_t site, const pg_window *w,
           db_event2 *buf, pg_report *r)
{
    ingest *g = ingest_new(d, x);
    if (g == NULL || ingest_rebuild_begin(g) != 0) {
        ingest_free(g);
        return -1;
    }
    int64_t ts = w->lo - 1, seq = 0, since = 0, n;
    int rc = 0;
    while (rc == 0
           && (n = db_pg_events_read(d, site, w->lo, w->hi, &ts, &seq, buf,
                                     PG_CHUNK)) > 0) {
        for (int64_t i = 0; i < n && rc == 0; i++) {
            int64_t vid;
            rc = ingest_rebuild_event(g, &buf[i], &vid);
            if (rc == 0 && vid != buf[i].visit_id)
                rc = db_pg_event_set_visit(d, site, buf[i].ts, buf[i].seq, vid);
        }
        r->events_rebuilt += n;
        if (rc == 0 && (since += n) >= PG_FLUSH) {
            rc = ingest_flush(g);
            since = 0;
        }
    }
    if (rc == 0 && n < 0)
        rc = -1;
    if (rc == 0)
        rc = ingest_flush(g);
    ingest_free(g);
    return rc;
}

/* ---- the live days ---- */

/* The first ms a running tallyd may hold in memory (INT64_MAX when
 * nothing is stored yet).  -1 on error. */
static int64_t
pg_live_from(db *d, int64_t *hwm)
{
    if (db_meta_get(d, "hwm_ms", hwm) < 0)
        return -1;
    if (*hwm <= 0)
        return INT64_MAX;
    return (*hwm / PG_DAY_MS - 1) * PG_DAY_MS;
}

/* PG_OK when changing data at or after `touch` is safe now, else PG_LIVE
 * (msg set) or PG_ERROR; *pid gets any other process's pid. */
static int
pg_live_check(db *d, int64_t touch, int64_t live_from, long *pid,
              char *msg, size_t msglen)
{
    *pid = 0;
    int other = db_pg_other_process(d, pid);
    if (other < 0) {
        snprintf(msg, msglen, "cannot tell whether tallyd has the database"
                 " open (its -shm file)");
        return PG_ERROR;
    }
    if (!other)
        *pid = 0;
    if (other && touch >= live_from) {
        char day[11];
        pg_day_str(live_from / PG_DAY_MS, day);
        snprintf(msg, msglen, "this changes data from %s on, which the running"
                 " tallyd (pid %ld has the database open) keeps in memory;"
                 " stop it first, or purge only days before %s", day, *pid,
                 day);
        return PG_LIVE;
    }
    return PG_OK;
}

/* ---- purge ---- */

/* Everything pg_purge does inside its transaction. */
static int
pg_purge_tx(db *d, const pg_spec *s, pg_report *r, attrs_ctx *x,
            db_event2 *buf, char *msg, size_t msglen)
{
    int found = db_site_find(d, s->domain, &r->site);
    if (found <= 0) {
        snprintf(msg, msglen, "no site '%s' in the database", s->domain);
        return found < 0 ? PG_ERROR : PG_NO_SITE;
    }
    /* a purge reads and rewrites raw rows: the site's sealed days become
     * rows again first (idle time seals them anew) */
    if (db_seal_unseal_range(d, r->site, INT64_MIN, INT64_MAX) < 0)
        return PG_ERROR;
    int64_t hwm, live_from = pg_live_from(d, &hwm);
    if (live_from < 0)
        return PG_ERROR;
    pg_window *w;
    size_t nw;
    if (pg_windows(d, r->site, s, &w, &nw) != 0)
        return PG_ERROR;
    int rc = PG_ERROR;
    /* the last ms this purge changes */
    int64_t touch = INT64_MIN;
    if (s->path == NULL)
        touch = s->before_day * PG_DAY_MS - 1;
    else if (nw > 0)
        touch = w[0].lo;
    for (size_t i = 0; i < nw; i++)
        if (w[i].hi - 1 > touch)
            touch = w[i].hi - 1;
    int live = pg_live_check(d, touch, live_from, &r->other_pid, msg, msglen);
    if (live != PG_OK) {
        rc = live;
        goto out;
    }
    /* every window's raw events are complete, or its rollups would lose
     * what --retain-raw already deleted */
    for (size_t i = 0; i < nw; i++) {
        int64_t raw = db_pg_events_count(d, r->site, w[i].lo, w[i].hi);
        int64_t rolled = db_pg_rollup_events(d, r->site, w[i].lo / PG_HOUR_MS,
                                             w[i].hi / PG_HOUR_MS);
        if (raw < 0 || rolled < 0)
            goto out;
        if (raw != rolled) {
            char a[11], b[11];
            pg_day_str(w[i].lo / PG_DAY_MS, a);
            pg_day_str(w[i].hi / PG_DAY_MS - 1, b);
            snprintf(msg, msglen, "the raw events of %s..%s are incomplete"
                     " (%lld stored, the rollups counted %lld: deleted by"
                     " --retain-raw?); their rollups cannot be rebuilt",
                     a, b, (long long)raw, (long long)rolled);
            rc = PG_NO_RAW;
            goto out;
        }
    }
    if (s->path == NULL) {
        int64_t t = s->before_day * PG_DAY_MS, v, ro;
        if ((r->events_deleted = db_pg_events_delete_before(d, r->site, t)) < 0
            || (v = db_pg_visits_delete(d, r->site, INT64_MIN, t)) < 0
            || (ro = db_pg_rollups_delete(d, r->site, INT64_MIN, t / PG_HOUR_MS)) < 0)
            goto out;
        r->visits_deleted += v;
        r->rollups_deleted += ro;
    } else if ((r->events_deleted = db_pg_events_delete_path(d, r->site, s->path)) < 0) {
        goto out;
    }
    r->first_day = r->last_day = -1;
    for (size_t i = 0; i < nw; i++) {
        int64_t v = db_pg_visits_delete(d, r->site, w[i].lo, w[i].hi);
        int64_t ro = v < 0 ? -1 : db_pg_rollups_delete(d, r->site,
                                      w[i].lo / PG_HOUR_MS, w[i].hi / PG_HOUR_MS);
        if (ro < 0 || pg_rebuild(d, x, r->site, &w[i], buf, r) != 0)
            goto out;
        r->visits_deleted += v;
        r->rollups_deleted += ro;
        r->windows++;
        r->days_rebuilt += (w[i].hi - w[i].lo) / PG_DAY_MS;
        if (r->first_day < 0)
            r->first_day = w[i].lo / PG_DAY_MS;
        r->last_day = w[i].hi / PG_DAY_MS - 1;
    }
    /* the rebuild's flushes wrote their own high-water mark */
    if (nw > 0 && db_meta_set(d, "hwm_ms", hwm) != 0)
        goto out;
    if (r->other_pid == 0
        && (r->strings_deleted = db_pg_dict_gc(d, &r->attrs_deleted)) < 0)
        goto out;
    rc = PG_OK;
out:
    free(w);
    return rc;
}

int
pg_purge(db *d, const pg_spec *s, pg_report *r, char *msg, size_t msglen)
{
    memset(r, 0, sizeof(*r));
    r->first_day = r->last_day = -1;
    msg[0] = '\0';
    if ((s->path == NULL) == (s->before_day < 0)) {
        snprintf(msg, msglen, "give exactly one of --before and --path");
        return PG_ERROR;
    }
    char err[256];
    attrs_ctx *x = attrs_new(NULL, err, sizeof(err));
    db_event2 *buf = malloc(PG_CHUNK * sizeof(*buf));
    if (x == NULL || buf == NULL) {
        attrs_free(x);
        free(buf);
        snprintf(msg, msglen, "out of memory");
        return PG_ERROR;
    }
    int rc = PG_ERROR;
    if (db_pg_secure_delete(d) == 0 && db_begin(d) == 0) {
        rc = pg_purge_tx(d, s, r, x, buf, msg, msglen);
        if (rc == PG_OK && db_commit(d) != 0)
            rc = PG_ERROR;
        if (rc != PG_OK)
            db_rollback(d);
    }
    if (rc == PG_OK)
        r->wal_kept = db_pg_checkpoint(d) != 0;
    if (rc == PG_ERROR && msg[0] == '\0')
        snprintf(msg, msglen, "database error: %s", db_errmsg(d));
    attrs_free(x);
    free(buf);
    return rc;
}

/* ---- sites delete ---- */

static int
pg_site_delete_tx(db *d, const char *domain, int really, db_pg_site_rows *n,
                  long *other_pid, char *msg, size_t msglen)
{
    int64_t site;
    int found = db_site_find(d, domain, &site);
    if (found <= 0) {
        snprintf(msg, msglen, "no site '%s' in the database", domain);
        return found < 0 ? PG_ERROR : PG_NO_SITE;
    }
    if (db_pg_site_rows_do(d, site, domain, 0, n) != 0)
        return PG_ERROR;
    if (!really)
        return PG_OK;
    int64_t hwm, live_from = pg_live_from(d, &hwm);
    int64_t newest = db_pg_site_newest(d, site);
    if (live_from < 0 || newest < 0)
        return PG_ERROR;
    int live = pg_live_check(d, newest, live_from, other_pid, msg, msglen);
    if (live != PG_OK)
        return live;
    db_pg_site_rows gone;
    if (db_pg_site_rows_do(d, site, domain, 1, &gone) != 0)
        return PG_ERROR;
    int64_t nattrs;
    if (*other_pid == 0 && db_pg_dict_gc(d, &nattrs) < 0)
        return PG_ERROR;
    return PG_OK;
}

int
pg_site_delete(db *d, const char *domain, int really, db_pg_site_rows *n,
               long *other_pid, char *msg, size_t msglen)
{
    memset(n, 0, sizeof(*n));
    *other_pid = 0;
    msg[0] = '\0';
    if (db_pg_secure_delete(d) != 0 || db_begin(d) != 0) {
        snprintf(msg, msglen, "database error: %s", db_errmsg(d));
        return PG_ERROR;
    }
    int rc = pg_site_delete_tx(d, domain, really, n, other_pid, msg, msglen);
    if (rc == PG_OK && really && db_commit(d) != 0)
        rc = PG_ERROR;
    if (rc != PG_OK || !really)
        db_rollback(d);
    else if (db_pg_checkpoint(d) != 0)
        log_info("sites delete: readers kept the WAL from being truncated;"
                 " a later checkpoint completes it");
    if (rc == PG_ERROR && msg[0] == '\0')
        snprintf(msg, msglen, "database error: %s", db_errmsg(d));
    return rc;
}
