/* db_batch.c -- the ingest's hot rows (raw events, visits, rollup
 * deltas) are queued on the handle and written DB_BATCH at a time by one
 * multi-row INSERT: a statement's fixed cost (step, reset, VDBE set-up
 * and halt) is paid once per 16 rows instead of once per row.  A short
 * queue is written row by row.  db_stmt() (but for the dictionary
 * statements, which do not touch these tables) and db_commit() write the
 * queues before anything else runs, so no statement of the handle can
 * read the tables without the queued rows; db_rollback() drops them.
 * Per table, rows are written in the order they were queued, which keeps
 * the single-row semantics: a later upsert of the same rollup key adds
 * to the earlier one; a later visit row replaces the earlier one. */
#include "aggregator/db_int.h"
#include "aggregator/dims.h"
#include "aggregator/tz.h"

static void
db_bind_event(sqlite3_stmt *st, int p, const void *row)
{
    const db_event2 *e = row;
    sqlite3_bind_int64(st, p + 1, e->site_id);
    sqlite3_bind_int64(st, p + 2, e->ts);
    sqlite3_bind_int64(st, p + 3, e->seq);
    sqlite3_bind_int64(st, p + 4, (int64_t)e->visitor_id);
    sqlite3_bind_int64(st, p + 5, e->visit_id);
    sqlite3_bind_int64(st, p + 6, e->name_id);
    sqlite3_bind_int64(st, p + 7, e->pathname_id);
    sqlite3_bind_int64(st, p + 8, e->hostname_id);
    sqlite3_bind_int64(st, p + 9, e->attrs_id);
    sqlite3_bind_int64(st, p + 10, e->props_id);
    sqlite3_bind_int64(st, p + 11, e->revenue_id);
    sqlite3_bind_int(st, p + 12, e->flags);
}

static void
db_bind_visit(sqlite3_stmt *st, int p, const void *row)
{
    const db_visit *v = row;
    sqlite3_bind_int64(st, p + 1, v->id);
    sqlite3_bind_int64(st, p + 2, v->site_id);
    sqlite3_bind_int64(st, p + 3, (int64_t)v->visitor_id);
    sqlite3_bind_int64(st, p + 4, v->start_ts);
    sqlite3_bind_int64(st, p + 5, v->end_ts);
    sqlite3_bind_int64(st, p + 6, v->entry_page_id);
    sqlite3_bind_int64(st, p + 7, v->exit_page_id);
    sqlite3_bind_int64(st, p + 8, v->attrs_id);
    sqlite3_bind_int64(st, p + 9, v->pageviews);
    sqlite3_bind_int64(st, p + 10, v->events);
    sqlite3_bind_int64(st, p + 11, v->bounce);
}

static void
db_bind_rollup(sqlite3_stmt *st, int p, const void *row)
{
    const db_rollup_row *r = row;
    sqlite3_bind_int64(st, p + 1, r->site);
    sqlite3_bind_int(st, p + 2, r->dim);
    sqlite3_bind_int64(st, p + 3, r->hour);
    sqlite3_bind_int64(st, p + 4, r->k1);
    sqlite3_bind_int64(st, p + 5, r->k2);
    for (int i = 0; i < M_COUNT; i++)
        sqlite3_bind_int64(st, p + 6 + i, r->m[i]);
}

/* Binds a rollup row's key as ?1..?5 (site, dim, time t, k1, k2). */
static void
db_bind_key(sqlite3_stmt *st, const db_rollup_row *r, int64_t t)
{
    sqlite3_bind_int64(st, 1, r->site);
    sqlite3_bind_int(st, 2, r->dim);
    sqlite3_bind_int64(st, 3, t);
    sqlite3_bind_int64(st, 4, r->k1);
    sqlite3_bind_int64(st, 5, r->k2);
}

/* The queued rows of one table and how to write them. */
typedef struct {
    enum db_stmt_id one, many;
    int             ncols;
    size_t          size;
    void          (*bind)(sqlite3_stmt *, int, const void *);
    const char     *what;
} db_queue;

static const db_queue db_queues[3] = {
    { DB_ST_EVENT2_ADD, DB_ST_EVENT2_ADD_N, 12, sizeof(db_event2),
      db_bind_event, "insert event" },
    { DB_ST_VISIT_PUT, DB_ST_VISIT_PUT_N, 11, sizeof(db_visit),
      db_bind_visit, "write visit" },
    { DB_ST_ROLLUP_ADD, DB_ST_ROLLUP_ADD_N, 12, sizeof(db_rollup_row),
      db_bind_rollup, "write rollup" },
};

static int
db_queue_write(db *d, const db_queue *q, const void *rows, int n)
{
    const char *p = rows;
    if (n == DB_BATCH) {
        sqlite3_stmt *st = db_hot(d, q->many);
        if (st == NULL)
            return -1;
        for (int i = 0; i < n; i++)
            q->bind(st, i * q->ncols, p + (size_t)i * q->size);
        return db_step_done(d, st, q->what);
    }
    for (int i = 0; i < n; i++) {
        sqlite3_stmt *st = db_hot(d, q->one);
        if (st == NULL)
            return -1;
        q->bind(st, 0, p + (size_t)i * q->size);
        if (db_step_done(d, st, q->what) != 0)
            return -1;
    }
    return 0;
}

/* Rollup rows that a negative delta may have brought to all zeros are
 * deleted after the upserts (the end state is the same as deleting right
 * after each one: a row re-created later holds the same sums). */
static int
db_rollup_zeros(db *d, const db_rollup_row *r, int n)
{
    for (int i = 0; i < n; i++) {
        int neg = 0;
        for (int j = 0; j < M_COUNT; j++)
            neg |= r[i].m[j] < 0;
        if (!neg)
            continue;
        sqlite3_stmt *st = db_hot(d, DB_ST_ROLLUP_ZERO_DEL);
        if (st == NULL)
            return -1;
        db_bind_key(st, &r[i], r[i].hour);
        if (db_step_done(d, st, "delete empty rollup") != 0)
            return -1;
    }
    return 0;
}

/* Adds r's deltas to its coarse row (tier DB_ST_RDAILY_ADD or
 * DB_ST_RMONTHLY_ADD, time key t); deletes the row when a negative delta
 * brought it to all zeros. */
static int
db_tier_add(db *d, enum db_stmt_id add, enum db_stmt_id zero,
            const db_rollup_row *r, int64_t t)
{
    sqlite3_stmt *st = db_hot(d, add);
    if (st == NULL)
        return -1;
    db_bind_key(st, r, t);
    int neg = 0;
    for (int i = M_VISITORS_NEW, p = 6; i < M_COUNT; i++, p++) {
        sqlite3_bind_int64(st, p, r->m[i]);
        neg |= r->m[i] < 0;
    }
    if (db_step_done(d, st, "write coarse rollup") != 0)
        return -1;
    if (!neg)
        return 0;
    if ((st = db_hot(d, zero)) == NULL)
        return -1;
    db_bind_key(st, r, t);
    return db_step_done(d, st, "delete empty coarse rollup");
}

/* Rollup deltas of hours the coarse tables already hold (late events,
 * rebuilt days) go to them too: the rows stay the sums of the finer
 * ones (see db_schema.c for deletions). */
static int
db_rollup_tiers(db *d, const db_rollup_row *r, int n)
{
    for (int i = 0; i < n; i++) {
        if (r[i].hour >= d->tier_daily_h || r[i].hour < 0)
            continue;
        int64_t day = r[i].hour / 24;
        if (db_tier_add(d, DB_ST_RDAILY_ADD, DB_ST_RDAILY_ZERO_DEL, &r[i], day) != 0)
            return -1;
        if (day >= d->tier_monthly_d)
            continue;
        int64_t y;
        unsigned m, dd;
        tz_civil_from_days(day, &y, &m, &dd);
        if (db_tier_add(d, DB_ST_RMONTHLY_ADD, DB_ST_RMONTHLY_ZERO_DEL, &r[i],
                        tz_days_from_civil(y, m, 1)) != 0)
            return -1;
    }
    return 0;
}

int
db_batch_flush(db *d)
{
    if (d->flushing || (d->nevq | d->nviq | d->nruq) == 0)
        return 0;
    d->flushing = 1;
    int rc = 0;
    if (d->nevq)
        rc = db_queue_write(d, &db_queues[0], d->evq, d->nevq);
    if (rc == 0 && d->nviq)
        rc = db_queue_write(d, &db_queues[1], d->viq, d->nviq);
    if (rc == 0 && d->nruq) {
        rc = db_queue_write(d, &db_queues[2], d->ruq, d->nruq);
        if (rc == 0)
            rc = db_rollup_zeros(d, d->ruq, d->nruq);
        if (rc == 0)
            rc = db_rollup_tiers(d, d->ruq, d->nruq);
    }
    d->flushing = 0;
    d->nevq = d->nviq = d->nruq = 0;
    return rc;
}

void
db_batch_drop(db *d)
{
    d->nevq = d->nviq = d->nruq = 0;
}
