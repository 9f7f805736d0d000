/* db_events.c -- dictionary strings, sites, raw event rows, and reading
 * the v1 events table.  Ids come from the in-memory caches when possible;
 * a miss costs one SELECT (and one INSERT for a new string). */
#include "aggregator/db_int.h"
#include "aggregator/db_seal.h"

#include <stdlib.h>
#include <string.h>

/* Returns the id of (key, len) in the table behind get/add, creating the
 * row if needed, or -1. */
static int64_t
db_intern(db *d, strcache *cache, enum db_stmt_id get, enum db_stmt_id add,
          const char *key, size_t len)
{
    int64_t id;
    if (sc_get(cache, key, len, &id))
        return id;

    sqlite3_stmt *st = db_stmt(d, get);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    } else {
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            db_log_error(d, "lookup");
            return -1;
        }
        st = db_stmt(d, add);
        if (st == NULL)
            return -1;
        sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            db_log_error(d, "insert");
            return -1;
        }
        id = sqlite3_last_insert_rowid(d->h);
    }
    sc_put(cache, key, len, id);
    return id;
}

int64_t
db_string_id(db *d, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    if (len > 1000000 || !d->in_tx)
        return -1;
    return db_intern(d, d->strings, DB_ST_STR_GET, DB_ST_STR_ADD, s, len);
}

int64_t
db_site_id(db *d, const char *s, size_t len)
{
    if (len > 1000000 || !d->in_tx)
        return -1;
    return db_intern(d, d->sites, DB_ST_SITE_GET, DB_ST_SITE_ADD, s, len);
}

int
db_string_get(db *d, int64_t id, char **out)
{
    *out = NULL;
    sqlite3_stmt *st = db_stmt(d, DB_ST_STR_BY_ID);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        *out = strdup(s ? s : "");
        found = *out ? 1 : -1;
    } else if (rc != SQLITE_DONE) {
        db_log_error(d, "read string");
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

int
db_event2_insert(db *d, const db_event2 *e)
{
    if (e->ts >= 0 && d->seal_n
        && db_seal_touch(d, e->site_id, e->ts / DBS_DAY_MS, e->ts / DBS_DAY_MS) != 0)
        return -1;
    if (d->nevq == DB_BATCH && db_batch_flush(d) != 0)
        return -1;
    d->evq[d->nevq++] = *e;
    return 0;
}

void
db_event2_read(sqlite3_stmt *st, int64_t site, db_event2 *e)
{
    *e = (db_event2){
        .site_id = site,
        .ts = sqlite3_column_int64(st, 0),
        .seq = sqlite3_column_int64(st, 1),
        .visitor_id = (uint64_t)sqlite3_column_int64(st, 2),
        .visit_id = sqlite3_column_int64(st, 3),
        .name_id = sqlite3_column_int64(st, 4),
        .pathname_id = sqlite3_column_int64(st, 5),
        .hostname_id = sqlite3_column_int64(st, 6),
        .attrs_id = sqlite3_column_int64(st, 7),
        .props_id = sqlite3_column_int64(st, 8),
        .revenue_id = sqlite3_column_int64(st, 9),
        .flags = sqlite3_column_int(st, 10),
    };
}

/* ---- v1 events ---- */

int
db_v1_pending(db *d)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_V1_EXISTS);
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static const char *
db_col(sqlite3_stmt *st, int i, size_t *len)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    *len = s ? (size_t)sqlite3_column_bytes(st, i) : 0;
    return s;
}

int
db_v1_each(db *d, int (*fn)(void *ctx, const db_event *ev), void *ctx)
{
    int have = db_v1_pending(d);
    if (have <= 0)
        return have;
    /* prepared here, not cached: the table exists only until the
     * conversion drops it */
    sqlite3_stmt *st = db_stmt(d, DB_ST_V1_ALL);
    if (st == NULL)
        return -1;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.ts_ms = sqlite3_column_int64(st, 0);
        ev.visitor_id = (uint64_t)sqlite3_column_int64(st, 1);
        ev.site = db_col(st, 2, &ev.site_len);
        ev.name = db_col(st, 3, &ev.name_len);
        ev.pathname = db_col(st, 4, &ev.pathname_len);
        ev.hostname = db_col(st, 5, &ev.hostname_len);
        ev.referrer = db_col(st, 6, &ev.referrer_len);
        ev.ua = db_col(st, 7, &ev.ua_len);
        ev.props = db_col(st, 8, &ev.props_len);
        ev.revenue = db_col(st, 9, &ev.revenue_len);
        if ((ret = fn(ctx, &ev)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        db_log_error(d, "read events_v1");
        ret = -1;
    }
    sqlite3_reset(st);
    return ret;
}

int
db_v1_drop(db *d)
{
    /* finalise the statements that name the table before dropping it */
    sqlite3_finalize(d->st[DB_ST_V1_ALL]);
    d->st[DB_ST_V1_ALL] = NULL;
    return db_step_done(d, db_stmt(d, DB_ST_V1_DROP), "drop events_v1");
}
