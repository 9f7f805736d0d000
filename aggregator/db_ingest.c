/* db_ingest.c -- the rows the ingest writes besides raw events: per-ms
 * sequence numbers, attribute tuples, visits, rollup deltas, meta
 * integers. */
#include "aggregator/db_int.h"
#include "aggregator/db_seal.h"
#include "aggregator/dims.h"

static int db_visit_get_row(db *d, int64_t id, db_visit *v);

int
db_seq_last(db *d, int64_t site, int64_t *ts, int64_t *next)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_SEQ_LAST);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    int rc = sqlite3_step(st);
    *ts = 0;
    *next = 0;
    if (rc == SQLITE_ROW) {
        *ts = sqlite3_column_int64(st, 0);
        *next = sqlite3_column_int64(st, 1) + 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_log_error(d, "read last seq");
        return -1;
    }
    /* the newest event may be in a sealed day */
    return db_seal_last(d, site, ts, next);
}

int
db_seq_at(db *d, int64_t site, int64_t ts, int64_t *next)
{
    /* a late event of a sealed day: its rows come back first */
    if (ts >= 0 && db_seal_touch(d, site, ts / DBS_DAY_MS, ts / DBS_DAY_MS) != 0)
        return -1;
    sqlite3_stmt *st = db_stmt(d, DB_ST_SEQ_AT);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, ts);
    int rc = sqlite3_step(st);
    *next = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *next = sqlite3_column_int64(st, 0) + 1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_log_error(d, "read seq");
        return -1;
    }
    return 0;
}

int64_t
db_attrs_id(db *d, const int64_t a[])
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_ATTRS_GET);
    if (st == NULL)
        return -1;
    for (int i = 0; i < ATTR_COUNT; i++)
        sqlite3_bind_int64(st, i + 1, a[i]);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return id;
    if (rc != SQLITE_DONE) {
        db_log_error(d, "lookup attrs");
        return -1;
    }
    st = db_stmt(d, DB_ST_ATTRS_ADD);
    if (st == NULL)
        return -1;
    for (int i = 0; i < ATTR_COUNT; i++)
        sqlite3_bind_int64(st, i + 1, a[i]);
    if (db_step_done(d, st, "insert attrs") != 0)
        return -1;
    return sqlite3_last_insert_rowid(d->h);
}

int
db_attrs_get(db *d, int64_t id, int64_t a[])
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_ATTRS_BY_ID);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        for (int i = 0; i < ATTR_COUNT; i++)
            a[i] = sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_log_error(d, "read attrs");
        return -1;
    }
    return rc == SQLITE_ROW;
}

int64_t
db_visit_next_id(db *d)
{
    return d->in_tx ? d->next_visit++ : -1;
}

int
db_visit_put(db *d, const db_visit *v)
{
    if (v->start_ts >= 0
        && db_seal_touch(d, v->site_id, v->start_ts / DBS_DAY_MS,
                         v->end_ts / DBS_DAY_MS) != 0)
        return -1;
    if (d->nviq == DB_BATCH && db_batch_flush(d) != 0)
        return -1;
    d->viq[d->nviq++] = *v;
    return 0;
}

int
db_visit_get(db *d, int64_t id, db_visit *v)
{
    int rc = db_visit_get_row(d, id, v);
    /* a visit of a sealed day: its rows come back first */
    if (rc == 0 && d->in_tx && d->seal_n) {
        int64_t n = db_seal_touch_visit(d, id);
        rc = n < 0 ? -1 : n > 0 ? db_visit_get_row(d, id, v) : 0;
    }
    return rc;
}

static int
db_visit_get_row(db *d, int64_t id, db_visit *v)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_VISIT_GET);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        v->id = id;
        v->site_id = sqlite3_column_int64(st, 0);
        v->visitor_id = (uint64_t)sqlite3_column_int64(st, 1);
        v->start_ts = sqlite3_column_int64(st, 2);
        v->end_ts = sqlite3_column_int64(st, 3);
        v->entry_page_id = sqlite3_column_int64(st, 4);
        v->exit_page_id = sqlite3_column_int64(st, 5);
        v->attrs_id = sqlite3_column_int64(st, 6);
        v->pageviews = sqlite3_column_int64(st, 7);
        v->events = sqlite3_column_int64(st, 8);
        v->bounce = sqlite3_column_int64(st, 9);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_log_error(d, "read visit");
        return -1;
    }
    return rc == SQLITE_ROW;
}

int
db_rollup_add(db *d, const db_rollup_row *r)
{
    if (d->nruq == DB_BATCH && db_batch_flush(d) != 0)
        return -1;
    d->ruq[d->nruq++] = *r;
    return 0;
}

int
db_meta_get(db *d, const char *k, int64_t *v)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_META_GET);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_log_error(d, "read meta");
        return -1;
    }
    return rc == SQLITE_ROW;
}

int
db_meta_set(db *d, const char *k, int64_t v)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_META_SET);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    return db_step_done(d, st, "write meta");
}
