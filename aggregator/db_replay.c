/* db_replay.c -- reading raw events back in order, for rebuilding the
 * ingest's in-memory state after a restart. */
#include "aggregator/db_int.h"

#include <stdlib.h>

int
db_site_ids(db *d, int64_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    sqlite3_stmt *st = db_stmt(d, DB_ST_SITES_ALL);
    return st ? db_step_ints(d, st, 1, out, nout, "list sites") : -1;
}

int
db_sites_each(db *d, int (*fn)(void *ctx, int64_t site), void *ctx)
{
    /* collect first: fn may run other statements */
    int64_t *ids;
    size_t n;
    if (db_site_ids(d, &ids, &n) != 0)
        return -1;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = fn(ctx, ids[i]);
    free(ids);
    return ret;
}

int
db_events_from(db *d, int64_t site, int64_t from_ts,
               int (*fn)(void *ctx, const db_event2 *e), void *ctx)
{
    /* a statement of its own: fn runs the shared ones (visit lookups) */
    sqlite3_stmt *st = db_stmt(d, DB_ST_EVENTS_FROM);
    if (st == NULL)
        return -1;
    d->st[DB_ST_EVENTS_FROM] = NULL;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, from_ts);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_event2 e;
        db_event2_read(st, site, &e);
        if ((ret = fn(ctx, &e)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        db_log_error(d, "replay events");
        ret = -1;
    }
    sqlite3_reset(st);
    if (d->st[DB_ST_EVENTS_FROM] == NULL)
        d->st[DB_ST_EVENTS_FROM] = st;
    else
        sqlite3_finalize(st);
    return ret;
}

int64_t
db_pageview_id(db *d)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_STR_GET);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, "pageview", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0)
               : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return id;
}
