/* db_batch.c -- the ingest's hot rows (raw events, visits, rollup
 * deltas) are queued on the handle and written DB_BATCH at a time, each
 * table's queue by one INSERT ... SELECT from a virtual table that reads
 * the queued rows in place (tally_queue_events, _visits, _rollups): a
 * statement's fixed cost (step, reset, VDBE set-up and halt) is paid once
 * per batch, and no value is bound (sqlite3_bind_* costs more per value
 * than the virtual table's column callback).  db_stmt() (but for the
 * dictionary statements, which do not touch these tables) and
 * db_commit() write the queues before anything else runs, so no
 * statement of the handle can read the tables without the queued rows;
 * db_rollback() drops them.  Per table, rows are written in the order
 * they were queued (the virtual table yields them in that order), which
 * keeps the single-row semantics: a later upsert of the same rollup key
 * adds to the earlier one; a later visit row replaces the earlier one. */
#include "aggregator/db_int.h"
#include "aggregator/dims.h"
#include "aggregator/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column c of a queued row, in the order of its virtual table's
 * declaration (db_queues[].decl). */
static inline int64_t
db_event_col(const db_event2 *e, int c)
{
    switch (c) {
    case 0: return e->site_id;
    case 1: return e->ts;
    case 2: return e->seq;
    case 3: return (int64_t)e->visitor_id;
    case 4: return e->visit_id;
    case 5: return e->name_id;
    case 6: return e->pathname_id;
    case 7: return e->hostname_id;
    case 8: return e->attrs_id;
    case 9: return e->props_id;
    case 10: return e->revenue_id;
    default: return e->flags;
    }
}

static inline int64_t
db_visit_col(const db_visit *v, int c)
{
    switch (c) {
    case 0: return v->id;
    case 1: return v->site_id;
    case 2: return (int64_t)v->visitor_id;
    case 3: return v->start_ts;
    case 4: return v->end_ts;
    case 5: return v->entry_page_id;
    case 6: return v->exit_page_id;
    case 7: return v->attrs_id;
    case 8: return v->pageviews;
    case 9: return v->events;
    default: return v->bounce;
    }
}

static inline int64_t
db_rollup_col(const db_rollup_row *r, int c)
{
    switch (c) {
    case 0: return r->site;
    case 1: return r->dim;
    case 2: return r->hour;
    case 3: return r->k1;
    case 4: return r->k2;
    default: return r->m[c - 5];
    }
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

/* One table's queue: its virtual table and the statement that writes
 * it. */
typedef struct {
    const char     *module;    /* the virtual table's name            */
    const char     *decl;      /* its columns, in db_*_col order      */
    enum db_stmt_id st;
    const char     *what;
} db_queue;

static const db_queue db_queues[3] = {
    { "tally_queue_events",
      "CREATE TABLE x(site_id, ts, seq, visitor_id, visit_id, name_id,"
      " pathname_id, hostname_id, attrs_id, props_id, revenue_id, flags)",
      DB_ST_EVENT2_ADD, "insert event" },
    { "tally_queue_visits",
      "CREATE TABLE x(id, site_id, visitor_id, start_ts, end_ts,"
      " entry_page_id, exit_page_id, attrs_id, pageviews, events, bounce)",
      DB_ST_VISIT_PUT, "write visit" },
    { "tally_queue_rollups",
      "CREATE TABLE x(site_id, dim, hour, k1, k2, visitors_hour,"
      " visitors_new, visits, pageviews, events, bounces, duration)",
      DB_ST_ROLLUP_ADD, "write rollup" },
};

/* The number of rows queued in queue `which` of d. */
static int
db_queue_len(const db *d, int which)
{
    return which == 0 ? d->nevq : which == 1 ? d->nviq : d->nruq;
}

/* ---- the queues' virtual tables (eponymous, read-only, one scan) ---- */

typedef struct {
    sqlite3_vtab        base;
    const db_queue_aux *aux;
} dbq_vtab;

typedef struct {
    sqlite3_vtab_cursor base;
    int                 row;
} dbq_cursor;

static int
dbq_connect(sqlite3 *h, void *aux, int argc, const char *const *argv,
            sqlite3_vtab **out, char **err)
{
    (void)argc;
    (void)argv;
    (void)err;
    const db_queue_aux *a = aux;
    int rc = sqlite3_declare_vtab(h, db_queues[a->which].decl);
    if (rc != SQLITE_OK)
        return rc;
    dbq_vtab *v = sqlite3_malloc(sizeof(*v));
    if (v == NULL)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof(*v));
    v->aux = a;
    *out = &v->base;
    return SQLITE_OK;
}

static int
dbq_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int
dbq_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    info->estimatedCost = DB_BATCH;
    info->estimatedRows = DB_BATCH;
    return SQLITE_OK;
}

static int
dbq_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    dbq_cursor *c = sqlite3_malloc(sizeof(*c));
    if (c == NULL)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof(*c));
    *out = &c->base;
    return SQLITE_OK;
}

static int
dbq_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int
dbq_filter(sqlite3_vtab_cursor *c, int idx, const char *idxstr, int argc,
           sqlite3_value **argv)
{
    (void)idx;
    (void)idxstr;
    (void)argc;
    (void)argv;
    ((dbq_cursor *)c)->row = 0;
    return SQLITE_OK;
}

static int
dbq_next(sqlite3_vtab_cursor *c)
{
    ((dbq_cursor *)c)->row++;
    return SQLITE_OK;
}

static int
dbq_eof(sqlite3_vtab_cursor *c)
{
    const db_queue_aux *a = ((dbq_vtab *)c->pVtab)->aux;
    return ((dbq_cursor *)c)->row >= db_queue_len(a->d, a->which);
}

/* xColumn of each queue's virtual table (one each: no switch per value). */
static int
dbq_event_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col)
{
    const db *d = ((dbq_vtab *)c->pVtab)->aux->d;
    sqlite3_result_int64(ctx, db_event_col(&d->evq[((dbq_cursor *)c)->row], col));
    return SQLITE_OK;
}

static int
dbq_visit_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col)
{
    const db *d = ((dbq_vtab *)c->pVtab)->aux->d;
    sqlite3_result_int64(ctx, db_visit_col(&d->viq[((dbq_cursor *)c)->row], col));
    return SQLITE_OK;
}

static int
dbq_rollup_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col)
{
    const db *d = ((dbq_vtab *)c->pVtab)->aux->d;
    sqlite3_result_int64(ctx, db_rollup_col(&d->ruq[((dbq_cursor *)c)->row], col));
    return SQLITE_OK;
}

static int
dbq_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *rowid)
{
    *rowid = ((dbq_cursor *)c)->row;
    return SQLITE_OK;
}

#define DBQ_MODULE(column)                                                 \
    {                                                                      \
        .iVersion = 0,                                                     \
        .xCreate = NULL,                 /* eponymous only */              \
        .xConnect = dbq_connect,                                           \
        .xBestIndex = dbq_best_index,                                      \
        .xDisconnect = dbq_disconnect,                                     \
        .xDestroy = dbq_disconnect,                                        \
        .xOpen = dbq_open,                                                 \
        .xClose = dbq_close,                                               \
        .xFilter = dbq_filter,                                             \
        .xNext = dbq_next,                                                 \
        .xEof = dbq_eof,                                                   \
        .xColumn = column,                                                 \
        .xRowid = dbq_rowid,                                               \
    }

/* By queue (db_queues order). */
static const sqlite3_module dbq_modules[3] = {
    DBQ_MODULE(dbq_event_column),
    DBQ_MODULE(dbq_visit_column),
    DBQ_MODULE(dbq_rollup_column),
};

int
db_batch_register(db *d, char *err, size_t errlen)
{
    for (int i = 0; i < 3; i++) {
        d->qaux[i] = (db_queue_aux){ .d = d, .which = i };
        if (sqlite3_create_module_v2(d->h, db_queues[i].module, &dbq_modules[i],
                                     &d->qaux[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "register %s: %s", db_queues[i].module,
                     sqlite3_errmsg(d->h));
            return -1;
        }
    }
    return 0;
}

/* ---- writing ---- */

/* Writes the queued rows of q (there is at least one). */
static int
db_queue_write(db *d, const db_queue *q)
{
    return db_step_done(d, db_hot(d, q->st), q->what);
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
        rc = db_queue_write(d, &db_queues[0]);
    if (rc == 0 && d->nviq)
        rc = db_queue_write(d, &db_queues[1]);
    if (rc == 0 && d->nruq) {
        rc = db_queue_write(d, &db_queues[2]);
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
