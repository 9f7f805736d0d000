/* db_q_sealed.c -- the raw scans of the Stats API over sealed days
 * (db_seal.h); see db_q_int.h.
 *
 * A sealed day's events (or visits) are decoded column-wise and the
 * predicate is evaluated in C, one column at a time over the whole day,
 * into a byte per row.  String predicates become bitmaps of accepted
 * dictionary ids, computed once per call by the same SQL the row path
 * uses (dbq_idset, dbq_propset); attribute tests become a byte per attrs
 * id.  has_done sets (visitors) and the visit scan's event predicate
 * (visit ids) are computed by scanning events -- sealed and not -- and
 * tested in C, or in the SQL of the unsealed stretches through tally_vs.
 *
 * Everything runs in one read transaction (when the caller has none), so
 * a day sealed meanwhile is seen either as rows or as a block. */
#include "aggregator/db_q_int.h"
#include "aggregator/db_seal.h"
#include "aggregator/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- the attrs table ---- */

typedef struct {
    int64_t *a;                   /* ATTR_COUNT values per id, 0 missing */
    size_t   n;                   /* ids 0..n-1 */
    int      loaded;
} dbq_attrtab;

static int
dbq_attr_row(void *ctx, sqlite3_stmt *st)
{
    dbq_attrtab *t = ctx;
    int64_t id = sqlite3_column_int64(st, 0);
    if (id < 0 || id > (int64_t)1 << 28)
        return 0;
    if ((uint64_t)id >= t->n) {
        size_t n = t->n ? t->n : 1024;
        while (n <= (uint64_t)id)
            n *= 2;
        int64_t *a = realloc(t->a, n * ATTR_COUNT * sizeof(*a));
        if (a == NULL)
            return -1;
        memset(a + t->n * ATTR_COUNT, 0, (n - t->n) * ATTR_COUNT * sizeof(*a));
        t->a = a;
        t->n = n;
    }
    for (int i = 0; i < ATTR_COUNT; i++)
        t->a[(size_t)id * ATTR_COUNT + (size_t)i] = sqlite3_column_int64(st, 1 + i);
    return 0;
}

static int
dbq_attrs_load(db *d, dbq_attrtab *t)
{
    if (t->loaded)
        return 0;
    dbq_sql q = { 0 };
    dbq_cat(&q, "SELECT id, COALESCE(source, 0), COALESCE(referrer, 0),"
                " COALESCE(channel, 0), COALESCE(utm_medium, 0),"
                " COALESCE(utm_source, 0), COALESCE(utm_campaign, 0),"
                " COALESCE(utm_content, 0), COALESCE(utm_term, 0),"
                " COALESCE(country, 0), COALESCE(browser, 0),"
                " COALESCE(browser_version, 0), COALESCE(os, 0),"
                " COALESCE(os_version, 0), COALESCE(device, 0) FROM attrs");
    sqlite3_stmt *st = dbq_prepare(d, &q);
    int rc = st ? dbq_run(d, st, dbq_attr_row, t) : -1;
    dbq_sql_free(&q);
    if (rc == 0)
        t->loaded = 1;
    return rc;
}

/* ---- compiled predicates ---- */

/* Value sources of a row: the columns of an events block (event scope)
 * or of a visits block (visit scope). */
enum { DBQ_S_NAME = 0, DBQ_S_PAGE, DBQ_S_HOST, DBQ_S_PROPS, DBQ_S_ENTRY,
       DBQ_S_EXIT, DBQ_S_ATTRS, DBQ_S_VISITOR, DBQ_S_N };

/* block column of each source: [0] events, [1] visits; -1 none */
static const int dbq_src_col[2][DBQ_S_N] = {
    { DBS_NAME, DBS_PAGE, DBS_HOST, DBS_PROPS, DBS_V_ENTRY, DBS_V_EXIT,
      DBS_V_ATTRS, DBS_VISITOR },
    { -1, -1, -1, -1, DBV_ENTRY, DBV_EXIT, DBV_ATTRS, DBV_VISITOR },
};

typedef struct dbq_cn {
    enum dbq_pred_kind kind;
    int        src;               /* LEAF: DBQ_S_*                       */
    int        props;             /* LEAF on props                       */
    int        none;              /* LEAF: none_match                    */
    dbq_bits   in, out;           /* accepted ids; props: the key's set  */
    uint8_t   *aacc;              /* attr LEAF: accepted, by attrs id    */
    size_t     naacc;
    uint8_t    aacc_missing;      /* attr LEAF: an attrs id without row  */
    int        g1, g2;            /* GOAL: name set / pageview page set  */
    dbq_bits   in2;
    int64_t    pv;
    int        set;               /* HAS_*: set index                    */
    struct dbq_cn *kids;
    size_t     nkids;
    uint8_t   *tmp;               /* AND/OR: a kid's result              */
    size_t     ntmp;
} dbq_cn;

/* The state of one call. */
typedef struct {
    db          *d;
    int64_t      site;
    dbq_attrtab  attrs;
    dbq_vsets    vs;
    uint64_t     rows;            /* rows looked at (deadline checks)    */
} dbq_sq;

static void
dbq_cn_free(dbq_cn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nkids; i++)
        dbq_cn_free(&c->kids[i]);
    free(c->kids);
    free(c->in.w);
    free(c->out.w);
    free(c->in2.w);
    free(c->aacc);
    free(c->tmp);
}

static int dbq_ev_scan(dbq_sq *s, const dbq_raw_req *r, int collect,
                       struct dbq_vset *into,
                       int (*fn)(void *, const dbq_event_row *), void *ctx);

enum { DBQ_COLLECT_NONE = 0, DBQ_COLLECT_VISITOR, DBQ_COLLECT_VISIT };

/* Compiles p for a scope (visits 0: an event's row, 1: a visit's) into
 * c; *mask gets the block columns it reads.  has_done sets are computed
 * here (events in [r->sub_lo, r->sub_hi) satisfying the kid).  Returns 0
 * or -1 (a column the scope lacks, as the SQL path; or an error). */
static int
dbq_compile(dbq_sq *s, const dbq_raw_req *r, const dbq_pred *p, int visits,
            dbq_cn *c, uint32_t *mask)
{
    memset(c, 0, sizeof(*c));
    c->kind = p->kind;
    switch (p->kind) {
    case DBQ_P_TRUE:
    case DBQ_P_FALSE:
        return 0;
    case DBQ_P_NOT:
    case DBQ_P_AND:
    case DBQ_P_OR:
        if (p->kind == DBQ_P_NOT && p->nkids != 1)
            return -1;
        if (p->nkids == 0) {
            c->kind = p->kind == DBQ_P_AND ? DBQ_P_TRUE : DBQ_P_FALSE;
            return 0;
        }
        if ((c->kids = calloc(p->nkids, sizeof(*c->kids))) == NULL)
            return -1;
        c->nkids = p->nkids;
        for (size_t i = 0; i < p->nkids; i++)
            if (dbq_compile(s, r, &p->kids[i], visits, &c->kids[i], mask) != 0)
                return -1;
        return 0;
    case DBQ_P_LEAF: {
        if (p->col < 0 || p->col >= DBQ_NCOLS)
            return -1;
        int src = p->col >= DBQ_ATTR0 ? DBQ_S_ATTRS : p->col;
        if (dbq_src_col[visits][src] < 0)
            return -1;
        c->src = src;
        c->none = p->none_match;
        c->props = p->col == DBQ_PROPS;
        *mask |= 1u << dbq_src_col[visits][src];
        if (dbq_bits_load(s->d, &c->in, c->props ? p->prop_key : NULL,
                          p->fid) != 0)
            return -1;
        if (c->props && c->none
            && dbq_bits_load(s->d, &c->out, p->prop_key, -1) != 0)
            return -1;
        if (src == DBQ_S_ATTRS) {
            /* a byte per attrs id: its attribute's value accepted */
            int ai = p->col - DBQ_ATTR0;
            if (dbq_attrs_load(s->d, &s->attrs) != 0)
                return -1;
            c->naacc = s->attrs.n;
            if ((c->aacc = malloc(c->naacc ? c->naacc : 1)) == NULL)
                return -1;
            for (size_t id = 0; id < c->naacc; id++) {
                int64_t v = s->attrs.a[id * ATTR_COUNT + (size_t)ai];
                c->aacc[id] = (uint8_t)(dbq_bits_has(&c->in, v)
                                        || (c->none && v == 0));
            }
            c->aacc_missing = (uint8_t)(dbq_bits_has(&c->in, 0) || c->none);
        }
        return 0;
    }
    case DBQ_P_GOAL:
        if (visits)
            return -1;
        *mask |= 1u << DBS_NAME | 1u << DBS_PAGE;
        c->pv = r->pageview_id;
        c->g1 = p->fid >= 0;
        c->g2 = p->fid2 >= 0 && r->pageview_id > 0;
        if ((c->g1 && dbq_bits_load(s->d, &c->in, NULL, p->fid) != 0)
            || (c->g2 && dbq_bits_load(s->d, &c->in2, NULL, p->fid2) != 0))
            return -1;
        return 0;
    case DBQ_P_HAS_DONE:
    case DBQ_P_HAS_NOT_DONE: {
        if (p->nkids != 1 || dbq_pred_has_visit_col(&p->kids[0]))
            return -1;
        *mask |= 1u << (visits ? DBV_VISITOR : DBS_VISITOR);
        int k = dbq_vsets_find(&s->vs, p);
        if (k < 0) {
            if ((k = dbq_vsets_new(&s->vs, p)) < 0)
                return -1;
            dbq_raw_req r2 = *r;
            r2.lo = r->sub_lo;
            r2.hi = r->sub_hi;
            r2.pred = &p->kids[0];
            r2.need_visit = 0;
            if (dbq_ev_scan(s, &r2, DBQ_COLLECT_VISITOR, s->vs.set[k], NULL,
                            NULL) != 0)
                return -1;
        }
        c->set = k;
        return 0;
    }
    }
    return -1;
}

/* A decoded block and how to read each source of it. */
typedef struct {
    size_t         n;
    const int64_t *src[DBQ_S_N];
    const dbq_attrtab *attrs;
} dbq_view;

static int
dbq_grow(uint8_t **b, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 0;
    uint8_t *p = realloc(*b, n ? n : 1);
    if (p == NULL)
        return -1;
    *b = p;
    *cap = n;
    return 0;
}

/* out[i] = c holds on row i of v (0/1).  Returns 0 or -1 (memory). */
static int
dbq_eval(dbq_cn *c, const dbq_sq *s, const dbq_view *v, uint8_t *out)
{
    size_t n = v->n;
    switch (c->kind) {
    case DBQ_P_TRUE:
    case DBQ_P_FALSE:
        memset(out, c->kind == DBQ_P_TRUE, n);
        return 0;
    case DBQ_P_NOT:
        if (dbq_eval(&c->kids[0], s, v, out) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            out[i] ^= 1;
        return 0;
    case DBQ_P_AND:
    case DBQ_P_OR:
        if (dbq_eval(&c->kids[0], s, v, out) != 0)
            return -1;
        if (c->nkids > 1 && dbq_grow(&c->tmp, &c->ntmp, n) != 0)
            return -1;
        for (size_t k = 1; k < c->nkids; k++) {
            if (dbq_eval(&c->kids[k], s, v, c->tmp) != 0)
                return -1;
            if (c->kind == DBQ_P_AND)
                for (size_t i = 0; i < n; i++)
                    out[i] &= c->tmp[i];
            else
                for (size_t i = 0; i < n; i++)
                    out[i] |= c->tmp[i];
        }
        return 0;
    case DBQ_P_LEAF: {
        const int64_t *x = v->src[c->src];
        if (c->src == DBQ_S_ATTRS) {
            for (size_t i = 0; i < n; i++)
                out[i] = (uint64_t)x[i] < c->naacc ? c->aacc[x[i]]
                                                   : c->aacc_missing;
        } else if (c->props && c->none) {
            for (size_t i = 0; i < n; i++)
                out[i] = (uint8_t)(dbq_bits_has(&c->in, x[i])
                                   || !dbq_bits_has(&c->out, x[i]));
        } else {
            for (size_t i = 0; i < n; i++)
                out[i] = (uint8_t)(dbq_bits_has(&c->in, x[i])
                                   || (c->none && !c->props && x[i] == 0));
        }
        return 0;
    }
    case DBQ_P_GOAL: {
        const int64_t *nm = v->src[DBQ_S_NAME], *pg = v->src[DBQ_S_PAGE];
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)((c->g1 && dbq_bits_has(&c->in, nm[i]))
                               || (c->g2 && nm[i] == c->pv
                                   && dbq_bits_has(&c->in2, pg[i])));
        return 0;
    }
    case DBQ_P_HAS_DONE:
    case DBQ_P_HAS_NOT_DONE: {
        const int64_t *x = v->src[DBQ_S_VISITOR];
        const struct dbq_vset *set = s->vs.set[c->set];
        uint8_t flip = c->kind == DBQ_P_HAS_NOT_DONE;
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)(dbq_vset_has(set, (uint64_t)x[i]) ^ flip);
        return 0;
    }
    }
    return -1;
}

/* The rows of one block looked at: checks the deadline now and then. */
static int
dbq_tick(dbq_sq *s, size_t n)
{
    uint64_t before = s->rows;
    s->rows += n;
    if (before / DBQ_CHECK_ROWS != s->rows / DBQ_CHECK_ROWS
        && dbq_deadline_passed()) {
        log_error("stats query: interrupted (over the deadline)");
        return -1;
    }
    return 0;
}

/* The sealed days of s->site overlapping [lo, hi) ms. */
static int
dbq_days(dbq_sq *s, int64_t lo, int64_t hi, int64_t **days, size_t *n)
{
    *days = NULL;
    *n = 0;
    if (lo >= hi)
        return 0;
    int64_t d0 = lo / DBS_DAY_MS - (lo % DBS_DAY_MS < 0);
    int64_t d1 = (hi - 1) / DBS_DAY_MS - ((hi - 1) % DBS_DAY_MS < 0) + 1;
    return db_seal_days(s->d, s->site, d0, d1, days, n);
}

/* ---- events ---- */

/* 1 when p has a has_done node (outside has_done kids). */
static int
dbq_pred_has_done(const dbq_pred *p)
{
    if (p == NULL)
        return 0;
    if (p->kind == DBQ_P_HAS_DONE || p->kind == DBQ_P_HAS_NOT_DONE)
        return 1;
    for (size_t i = 0; i < p->nkids; i++)
        if (dbq_pred_has_done(&p->kids[i]))
            return 1;
    return 0;
}

typedef struct {
    struct dbq_vset *into;
    int              collect;
} dbq_collect_ctx;

static int
dbq_collect_cb(void *ctx, const dbq_event_row *e)
{
    dbq_collect_ctx *c = ctx;
    return dbq_vset_add(c->into, c->collect == DBQ_COLLECT_VISIT
                                 ? (uint64_t)e->visit : e->visitor);
}

/* Emits the rows of sealed day `day` with ts in [r->lo, r->hi) that
 * satisfy root (NULL: all): to fn, or into a set (collect). */
static int
dbq_ev_day(dbq_sq *s, const dbq_raw_req *r, int64_t day, dbq_cn *root,
           uint32_t mask, int join, uint8_t **sel, size_t *nsel,
           int collect, struct dbq_vset *into,
           int (*fn)(void *, const dbq_event_row *), void *ctx)
{
    db_seal_day b;
    if (!collect && (mask & (1u << DBS_VISITOR)))
        mask |= DBS_WANT_VIX;
    int rc = db_seal_load(s->d, s->site, day, 0, mask, &b);
    if (rc <= 0)
        return rc;                    /* 0: unsealed meanwhile -- cannot be
                                         in one transaction; no rows */
    rc = -1;
    dbq_view v = { .n = b.n, .attrs = &s->attrs };
    for (int k = 0; k < DBQ_S_N; k++)
        v.src[k] = b.col[dbq_src_col[0][k]];
    if (dbq_tick(s, b.n) != 0 || dbq_grow(sel, nsel, b.n) != 0)
        goto done;
    if (root && dbq_eval(root, s, &v, *sel) != 0)
        goto done;
    const int64_t *ts = b.col[DBS_TS];
    size_t i = 0, end = b.n;
    while (i < end && ts[i] < r->lo)
        i++;
    while (end > i && ts[end - 1] >= r->hi)
        end--;
    const uint8_t *ok = root ? *sel : NULL;
    if (collect) {
        const int64_t *x = b.col[collect == DBQ_COLLECT_VISIT ? DBS_VISIT
                                                               : DBS_VISITOR];
        for (; i < end; i++)
            if ((ok == NULL || ok[i]) && dbq_vset_add(into, (uint64_t)x[i]) != 0)
                goto done;
        rc = 0;
        goto done;
    }
    dbq_event_row e;
    memset(&e, 0, sizeof(e));
    e.vix = -1;
    e.vn = (int64_t)b.vn;
    const uint32_t *vx = b.vix;
    const int64_t *ent = b.col[DBS_V_ENTRY], *ex = b.col[DBS_V_EXIT],
                  *at = b.col[DBS_V_ATTRS];
    /* columns not decoded (r->fields) read as 0 */
    const int64_t *vr = b.col[DBS_VISITOR], *vi = b.col[DBS_VISIT],
                  *nm = b.col[DBS_NAME], *pg = b.col[DBS_PAGE],
                  *ho = b.col[DBS_HOST], *pr = b.col[DBS_PROPS];
    rc = 0;
    for (; i < end && rc == 0; i++) {
        if (ok && !ok[i])
            continue;
        e.ts = ts[i];
        e.visitor = vr ? (uint64_t)vr[i] : 0;
        if (vx)
            e.vix = vx[i];
        e.visit = vi ? vi[i] : 0;
        e.name = nm ? nm[i] : 0;
        e.page = pg ? pg[i] : 0;
        e.host = ho ? ho[i] : 0;
        e.props = pr ? pr[i] : 0;
        if (join) {
            e.entry = ent[i];
            e.exit = ex[i];
            if ((uint64_t)at[i] < s->attrs.n)
                memcpy(e.a, &s->attrs.a[(size_t)at[i] * ATTR_COUNT],
                       sizeof(e.a));
            else
                memset(e.a, 0, sizeof(e.a));
        }
        rc = fn(ctx, &e);
    }
done:
    db_seal_day_free(&b);
    return rc;
}

/* Scans the events of r (sealed days in C, the rest in SQL), in (ts, seq)
 * order, to fn or into a set. */
static int
dbq_ev_scan(dbq_sq *s, const dbq_raw_req *r, int collect,
            struct dbq_vset *into,
            int (*fn)(void *, const dbq_event_row *), void *ctx)
{
    dbq_collect_ctx cc = { into, collect };
    if (collect) {
        fn = dbq_collect_cb;
        ctx = &cc;
    }
    int has_sub = dbq_pred_has_done(r->pred);
    int64_t *days = NULL, *sub = NULL;
    size_t n = 0, nsub = 0;
    if (dbq_days(s, r->lo, r->hi, &days, &n) != 0
        || (has_sub && dbq_days(s, r->sub_lo, r->sub_hi, &sub, &nsub) != 0)) {
        free(days);
        return -1;
    }
    free(sub);
    if (n == 0 && nsub == 0) {        /* nothing sealed: today's SQL */
        free(days);
        return dbq_events_sql(s->d, r, r->lo, r->hi, NULL, fn, ctx);
    }
    /* the columns the rows carry: as the SQL's, or those of r->fields */
    unsigned f = r->fields ? r->fields : ~0u;
    int join = !collect && (r->fields ? r->need_visit && (f & DBQ_F_VISITCOLS)
                            : r->need_visit || dbq_pred_has_visit_col(r->pred));
    uint32_t mask = 1u << DBS_TS;
    if (collect)
        mask |= 1u << (collect == DBQ_COLLECT_VISIT ? DBS_VISIT : DBS_VISITOR);
    else
        mask |= (f & DBQ_F_VISITOR ? 1u << DBS_VISITOR : 0)
                | (f & DBQ_F_VISIT ? 1u << DBS_VISIT : 0)
                | (f & DBQ_F_NAME ? 1u << DBS_NAME : 0)
                | (f & DBQ_F_PAGE ? 1u << DBS_PAGE : 0)
                | (f & DBQ_F_HOST ? 1u << DBS_HOST : 0)
                | (f & DBQ_F_PROPS ? 1u << DBS_PROPS : 0);
    if (join)
        mask |= 1u << DBS_V_ENTRY | 1u << DBS_V_EXIT | 1u << DBS_V_ATTRS;
    dbq_cn root;
    int have_root = 0, rc = -1;
    uint8_t *sel = NULL;
    size_t nsel = 0;
    if (r->pred) {
        have_root = 1;
        if (dbq_compile(s, r, r->pred, 0, &root, &mask) != 0)
            goto done;
    }
    if (join && dbq_attrs_load(s->d, &s->attrs) != 0)
        goto done;
    int64_t cur = r->lo;
    rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        int64_t ds = i < n ? days[i] * DBS_DAY_MS : r->hi;
        if (ds > r->hi)
            ds = r->hi;
        if (cur < ds) {               /* the unsealed stretch before */
            dbq_vs_register(s->d, &s->vs);
            rc = dbq_events_sql(s->d, r, cur, ds, &s->vs, fn, ctx);
        }
        if (i == n || rc != 0)
            break;
        rc = dbq_ev_day(s, r, days[i], have_root ? &root : NULL, mask, join,
                        &sel, &nsel, collect, into, fn, ctx);
        cur = (days[i] + 1) * DBS_DAY_MS;
    }
done:
    if (have_root)
        dbq_cn_free(&root);
    free(sel);
    free(days);
    return rc;
}

/* ---- the call's state and its read transaction ---- */

static int
dbq_exec1(db *d, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        db_log_error(d, "stats query: prepare");
        return -1;
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "stats query: transaction");
        return -1;
    }
    return 0;
}

/* Opens the call's read transaction when the caller has none: 1 opened,
 * 0 not needed, -1 error. */
static int
dbq_sq_begin(dbq_sq *s, db *d, int64_t site)
{
    memset(s, 0, sizeof(*s));
    s->d = d;
    s->site = site;
    s->vs.visit_k = -1;
    if (!sqlite3_get_autocommit(d->h))
        return 0;
    return dbq_exec1(d, "BEGIN") == 0 ? 1 : -1;
}

static void
dbq_sq_end(dbq_sq *s, int began)
{
    if (began == 1)
        dbq_exec1(s->d, "COMMIT");
    dbq_vs_register(s->d, NULL);
    dbq_vsets_free(&s->vs);
    free(s->attrs.a);
}

int
dbq_seal_events(db *d, const dbq_raw_req *r,
                int (*fn)(void *ctx, const dbq_event_row *e), void *ctx)
{
    dbq_sq s;
    int began = dbq_sq_begin(&s, d, r->site);
    int rc = began < 0 ? -1 : dbq_ev_scan(&s, r, DBQ_COLLECT_NONE, NULL, fn, ctx);
    dbq_sq_end(&s, began);
    return rc;
}

/* ---- visits ---- */

/* Emits the visits of sealed day `day` starting in [r->lo, r->hi) that
 * satisfy root (NULL: all) and, with an event predicate, are in set
 * visit_k. */
static int
dbq_vi_day(dbq_sq *s, const dbq_raw_req *r, int64_t day, dbq_cn *root,
           int visit_k, uint8_t **sel, size_t *nsel,
           int (*fn)(void *, const dbq_visit_row *), void *ctx)
{
    db_seal_day b;
    int rc = db_seal_load(s->d, s->site, day, 1, (1u << DBV_NCOLS) - 1, &b);
    if (rc <= 0)
        return rc;
    rc = -1;
    dbq_view v = { .n = b.n, .attrs = &s->attrs };
    for (int k = 0; k < DBQ_S_N; k++)
        v.src[k] = dbq_src_col[1][k] >= 0 ? b.col[dbq_src_col[1][k]] : NULL;
    if (dbq_tick(s, b.n) != 0 || dbq_grow(sel, nsel, b.n) != 0)
        goto done;
    if (root && dbq_eval(root, s, &v, *sel) != 0)
        goto done;
    const uint8_t *ok = root ? *sel : NULL;
    const struct dbq_vset *vset = visit_k >= 0 ? s->vs.set[visit_k] : NULL;
    dbq_visit_row w;
    rc = 0;
    for (size_t i = 0; i < b.n && rc == 0; i++) {
        int64_t st = b.col[DBV_START][i], id = b.col[DBV_ID][i];
        if (st < r->lo || st >= r->hi || (ok && !ok[i])
            || (vset && !dbq_vset_has(vset, (uint64_t)id)))
            continue;
        w.id = id;
        w.visitor = (uint64_t)b.col[DBV_VISITOR][i];
        w.start = st;
        w.end = b.col[DBV_END][i];
        w.entry = b.col[DBV_ENTRY][i];
        w.exit = b.col[DBV_EXIT][i];
        w.pageviews = b.col[DBV_PAGEVIEWS][i];
        w.events = b.col[DBV_EVENTS][i];
        w.bounce = b.col[DBV_BOUNCE][i];
        int64_t a = b.col[DBV_ATTRS][i];
        if ((uint64_t)a < s->attrs.n)
            memcpy(w.a, &s->attrs.a[(size_t)a * ATTR_COUNT], sizeof(w.a));
        else
            memset(w.a, 0, sizeof(w.a));
        rc = fn(ctx, &w);
    }
done:
    db_seal_day_free(&b);
    return rc;
}

int
dbq_seal_visits(db *d, const dbq_raw_req *r,
                int (*fn)(void *ctx, const dbq_visit_row *v), void *ctx)
{
    dbq_sq s;
    int began = dbq_sq_begin(&s, d, r->site);
    if (began < 0) {
        dbq_sq_end(&s, began);
        return -1;
    }
    int evp = r->pred && dbq_pred_has_event_col(r->pred);
    int64_t *days = NULL, *sub = NULL;
    size_t n = 0, nsub = 0;
    int rc = -1, have_root = 0;
    dbq_cn root;
    uint8_t *sel = NULL;
    size_t nsel = 0;
    uint32_t mask = 0;
    if (dbq_days(&s, r->lo, r->hi, &days, &n) != 0
        || (evp && dbq_days(&s, r->sub_lo, r->sub_hi, &sub, &nsub) != 0))
        goto done;
    if (n == 0 && nsub == 0) {        /* nothing sealed: today's SQL */
        rc = dbq_visits_sql(d, r, NULL, fn, ctx);
        goto done;
    }
    if (evp) {
        /* the visits with an event in [sub_lo, sub_hi) satisfying pred */
        int k = dbq_vsets_new(&s.vs, NULL);
        if (k < 0)
            goto done;
        s.vs.visit_k = k;
        dbq_raw_req r2 = *r;
        r2.lo = r->sub_lo;
        r2.hi = r->sub_hi;
        r2.need_visit = 0;
        if (dbq_ev_scan(&s, &r2, DBQ_COLLECT_VISIT, s.vs.set[k], NULL, NULL) != 0)
            goto done;
    } else if (r->pred) {
        have_root = 1;
        if (dbq_compile(&s, r, r->pred, 1, &root, &mask) != 0)
            goto done;
    }
    if (dbq_attrs_load(d, &s.attrs) != 0)
        goto done;
    /* the rows: visits that are not in a block (all of the range) */
    dbq_vs_register(d, &s.vs);
    rc = dbq_visits_sql(d, r, &s.vs, fn, ctx);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = dbq_vi_day(&s, r, days[i], have_root ? &root : NULL,
                        s.vs.visit_k, &sel, &nsel, fn, ctx);
done:
    if (have_root)
        dbq_cn_free(&root);
    free(sel);
    free(days);
    free(sub);
    dbq_sq_end(&s, began);
    return rc;
}
