/* db_q_raw.c -- the raw-events path of the Stats API executor and the SQL
 * builder shared with db_q_rollup.c; see db_q.h. */
#include "aggregator/db_q_int.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DBQ_DEADLINE_S 30      /* a statement running longer is stopped */

/* ---- the builder ---- */

void
dbq_sql_free(dbq_sql *q)
{
    free(q->s);
    free(q->b);
    memset(q, 0, sizeof(*q));
}

void
dbq_cat(dbq_sql *q, const char *frag)
{
    size_t n = strlen(frag);
    if (q->oom)
        return;
    if (q->len + n + 1 > q->cap) {
        size_t c = q->cap ? q->cap : 512;
        while (c < q->len + n + 1)
            c *= 2;
        char *p = realloc(q->s, c);
        if (p == NULL) {
            q->oom = 1;
            return;
        }
        q->s = p;
        q->cap = c;
    }
    memcpy(q->s + q->len, frag, n + 1);
    q->len += n;
}

static dbq_bind *
dbq_bind_new(dbq_sql *q)
{
    if (q->oom)
        return NULL;
    if (q->nb == q->capb) {
        size_t c = q->capb ? q->capb * 2 : 16;
        dbq_bind *p = realloc(q->b, c * sizeof(*p));
        if (p == NULL) {
            q->oom = 1;
            return NULL;
        }
        q->b = p;
        q->capb = c;
    }
    dbq_cat(q, "?");
    return q->oom ? NULL : &q->b[q->nb++];
}

void
dbq_int(dbq_sql *q, int64_t v)
{
    dbq_bind *b = dbq_bind_new(q);
    if (b)
        *b = (dbq_bind){ .text = 0, .i = v };
}

void
dbq_text(dbq_sql *q, const char *v)
{
    dbq_bind *b = dbq_bind_new(q);
    if (b)
        *b = (dbq_bind){ .text = 1, .t = v };
}

static void
dbq_catf(dbq_sql *q, const char *fmt, int v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    dbq_cat(q, buf);
}

/* ---- predicates ---- */

int
dbq_pred_has_event_col(const dbq_pred *p)
{
    if (p == NULL)
        return 0;
    switch (p->kind) {
    case DBQ_P_LEAF:
        return !DBQ_IS_VISIT_COL(p->col);
    case DBQ_P_GOAL:
    case DBQ_P_HAS_DONE:
    case DBQ_P_HAS_NOT_DONE:
        return 1;
    default:
        for (size_t i = 0; i < p->nkids; i++)
            if (dbq_pred_has_event_col(&p->kids[i]))
                return 1;
        return 0;
    }
}

/* the set of dictionary ids matcher fid accepts */
void
dbq_idset(dbq_sql *q, int fid)
{
    dbq_catf(q, " IN (SELECT id FROM strings WHERE tally_m(%d, s))", fid);
}

/* props ids whose object has key (non-null) [and whose value matches
 * fid when fid >= 0] */
void
dbq_propset(dbq_sql *q, const char *key, int fid)
{
    dbq_cat(q, " IN (SELECT p.id FROM strings p, json_each(CASE WHEN"
               " json_valid(p.s) THEN p.s ELSE '{}' END) j"
               " WHERE p.s GLOB '{*' AND j.type <> 'null' AND j.key = ");
    dbq_text(q, key);
    if (fid >= 0)
    {
        dbq_catf(q, " AND tally_m(%d,", fid);
        dbq_cat(q, " CASE j.type WHEN 'text' THEN j.value"
                   " WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
                   " WHEN 'integer' THEN CAST(j.value AS TEXT)"
                   " WHEN 'real' THEN CAST(j.value AS TEXT)"
                   " ELSE j.value END)");
    }
    dbq_cat(q, ")");
}

static const dbq_scope dbq_inner_scope = {
    .col = {
        [DBQ_NAME] = "e2.name_id", [DBQ_PAGE] = "e2.pathname_id",
        [DBQ_HOST] = "e2.hostname_id", [DBQ_PROPS] = "e2.props_id",
    },
    .visitor = "e2.visitor_id",
};

int
dbq_pred_sql(dbq_sql *q, const dbq_pred *p, const dbq_scope *sc,
             int64_t site, int64_t sub_lo, int64_t sub_hi,
             int64_t pageview_id)
{
    switch (p->kind) {
    case DBQ_P_TRUE:
        dbq_cat(q, "1");
        return 0;
    case DBQ_P_FALSE:
        dbq_cat(q, "0");
        return 0;
    case DBQ_P_NOT:
        dbq_cat(q, "NOT (");
        if (p->nkids != 1 || dbq_pred_sql(q, &p->kids[0], sc, site, sub_lo,
                                          sub_hi, pageview_id) != 0)
            return -1;
        dbq_cat(q, ")");
        return 0;
    case DBQ_P_AND:
    case DBQ_P_OR:
        if (p->nkids == 0) {
            dbq_cat(q, p->kind == DBQ_P_AND ? "1" : "0");
            return 0;
        }
        dbq_cat(q, "(");
        for (size_t i = 0; i < p->nkids; i++) {
            if (i)
                dbq_cat(q, p->kind == DBQ_P_AND ? " AND " : " OR ");
            dbq_cat(q, "(");
            if (dbq_pred_sql(q, &p->kids[i], sc, site, sub_lo, sub_hi,
                             pageview_id) != 0)
                return -1;
            dbq_cat(q, ")");
        }
        dbq_cat(q, ")");
        return 0;
    case DBQ_P_LEAF: {
        const char *c = p->col >= 0 && p->col < DBQ_NCOLS ? sc->col[p->col] : NULL;
        if (c == NULL)
            return -1;
        dbq_cat(q, "(");
        dbq_cat(q, c);
        if (p->col == DBQ_PROPS) {
            dbq_propset(q, p->prop_key, p->fid);
            if (p->none_match) {
                dbq_cat(q, " OR ");
                dbq_cat(q, c);
                dbq_cat(q, " NOT");
                dbq_propset(q, p->prop_key, -1);
            }
        } else {
            dbq_idset(q, p->fid);
            if (p->none_match) {
                dbq_cat(q, " OR ");
                dbq_cat(q, c);
                dbq_cat(q, " = 0");
            }
        }
        dbq_cat(q, ")");
        return 0;
    }
    case DBQ_P_GOAL: {
        const char *n = sc->col[DBQ_NAME], *pg = sc->col[DBQ_PAGE];
        if (n == NULL || pg == NULL)
            return -1;
        dbq_cat(q, "(0");
        if (p->fid >= 0) {
            dbq_cat(q, " OR ");
            dbq_cat(q, n);
            dbq_idset(q, p->fid);
        }
        if (p->fid2 >= 0 && pageview_id > 0) {
            dbq_cat(q, " OR (");
            dbq_cat(q, n);
            dbq_cat(q, " = ");
            dbq_int(q, pageview_id);
            dbq_cat(q, " AND ");
            dbq_cat(q, pg);
            dbq_idset(q, p->fid2);
            dbq_cat(q, ")");
        }
        dbq_cat(q, ")");
        return 0;
    }
    case DBQ_P_HAS_DONE:
    case DBQ_P_HAS_NOT_DONE:
        if (sc->visitor == NULL || p->nkids != 1)
            return -1;
        if (sc->vs && dbq_vsets_find(sc->vs, p) >= 0) {
            /* the visitor set was computed in C (sealed days) */
            dbq_catf(q, "(tally_vs(%d, ", dbq_vsets_find(sc->vs, p));
            dbq_cat(q, sc->visitor);
            dbq_cat(q, p->kind == DBQ_P_HAS_DONE ? ") = 1)" : ") = 0)");
            return 0;
        }
        dbq_cat(q, "(");
        dbq_cat(q, sc->visitor);
        dbq_cat(q, p->kind == DBQ_P_HAS_DONE ? " IN " : " NOT IN ");
        dbq_cat(q, "(SELECT e2.visitor_id FROM events e2 WHERE e2.site_id = ");
        dbq_int(q, site);
        dbq_cat(q, " AND e2.ts >= ");
        dbq_int(q, sub_lo);
        dbq_cat(q, " AND e2.ts < ");
        dbq_int(q, sub_hi);
        dbq_cat(q, " AND ");
        if (dbq_pred_sql(q, &p->kids[0], &dbq_inner_scope, site, sub_lo,
                         sub_hi, pageview_id) != 0)
            return -1;
        dbq_cat(q, "))");
        return 0;
    }
    return -1;
}

/* ---- the SQL function and the deadline ---- */

static void
dbq_fn_match(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    qm_set *m = sqlite3_user_data(cx);
    const unsigned char *s = sqlite3_value_text(argv[1]);
    if (s == NULL) {
        sqlite3_result_int(cx, 0);
        return;
    }
    int r = qm_match(m, sqlite3_value_int(argv[0]), (const char *)s,
                     (size_t)sqlite3_value_bytes(argv[1]));
    if (qm_error(m)) {
        sqlite3_result_error(cx, qm_error(m), -1);
        return;
    }
    sqlite3_result_int(cx, r);
}

static int
dbq_progress(void *ctx)
{
    const struct timespec *dl = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > dl->tv_sec;
}

static _Thread_local struct timespec dbq_deadline;

int
dbq_deadline_passed(void)
{
    return dbq_progress(&dbq_deadline);
}

void
dbq_register(db *d, qm_set *m)
{
    if (m == NULL) {
        sqlite3_create_function_v2(d->h, "tally_m", 2, SQLITE_UTF8, NULL,
                                   NULL, NULL, NULL, NULL);
        sqlite3_progress_handler(d->h, 0, NULL, NULL);
        return;
    }
    sqlite3_create_function_v2(d->h, "tally_m", 2,
                               SQLITE_UTF8 | SQLITE_DETERMINISTIC, m,
                               dbq_fn_match, NULL, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &dbq_deadline);
    dbq_deadline.tv_sec += DBQ_DEADLINE_S;
    sqlite3_progress_handler(d->h, 100000, dbq_progress, &dbq_deadline);
}

sqlite3_stmt *
dbq_prepare(db *d, dbq_sql *q)
{
    if (q->oom)
        return NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, q->s, (int)q->len, &st, NULL) != SQLITE_OK) {
        db_log_error(d, "prepare stats query");
        return NULL;
    }
    for (size_t i = 0; i < q->nb; i++) {
        if (q->b[i].text)
            sqlite3_bind_text(st, (int)i + 1, q->b[i].t, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, (int)i + 1, q->b[i].i);
    }
    return st;
}

int
dbq_run(db *d, sqlite3_stmt *st, int (*row)(void *, sqlite3_stmt *),
        void *ctx)
{
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((out = row(ctx, st)) != 0)
            break;
    if (out == 0 && rc != SQLITE_DONE) {
        if (rc != SQLITE_ERROR || strstr(sqlite3_errmsg(d->h), "too expensive") == NULL)
            db_log_error(d, "stats query");
        out = -1;
    }
    sqlite3_finalize(st);
    return out;
}

/* ---- scopes ---- */

#define DBQ_ATTR_COLS(p) \
    [DBQ_ATTR0 + ATTR_SOURCE] = "COALESCE(" p ".source, 0)", \
    [DBQ_ATTR0 + ATTR_REFERRER] = "COALESCE(" p ".referrer, 0)", \
    [DBQ_ATTR0 + ATTR_CHANNEL] = "COALESCE(" p ".channel, 0)", \
    [DBQ_ATTR0 + ATTR_UTM_MEDIUM] = "COALESCE(" p ".utm_medium, 0)", \
    [DBQ_ATTR0 + ATTR_UTM_SOURCE] = "COALESCE(" p ".utm_source, 0)", \
    [DBQ_ATTR0 + ATTR_UTM_CAMPAIGN] = "COALESCE(" p ".utm_campaign, 0)", \
    [DBQ_ATTR0 + ATTR_UTM_CONTENT] = "COALESCE(" p ".utm_content, 0)", \
    [DBQ_ATTR0 + ATTR_UTM_TERM] = "COALESCE(" p ".utm_term, 0)", \
    [DBQ_ATTR0 + ATTR_COUNTRY] = "COALESCE(" p ".country, 0)", \
    [DBQ_ATTR0 + ATTR_BROWSER] = "COALESCE(" p ".browser, 0)", \
    [DBQ_ATTR0 + ATTR_BROWSER_VERSION] = "COALESCE(" p ".browser_version, 0)", \
    [DBQ_ATTR0 + ATTR_OS] = "COALESCE(" p ".os, 0)", \
    [DBQ_ATTR0 + ATTR_OS_VERSION] = "COALESCE(" p ".os_version, 0)", \
    [DBQ_ATTR0 + ATTR_DEVICE] = "COALESCE(" p ".device, 0)"

static const dbq_scope dbq_event_scope = {
    .col = {
        [DBQ_NAME] = "e.name_id", [DBQ_PAGE] = "e.pathname_id",
        [DBQ_HOST] = "e.hostname_id", [DBQ_PROPS] = "e.props_id",
        [DBQ_ENTRY] = "COALESCE(v.entry_page_id, 0)",
        [DBQ_EXIT] = "COALESCE(v.exit_page_id, 0)",
        DBQ_ATTR_COLS("a"),
    },
    .visitor = "e.visitor_id",
};

/* events of the visit scan's subquery (aliases e, v2, a2) */
static const dbq_scope dbq_sub_scope = {
    .col = {
        [DBQ_NAME] = "e.name_id", [DBQ_PAGE] = "e.pathname_id",
        [DBQ_HOST] = "e.hostname_id", [DBQ_PROPS] = "e.props_id",
        [DBQ_ENTRY] = "COALESCE(v2.entry_page_id, 0)",
        [DBQ_EXIT] = "COALESCE(v2.exit_page_id, 0)",
        DBQ_ATTR_COLS("a2"),
    },
    .visitor = "e.visitor_id",
};

static const dbq_scope dbq_visit_scope = {
    .col = {
        [DBQ_ENTRY] = "v.entry_page_id", [DBQ_EXIT] = "v.exit_page_id",
        DBQ_ATTR_COLS("a"),
    },
    .visitor = "v.visitor_id",
};

int
dbq_pred_has_visit_col(const dbq_pred *p)
{
    if (p == NULL)
        return 0;
    if (p->kind == DBQ_P_LEAF)
        return DBQ_IS_VISIT_COL(p->col);
    if (p->kind == DBQ_P_HAS_DONE || p->kind == DBQ_P_HAS_NOT_DONE)
        return 0;
    for (size_t i = 0; i < p->nkids; i++)
        if (dbq_pred_has_visit_col(&p->kids[i]))
            return 1;
    return 0;
}

/* ---- events ---- */

typedef struct {
    int (*fn)(void *, const dbq_event_row *);
    void *ctx;
    int   join;
} dbq_ev_ctx;

static int
dbq_event_row_cb(void *ctx, sqlite3_stmt *st)
{
    dbq_ev_ctx *c = ctx;
    dbq_event_row e;
    memset(&e, 0, sizeof(e));
    e.vix = -1;
    e.ts = sqlite3_column_int64(st, 0);
    e.visitor = (uint64_t)sqlite3_column_int64(st, 1);
    e.visit = sqlite3_column_int64(st, 2);
    e.name = sqlite3_column_int64(st, 3);
    e.page = sqlite3_column_int64(st, 4);
    e.host = sqlite3_column_int64(st, 5);
    e.props = sqlite3_column_int64(st, 6);
    if (c->join) {
        e.entry = sqlite3_column_int64(st, 7);
        e.exit = sqlite3_column_int64(st, 8);
        for (int i = 0; i < ATTR_COUNT; i++)
            e.a[i] = sqlite3_column_int64(st, 9 + i);
    }
    return c->fn(c->ctx, &e);
}

int
dbq_events_sql(db *d, const dbq_raw_req *r, int64_t lo, int64_t hi,
               const dbq_vsets *vs,
               int (*fn)(void *ctx, const dbq_event_row *e), void *ctx)
{
    int join = r->need_visit || dbq_pred_has_visit_col(r->pred);
    dbq_sql q = { 0 };
    dbq_cat(&q, "SELECT e.ts, e.visitor_id, e.visit_id, e.name_id,"
                " e.pathname_id, e.hostname_id, e.props_id");
    if (join)
        dbq_cat(&q, ", COALESCE(v.entry_page_id, 0), COALESCE(v.exit_page_id, 0),"
                    " COALESCE(a.source, 0), COALESCE(a.referrer, 0),"
                    " COALESCE(a.channel, 0), COALESCE(a.utm_medium, 0),"
                    " COALESCE(a.utm_source, 0), COALESCE(a.utm_campaign, 0),"
                    " COALESCE(a.utm_content, 0), COALESCE(a.utm_term, 0),"
                    " COALESCE(a.country, 0), COALESCE(a.browser, 0),"
                    " COALESCE(a.browser_version, 0), COALESCE(a.os, 0),"
                    " COALESCE(a.os_version, 0), COALESCE(a.device, 0)"
                    " FROM events e LEFT JOIN visits v ON v.id = e.visit_id"
                    " LEFT JOIN attrs a ON a.id = v.attrs_id");
    else
        dbq_cat(&q, " FROM events e");
    dbq_cat(&q, " WHERE e.site_id = ");
    dbq_int(&q, r->site);
    dbq_cat(&q, " AND e.ts >= ");
    dbq_int(&q, lo);
    dbq_cat(&q, " AND e.ts < ");
    dbq_int(&q, hi);
    if (r->pred) {
        dbq_scope sc = dbq_event_scope;
        sc.vs = vs;
        dbq_cat(&q, " AND ");
        if (dbq_pred_sql(&q, r->pred, &sc, r->site, r->sub_lo,
                         r->sub_hi, r->pageview_id) != 0) {
            dbq_sql_free(&q);
            return -1;
        }
    }
    dbq_cat(&q, " ORDER BY e.ts, e.seq");
    sqlite3_stmt *st = dbq_prepare(d, &q);
    int rc = -1;
    if (st) {
        dbq_ev_ctx c = { fn, ctx, join };
        rc = dbq_run(d, st, dbq_event_row_cb, &c);
    }
    dbq_sql_free(&q);
    return rc;
}

int
dbq_events(db *d, const dbq_raw_req *r,
           int (*fn)(void *ctx, const dbq_event_row *e), void *ctx)
{
    dbq_register(d, r->m);
    int rc = dbq_seal_events(d, r, fn, ctx);
    dbq_register(d, NULL);
    return rc;
}

/* ---- visits ---- */

typedef struct {
    int (*fn)(void *, const dbq_visit_row *);
    void *ctx;
} dbq_vi_ctx;

static int
dbq_visit_row_cb(void *ctx, sqlite3_stmt *st)
{
    dbq_vi_ctx *c = ctx;
    dbq_visit_row v;
    v.id = sqlite3_column_int64(st, 0);
    v.visitor = (uint64_t)sqlite3_column_int64(st, 1);
    v.start = sqlite3_column_int64(st, 2);
    v.end = sqlite3_column_int64(st, 3);
    v.entry = sqlite3_column_int64(st, 4);
    v.exit = sqlite3_column_int64(st, 5);
    v.pageviews = sqlite3_column_int64(st, 6);
    v.events = sqlite3_column_int64(st, 7);
    v.bounce = sqlite3_column_int64(st, 8);
    for (int i = 0; i < ATTR_COUNT; i++)
        v.a[i] = sqlite3_column_int64(st, 9 + i);
    return c->fn(c->ctx, &v);
}

int
dbq_visits_sql(db *d, const dbq_raw_req *r, const dbq_vsets *vs,
               int (*fn)(void *ctx, const dbq_visit_row *v), void *ctx)
{
    dbq_sql q = { 0 };
    dbq_cat(&q, "SELECT v.id, v.visitor_id, v.start_ts, v.end_ts,"
                " v.entry_page_id, v.exit_page_id, v.pageviews, v.events,"
                " v.bounce, COALESCE(a.source, 0), COALESCE(a.referrer, 0),"
                " COALESCE(a.channel, 0), COALESCE(a.utm_medium, 0),"
                " COALESCE(a.utm_source, 0), COALESCE(a.utm_campaign, 0),"
                " COALESCE(a.utm_content, 0), COALESCE(a.utm_term, 0),"
                " COALESCE(a.country, 0), COALESCE(a.browser, 0),"
                " COALESCE(a.browser_version, 0), COALESCE(a.os, 0),"
                " COALESCE(a.os_version, 0), COALESCE(a.device, 0)"
                " FROM visits v LEFT JOIN attrs a ON a.id = v.attrs_id"
                " WHERE v.site_id = ");
    dbq_int(&q, r->site);
    dbq_cat(&q, " AND v.start_ts >= ");
    dbq_int(&q, r->lo);
    dbq_cat(&q, " AND v.start_ts < ");
    dbq_int(&q, r->hi);
    int bad = 0;
    if (r->pred && dbq_pred_has_event_col(r->pred) && vs && vs->visit_k >= 0) {
        /* the visits with such an event were found in C (sealed days) */
        dbq_catf(&q, " AND tally_vs(%d, v.id) = 1", vs->visit_k);
    } else if (r->pred && dbq_pred_has_event_col(r->pred)) {
        /* the visit had an event (with its own visit's attributes)
         * satisfying the predicate */
        dbq_cat(&q, " AND v.id IN (SELECT e.visit_id FROM events e"
                    " LEFT JOIN visits v2 ON v2.id = e.visit_id"
                    " LEFT JOIN attrs a2 ON a2.id = v2.attrs_id"
                    " WHERE e.site_id = ");
        dbq_int(&q, r->site);
        dbq_cat(&q, " AND e.ts >= ");
        dbq_int(&q, r->sub_lo);
        dbq_cat(&q, " AND e.ts < ");
        dbq_int(&q, r->sub_hi);
        dbq_cat(&q, " AND ");
        bad = dbq_pred_sql(&q, r->pred, &dbq_sub_scope, r->site, r->sub_lo,
                           r->sub_hi, r->pageview_id);
        dbq_cat(&q, ")");
    } else if (r->pred) {
        dbq_scope sc = dbq_visit_scope;
        sc.vs = vs;
        dbq_cat(&q, " AND ");
        bad = dbq_pred_sql(&q, r->pred, &sc, r->site, r->sub_lo,
                           r->sub_hi, r->pageview_id);
    }
    if (bad) {
        dbq_sql_free(&q);
        return -1;
    }
    sqlite3_stmt *st = dbq_prepare(d, &q);
    int rc = -1;
    if (st) {
        dbq_vi_ctx c = { fn, ctx };
        rc = dbq_run(d, st, dbq_visit_row_cb, &c);
    }
    dbq_sql_free(&q);
    return rc;
}

int
dbq_visits(db *d, const dbq_raw_req *r,
           int (*fn)(void *ctx, const dbq_visit_row *v), void *ctx)
{
    dbq_register(d, r->m);
    int rc = dbq_seal_visits(d, r, fn, ctx);
    dbq_register(d, NULL);
    return rc;
}

/* ---- sites, realtime ---- */

int
dbq_site(db *d, const char *domain, int64_t *id, char *tz, size_t cap,
         int64_t *first_hour)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, "SELECT id, timezone FROM sites WHERE domain = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        db_log_error(d, "prepare site lookup");
        return -1;
    }
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        *id = sqlite3_column_int64(st, 0);
        const char *z = (const char *)sqlite3_column_text(st, 1);
        snprintf(tz, cap, "%s", z ? z : "UTC");
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_finalize(st);
    if (found != 1)
        return found;
    *first_hour = -1;
    if (sqlite3_prepare_v2(d->h, "SELECT MIN(hour) FROM rollup_hourly"
                           " WHERE site_id = ?1 AND dim = 0", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, *id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *first_hour = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 1;
}

int64_t
dbq_distinct_visitors(db *d, int64_t site, int64_t lo, int64_t hi)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, "SELECT COUNT(*) FROM (SELECT DISTINCT"
                           " visitor_id, ts / 86400000 FROM events"
                           " WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3)",
                           -1, &st, NULL) != SQLITE_OK) {
        db_log_error(d, "prepare realtime");
        return -1;
    }
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}
