/* q_exec_rollup.c -- the rollup path: queries that rollup_hourly answers
 * exactly (see qx_rollup_run) are summed there, per site-local bucket. */
#include "aggregator/q_exec_int.h"

#include <string.h>

/* The rollup dim holding dimension k, or -1. */
static int
qx_rollup_dim(q_dim_kind k)
{
    switch (k) {
    case Q_D_EVENT_PAGE: return DIM_PAGE;
    case Q_D_EVENT_HOSTNAME: return DIM_HOSTNAME;
    case Q_D_EVENT_NAME: return DIM_NAME;
    case Q_D_VISIT_ENTRY_PAGE: return DIM_ENTRY_PAGE;
    case Q_D_VISIT_EXIT_PAGE: return DIM_EXIT_PAGE;
    case Q_D_VISIT_SOURCE: return DIM_SOURCE;
    case Q_D_VISIT_REFERRER: return DIM_REFERRER;
    case Q_D_VISIT_CHANNEL: return DIM_CHANNEL;
    case Q_D_VISIT_UTM_MEDIUM: return DIM_UTM_MEDIUM;
    case Q_D_VISIT_UTM_SOURCE: return DIM_UTM_SOURCE;
    case Q_D_VISIT_UTM_CAMPAIGN: return DIM_UTM_CAMPAIGN;
    case Q_D_VISIT_UTM_CONTENT: return DIM_UTM_CONTENT;
    case Q_D_VISIT_UTM_TERM: return DIM_UTM_TERM;
    case Q_D_VISIT_COUNTRY:
    case Q_D_VISIT_COUNTRY_NAME: return DIM_COUNTRY;
    case Q_D_VISIT_BROWSER: return DIM_BROWSER;
    case Q_D_VISIT_BROWSER_VERSION: return DIM_BROWSER_VERSION;
    case Q_D_VISIT_OS: return DIM_OS;
    case Q_D_VISIT_OS_VERSION: return DIM_OS_VERSION;
    case Q_D_VISIT_DEVICE: return DIM_DEVICE;
    default: return -1;
    }
}

/* What one fetch contributes. */
enum qx_part { QX_P_EV = 1, QX_P_VI = 2, QX_P_VI_PV = 4 };

typedef struct {
    qx_ctx        *c;
    const qx_plan *p;
    qg_table      *t;
    int            di;            /* index of the non-time dim, -1 */
    int            use_k2;        /* version dims: the key is k2   */
    int            part;
    int            dim;
    enum dbq_bucket bucket;
    int            nvals;         /* distinct (k1, k2) met, up to 2 */
    int64_t        val[2];
    int64_t        goal_key;      /* >= 0: the key of dim di (a goal)  */
    int64_t        daily_h;       /* rollup_daily holds hours < this  */
    int64_t        monthly_d;     /* rollup_monthly: days < this      */
} qx_ru;

static int
qx_ru_row(void *ctx, const dbq_rollup_row *row)
{
    qx_ru *u = ctx;
    const qx_plan *p = u->p;
    qx_ctx *c = u->c;
    const int64_t *m = row->m;
    if (u->nvals == 0 || (u->nvals == 1 && (row->k1 != u->val[0] || row->k2 != u->val[1]))) {
        if (u->nvals++ == 0) {
            u->val[0] = row->k1;
            u->val[1] = row->k2;
        }
    }
    int make = ((u->part & QX_P_EV) && m[M_EVENTS] > 0)
               || ((u->part & QX_P_VI) && m[M_VISITS] > 0);
    int64_t k[Q_MAX_DIMS] = { 0 };
    if (u->di >= 0)
        k[u->di] = u->goal_key >= 0 ? u->goal_key
                 : u->use_k2 ? row->k2 : row->k1;
    if (p->ti >= 0) {
        if (u->bucket == DBQ_B_HOUR)
            k[p->ti] = qx_time_key(c, Q_D_TIME_HOUR, row->b * QX_HOUR_MS);
        else
            k[p->ti] = qx_day_key(c, p->tkind, row->b);
    }
    long g = make ? qg_get(u->t, k) : qg_find(u->t, k);
    if (g < 0)
        return make ? qx_fail(c, 500, "out of memory") : 0;
    qx_acc *a = &u->t->g[g].acc;
    int64_t vis = p->vmode == QX_VM_HOUR ? m[M_VISITORS_HOUR] : m[M_VISITORS_NEW];
    if (u->part & QX_P_EV) {
        a->ev_pv += m[M_PAGEVIEWS];
        a->ev_ev += m[M_EVENTS];
        a->ev_visitors += vis;
        a->ev_visits += m[M_VISITS];
    }
    if (u->part & QX_P_VI) {
        a->vi_visits += m[M_VISITS];
        a->vi_bounces += m[M_BOUNCES];
        a->vi_duration += m[M_DURATION];
        if (u->dim != DIM_TOTAL) {
            a->vi_pv += m[M_PAGEVIEWS];
            a->vi_ev += m[M_EVENTS];
            a->vi_visitors += vis;
        }
    }
    if (u->part & QX_P_VI_PV)
        a->vi_pv += m[M_PAGEVIEWS];
    return 0;
}

/* Rows of one table for [h0, h1) (no-op when empty). */
static int
qx_ru_get(qx_ru *u, dbq_rollup_req *req, enum dbq_tier tier, int64_t h0,
          int64_t h1)
{
    if (h0 >= h1)
        return 0;
    req->tier = tier;
    req->h0 = h0;
    req->h1 = h1;
    return dbq_rollup(u->c->d, req, qx_ru_row, u);
}

static int64_t
qx_month_start(int64_t day, int next)
{
    int64_t y;
    unsigned m, d;
    tz_civil_from_days(day, &y, &m, &d);
    if (next && (d != 1))
        return m == 12 ? tz_days_from_civil(y + 1, 1, 1)
                       : tz_days_from_civil(y, m + 1, 1);
    return tz_days_from_civil(y, m, 1);
}

/* [s, e) from the coarsest rows that hold it exactly: whole UTC months
 * below the monthly bound from rollup_monthly, whole UTC days below the
 * daily bound from rollup_daily, the hours around them from
 * rollup_hourly.  Every table holds sums over the same UTC hours, so the
 * parts add up to the hourly answer (docs/storage.md). */
static int
qx_ru_span(qx_ru *u, dbq_rollup_req *req, int64_t s, int64_t e)
{
    int days = req->bucket == DBQ_B_NONE
               || (req->bucket == DBQ_B_DAY && req->off_h == 0);
    int64_t d0 = (s + 23) / 24, d1 = e / 24;
    if (d1 * 24 > u->daily_h)
        d1 = u->daily_h / 24;
    if (!days || s < 0 || d0 >= d1)
        return qx_ru_get(u, req, DBQ_T_HOUR, s, e);
    int64_t m0 = qx_month_start(d0, 1), m1 = qx_month_start(d1, 0);
    if (m1 > u->monthly_d)
        m1 = qx_month_start(u->monthly_d, 0);
    int rc = qx_ru_get(u, req, DBQ_T_HOUR, s, d0 * 24);
    if (rc == 0 && req->bucket == DBQ_B_NONE && m0 < m1) {
        rc = qx_ru_get(u, req, DBQ_T_DAY, d0 * 24, m0 * 24);
        if (rc == 0)
            rc = qx_ru_get(u, req, DBQ_T_MONTH, m0 * 24, m1 * 24);
        if (rc == 0)
            rc = qx_ru_get(u, req, DBQ_T_DAY, m1 * 24, d1 * 24);
    } else if (rc == 0) {
        rc = qx_ru_get(u, req, DBQ_T_DAY, d0 * 24, d1 * 24);
    }
    if (rc == 0)
        rc = qx_ru_get(u, req, DBQ_T_HOUR, d1 * 24, e);
    return rc;
}

/* One rollup dim over the range, split where the zone's offset changes
 * (day buckets), into u. */
static int
qx_ru_fetch(qx_ru *u, int dim, int part, const dbq_pred *pred)
{
    qx_ctx *c = u->c;
    const q_query *q = c->q;
    int64_t h0 = q->range.from_ms / QX_HOUR_MS, h1 = q->range.to_ms / QX_HOUR_MS;
    u->dim = dim;
    u->part = part;
    dbq_rollup_req req = { .site = c->site, .dim = dim, .pred = pred, .m = c->m };
    u->bucket = u->p->ti < 0 ? DBQ_B_NONE
              : u->p->tkind == Q_D_TIME_HOUR ? DBQ_B_HOUR : DBQ_B_DAY;
    req.bucket = u->bucket;
    int64_t s = h0;
    while (s < h1) {
        int64_t e = s + 1;
        int off = tz_offset_at(c->z, s * 3600) / 3600;
        if (u->bucket == DBQ_B_DAY)
            while (e < h1 && tz_offset_at(c->z, e * 3600) / 3600 == off)
                e++;
        else
            e = h1;
        req.off_h = off;
        int rc = qx_ru_span(u, &req, s, e);
        if (rc != 0) {
            if (qm_error(c->m))
                return qx_fail(c, 400, "%s", qm_error(c->m));
            return c->err[0] ? -1 : qx_fail(c, 500, "database error");
        }
        s = e;
    }
    return 0;
}

/* No breakdown, filters on one event dimension (page, name, hostname):
 * the rows of the matching values summed -- exact for pageviews and
 * events, and for visitors when one value matches (a visitor of two
 * matching pages is one visitor).  Returns 1, 0 (not answerable: t is
 * emptied again) or -1. */
static int
qx_rollup_filtered_total(qx_ctx *c, const qx_plan *p, qg_table *t)
{
    const q_query *q = c->q;
    int col = -1, need_visitors = 0;
    for (size_t i = 0; i < q->nfilters; i++) {
        const q_filter *f = &q->filters[i];
        int fc = f->op <= Q_OP_MATCHES_NOT ? qx_dim_col(f->dim.kind) : -1;
        if ((fc != DBQ_PAGE && fc != DBQ_NAME && fc != DBQ_HOST)
            || (col >= 0 && fc != col))
            return 0;
        col = fc;
    }
    for (size_t i = 0; i < q->nmetrics; i++) {
        q_metric m = q->metrics[i];
        if (m != Q_M_VISITORS && m != Q_M_PAGEVIEWS && m != Q_M_EVENTS)
            return 0;
        need_visitors |= m == Q_M_VISITORS;
    }
    qx_ru u = { .c = c, .p = p, .t = t, .di = -1, .goal_key = -1 };
    if (db_compact_bounds(c->d, &u.daily_h, &u.monthly_d) != 0)
        return qx_fail(c, 500, "database error");
    int dim = col == DBQ_PAGE ? DIM_PAGE : col == DBQ_NAME ? DIM_NAME : DIM_HOSTNAME;
    if (qx_ru_fetch(&u, dim, QX_P_EV, p->pred) != 0)
        return -1;
    if (need_visitors && u.nvals > 1) {
        size_t nk = t->nk;
        qg_free(t);
        t->nk = nk;
        return 0;
    }
    return 1;
}

/* An event:goal breakdown (with or without a time dim) whose goals are
 * all custom-event goals, filtered at most by goal filters (`is` or
 * `contains`) naming only custom-event goals: goal i's row is the
 * rollup row of event name i -- every event named i passes the filters,
 * since i is admitted by each of them, and no other event counts for
 * it.  Page goals count pageviews only, which no rollup row separates
 * from the page's other events, so they go to the raw path.  Returns 1,
 * 0 (not answerable; nothing added) or -1. */
static int
qx_rollup_goals(qx_ctx *c, const qx_plan *p, qx_ru *u)
{
    const q_query *q = c->q;
    if (p->need_vi)
        return 0;
    uint64_t named = 0;
    for (size_t i = 0; i < q->nfilters; i++) {
        const q_filter *f = &q->filters[i];
        if (f->dim.kind != Q_D_EVENT_GOAL
            || (f->op != Q_OP_IS && f->op != Q_OP_CONTAINS))
            return 0;
        named |= qx_goal_mask(c, f);
    }
    for (size_t i = 0; i < c->goals.n; i++)
        if (((q->nfilters ? named : p->goal_allowed) & (1ull << i))
            && c->goals.g[i].kind != GOAL_EVENT)
            return 0;
    for (size_t i = 0; i < c->goals.n; i++) {
        if (!(p->goal_allowed & (1ull << i)))
            continue;
        const char *name = c->goals.g[i].value;
        char err[256];
        dbq_pred leaf = { .kind = DBQ_P_LEAF, .col = DBQ_NAME, .fid2 = -1 };
        leaf.fid = qm_add(c->m, QM_IS, &name, 1, 0, 0, err, sizeof err);
        if (leaf.fid < 0)
            return qx_fail(c, 500, "%s", err);
        u->goal_key = (int64_t)i;
        if (qx_ru_fetch(u, DIM_NAME, QX_P_EV, &leaf) != 0)
            return -1;
    }
    return 1;
}

/* 1 when every offset of the zone in [from, to) is a whole hour. */
static int
qx_whole_hours(const qx_ctx *c)
{
    const q_range *r = &c->q->range;
    for (int64_t t = r->from_ms / 1000; t < r->to_ms / 1000; t += 3600)
        if (tz_offset_at(c->z, t) % 3600 != 0)
            return 0;
    return 1;
}

int
qx_rollup_run(qx_ctx *c, const qx_plan *p, qg_table *t)
{
    const q_query *q = c->q;
    if (c->force_raw || !q->range.hour_aligned || p->vmode == QX_VM_DISTINCT
        || q->range.to_ms <= q->range.from_ms || !qx_whole_hours(c))
        return 0;
    qx_ru u = { .c = c, .p = p, .t = t, .di = -1, .goal_key = -1 };
    if (db_compact_bounds(c->d, &u.daily_h, &u.monthly_d) != 0)
        return qx_fail(c, 500, "database error");
    int col = -1;
    for (size_t i = 0; i < q->ndims; i++) {
        if ((int)i == p->ti)
            continue;
        if (u.di < 0 && q->dims[i].kind == Q_D_EVENT_GOAL
            && q->ndims == (p->ti >= 0 ? 2u : 1u)) {
            u.di = (int)i;
            return qx_rollup_goals(c, p, &u);
        }
        if (u.di >= 0 || qx_rollup_dim(q->dims[i].kind) < 0)
            return 0;
        u.di = (int)i;
        col = qx_dim_col(q->dims[i].kind);
    }
    q_dim_kind dk = u.di >= 0 ? q->dims[u.di].kind : Q_D_COUNT;
    int dim = u.di >= 0 ? qx_rollup_dim(dk) : DIM_TOTAL;
    u.use_k2 = dim == DIM_BROWSER_VERSION || dim == DIM_OS_VERSION;
    /* a version's visitors over several browsers are not a sum: a
     * visitor may have used two of them (raw path) */
    for (size_t i = 0; u.use_k2 && i < q->nmetrics; i++) {
        q_metric m = q->metrics[i];
        if (m == Q_M_VISITORS || m == Q_M_PERCENTAGE || m == Q_M_CONVERSION_RATE
            || m == Q_M_GROUP_CONVERSION_RATE)
            return 0;
    }
    if (u.di < 0 && q->nfilters)
        return qx_rollup_filtered_total(c, p, t);
    /* filters: only simple ones on the breakdown's own rollup columns */
    for (size_t i = 0; i < q->nfilters; i++) {
        const q_filter *f = &q->filters[i];
        if (f->op > Q_OP_MATCHES_NOT || u.di < 0)
            return 0;
        int fc = qx_dim_col(f->dim.kind);
        int same = fc == col
                   || (dim == DIM_BROWSER_VERSION && fc == DBQ_ATTR0 + ATTR_BROWSER)
                   || (dim == DIM_OS_VERSION && fc == DBQ_ATTR0 + ATTR_OS);
        if (!same || f->dim.kind == Q_D_EVENT_PROP)
            return 0;
    }
    if (p->need_vi_pv && q->nfilters)
        return 0;
    if (u.di >= 0 && qx_dim_is_event(dk)) {
        if (p->need_vi && (dk != Q_D_EVENT_PAGE || q->nfilters))
            return 0;
        if ((p->need_ev || !p->need_vi)
            && qx_ru_fetch(&u, dim, QX_P_EV, p->pred) != 0)
            return -1;
        if (p->need_vi && qx_ru_fetch(&u, DIM_ENTRY_PAGE, QX_P_VI, NULL) != 0)
            return -1;
        return 1;
    }
    if (u.di >= 0)
        return qx_ru_fetch(&u, dim, QX_P_VI, p->pred) == 0 ? 1 : -1;
    int part = (p->need_ev || !p->need_vi ? QX_P_EV : 0) | (p->need_vi ? QX_P_VI : 0);
    if (qx_ru_fetch(&u, DIM_TOTAL, part, NULL) != 0)
        return -1;
    if (p->need_vi_pv && qx_ru_fetch(&u, DIM_DEVICE, QX_P_VI_PV, NULL) != 0)
        return -1;
    return 1;
}
