/* db_events.c -- storing events: sites, dictionary strings, event rows.
 * Ids come from the in-memory caches when possible; a miss costs one
 * SELECT (and one INSERT for a new string). */
#include "aggregator/db_int.h"

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

static int64_t
db_str(db *d, const char *s, size_t len)
{
    return db_intern(d, d->strings, DB_ST_STR_GET, DB_ST_STR_ADD, s, len);
}

int
db_event_insert(db *d, const db_event *ev)
{
    if (!d->in_tx || ev->site == NULL || ev->name == NULL
        || ev->pathname == NULL || ev->hostname == NULL
        || ev->site_len > 1000000 || ev->name_len > 1000000)
        return -1;

    int64_t site = db_intern(d, d->sites, DB_ST_SITE_GET, DB_ST_SITE_ADD,
                             ev->site, ev->site_len);
    int64_t name = db_str(d, ev->name, ev->name_len);
    int64_t path = db_str(d, ev->pathname, ev->pathname_len);
    int64_t host = db_str(d, ev->hostname, ev->hostname_len);
    if (site < 0 || name < 0 || path < 0 || host < 0)
        return -1;

    /* the optional strings are interned before the event statement is
     * taken, since interning reuses other statements */
    int64_t opt[4];
    const char *os[4] = { ev->referrer, ev->ua, ev->props, ev->revenue };
    size_t ol[4] = { ev->referrer_len, ev->ua_len, ev->props_len, ev->revenue_len };
    for (int i = 0; i < 4; i++) {
        opt[i] = -1;
        if (os[i] != NULL && (opt[i] = db_str(d, os[i], ol[i])) < 0)
            return -1;
    }

    sqlite3_stmt *st = db_stmt(d, DB_ST_EVENT_ADD);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, ev->ts_ms);
    sqlite3_bind_int64(st, 3, d->next_seq);
    sqlite3_bind_int64(st, 4, (int64_t)ev->visitor_id);
    sqlite3_bind_int64(st, 5, name);
    sqlite3_bind_int64(st, 6, path);
    sqlite3_bind_int64(st, 7, host);
    for (int i = 0; i < 4; i++) {
        if (opt[i] < 0)
            sqlite3_bind_null(st, 8 + i);
        else
            sqlite3_bind_int64(st, 8 + i, opt[i]);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "insert event");
        return -1;
    }
    d->next_seq++;
    return 0;
}
