/* q_exec_raw.c -- the raw path: events and visits scanned in SQL with the
 * filter applied there, aggregated here exactly (q_exec_int.h defines the
 * accumulators).  Events come in time order, so "first of the day" is
 * "not seen yet today" and the seen-sets are cleared as days pass. */
#include "aggregator/q_exec_int.h"
#include "aggregator/q_vbits.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    qx_ctx        *c;
    const qx_plan *p;
    qg_table      *t;
    qg_table       base;          /* keys without the time dim          */
    int64_t        from, to;
    int            gi;            /* index of event:goal in dims, -1    */
    qh             vis;           /* visitor identities seen            */
    int64_t        vis_epoch;     /* day or hour instance of vis        */
    qvb            visb;          /* the same as bits, for sealed days  */
    qh             vgen[2];       /* (base, visit) seen: today, yesterday */
    int64_t        vgen_day;
    qh             first;         /* visit unit: (base|day, visitor) -> min start */
    qh             gname, gpage;  /* goal masks by name id / page id    */
    qh             props[Q_MAX_DIMS];
    int            dcol[Q_MAX_DIMS];   /* qx_dim_col of each dimension   */
    int64_t        lprops[Q_MAX_DIMS]; /* the last props id per dim ...  */
    int64_t        lpkey[Q_MAX_DIMS];  /* ... and its key (0: none yet) */
} qx_raw;

static uint64_t
qx_fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

int64_t
qx_pval_key(qx_ctx *c, const char *s)
{
    uint64_t h = qx_fnv(s);
    for (uint64_t probe = 0;; probe++) {
        int64_t *slot = qh_get(&c->pval_idx, h, probe);
        if (slot == NULL)
            break;
        if (strcmp(c->pvals[*slot], s) == 0)
            return -2 - *slot;
    }
    uint64_t probe = 0;
    while (qh_get(&c->pval_idx, h, probe))
        probe++;
    if (c->npvals == c->cappvals) {
        size_t n = c->cappvals ? c->cappvals * 2 : 64;
        char **p = realloc(c->pvals, n * sizeof(*p));
        if (p == NULL)
            return 0;
        c->pvals = p;
        c->cappvals = n;
    }
    char *d = strdup(s);
    if (d == NULL || qh_put(&c->pval_idx, h, probe, (int64_t)c->npvals, NULL) < 0) {
        free(d);
        return 0;
    }
    c->pvals[c->npvals] = d;
    return -2 - (int64_t)c->npvals++;
}

/* The key of property `key` in the props of props_id. */
static int64_t
qx_prop_key(qx_raw *r, int dim, int64_t props_id)
{
    if (props_id <= 0)
        return QX_PROP_NONE;
    int64_t *slot = qh_get(&r->props[dim], (uint64_t)props_id, 0);
    if (slot)
        return *slot;
    const char *text = qx_str(r->c, props_id);
    if (text == NULL)
        return 0;
    int64_t k = QX_PROP_NONE;
    json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
    json_t *v = json_is_object(o) ? json_object_get(o, r->c->q->dims[dim].prop) : NULL;
    if (v != NULL && !json_is_null(v)) {
        if (json_is_string(v)) {
            k = qx_pval_key(r->c, json_string_value(v));
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            k = s ? qx_pval_key(r->c, s) : 0;
            free(s);
        }
    }
    json_decref(o);
    if (k == 0 || qh_put(&r->props[dim], (uint64_t)props_id, 0, k, NULL) < 0)
        return 0;
    return k;
}

/* Goals matched by an event (bit per goal). */
static int
qx_goals_of(qx_raw *r, int64_t name, int64_t page, int pv, uint64_t *mask)
{
    qx_ctx *c = r->c;
    *mask = 0;
    int64_t *slot = qh_get(&r->gname, (uint64_t)name, 0);
    if (slot == NULL) {
        const char *s = qx_str(c, name);
        if (s == NULL)
            return -1;
        uint64_t m = 0;
        for (size_t i = 0; i < c->goals.n; i++)
            if (c->goals.g[i].kind == GOAL_EVENT && strcmp(c->goals.g[i].value, s) == 0)
                m |= 1ull << i;
        if (qh_put(&r->gname, (uint64_t)name, 0, (int64_t)m, &slot) < 0)
            return -1;
    }
    *mask = (uint64_t)*slot;
    if (!pv)
        return 0;
    slot = qh_get(&r->gpage, (uint64_t)page, 0);
    if (slot == NULL) {
        const char *s = qx_str(c, page);
        if (s == NULL)
            return -1;
        uint64_t m = 0;
        for (size_t i = 0; i < c->goals.n; i++)
            if (c->goals.g[i].kind == GOAL_PAGE && qm_glob(c->goals.g[i].value, s, strlen(s)))
                m |= 1ull << i;
        if (qh_put(&r->gpage, (uint64_t)page, 0, (int64_t)m, &slot) < 0)
            return -1;
    }
    *mask |= (uint64_t)*slot;
    return 0;
}

/* ---- the event unit ---- */

static int
qx_ev_one(qx_raw *r, const dbq_event_row *e, int64_t *k, int pv)
{
    const qx_plan *p = r->p;
    qx_ctx *c = r->c;
    int in = e->ts >= r->from;
    int64_t tkey = 0;
    if (p->ti >= 0) {
        tkey = qx_time_key(c, p->tkind, e->ts);
        k[p->ti] = 0;
    }
    long b = qg_get(&r->base, k);
    if (b < 0)
        return qx_fail(c, 500, "out of memory");
    if (p->ti >= 0)
        k[p->ti] = tkey;
    long g = -1;
    if (in && (g = qg_get(r->t, k)) < 0)
        return qx_fail(c, 500, "out of memory");
    qx_acc *a = g >= 0 ? &r->t->g[g].acc : NULL;
    if (a) {
        a->ev_pv += pv;
        a->ev_ev++;
    }
    if (p->need_ev) {
        int64_t epoch = p->vmode == QX_VM_HOUR ? qx_hour_instance(c, e->ts)
                                               : e->ts / QX_DAY_MS;
        if (epoch != r->vis_epoch) {
            qh_clear(&r->vis);
            r->vis_epoch = epoch;
        }
        /* a sealed day's events carry dense visitor ids: bits instead
         * of hashing (an hour instance may span two UTC days: hashed) */
        int n = e->vix >= 0 && p->vmode != QX_VM_HOUR
                ? qvb_put(&r->visb, (size_t)b, epoch, e->vix, e->vn) : 2;
        if (n == 2)
            n = qh_put(&r->vis, (uint64_t)b, e->visitor, 0, NULL);
        if (n < 0)
            return qx_fail(c, 500, "out of memory");
        if (n == 1 && a)
            a->ev_visitors++;
    }
    if (p->need_ev_visits) {
        int64_t day = e->ts / QX_DAY_MS;
        if (day != r->vgen_day) {
            if (day == r->vgen_day + 1) {
                qh tmp = r->vgen[1];
                r->vgen[1] = r->vgen[0];
                r->vgen[0] = tmp;
                qh_clear(&r->vgen[0]);
            } else {
                qh_clear(&r->vgen[0]);
                qh_clear(&r->vgen[1]);
            }
            r->vgen_day = day;
        }
        if (qh_get(&r->vgen[1], (uint64_t)b, (uint64_t)e->visit) == NULL) {
            int n = qh_put(&r->vgen[0], (uint64_t)b, (uint64_t)e->visit, 0, NULL);
            if (n < 0)
                return qx_fail(c, 500, "out of memory");
            if (n == 1 && a)
                a->ev_visits++;
        }
    }
    return 0;
}

static int
qx_ev_cb(void *ctx, const dbq_event_row *e)
{
    qx_raw *r = ctx;
    qx_ctx *c = r->c;
    const q_query *q = c->q;
    int64_t k[Q_MAX_DIMS];
    int pv = c->pv_id > 0 && e->name == c->pv_id;
    for (size_t i = 0; i < q->ndims; i++) {
        int col = r->dcol[i];
        k[i] = 0;
        if (col == DBQ_PROPS) {
            if (r->lpkey[i] && r->lprops[i] == e->props) {
                k[i] = r->lpkey[i];
                continue;
            }
            if ((k[i] = qx_prop_key(r, (int)i, e->props)) == 0)
                return qx_fail(c, 500, "out of memory");
            r->lprops[i] = e->props;
            r->lpkey[i] = k[i];
        } else if (col == DBQ_PAGE) {
            k[i] = e->page;
        } else if (col == DBQ_HOST) {
            k[i] = e->host;
        } else if (col == DBQ_NAME) {
            k[i] = e->name;
        } else if (col == DBQ_ENTRY) {
            k[i] = e->entry;
        } else if (col == DBQ_EXIT) {
            k[i] = e->exit;
        } else if (col >= DBQ_ATTR0) {
            k[i] = e->a[col - DBQ_ATTR0];
        }
    }
    if (r->gi < 0)
        return qx_ev_one(r, e, k, pv);
    uint64_t mask;
    if (qx_goals_of(r, e->name, e->page, pv, &mask) != 0)
        return qx_fail(c, 500, "database error");
    mask &= r->p->goal_allowed;
    for (size_t i = 0; mask && i < c->goals.n; i++) {
        if (!(mask & (1ull << i)))
            continue;
        k[r->gi] = (int64_t)i;
        if (qx_ev_one(r, e, k, pv) != 0)
            return -1;
    }
    return 0;
}

/* ---- the visit unit ---- */

static int
qx_vi_cb(void *ctx, const dbq_visit_row *v)
{
    qx_raw *r = ctx;
    qx_ctx *c = r->c;
    const qx_plan *p = r->p;
    const q_query *q = c->q;
    int64_t k[Q_MAX_DIMS];
    for (size_t i = 0; i < q->ndims; i++) {
        int col = qx_dim_col(q->dims[i].kind);
        k[i] = col == DBQ_PAGE || col == DBQ_ENTRY ? v->entry
             : col == DBQ_EXIT ? v->exit
             : col >= DBQ_ATTR0 ? v->a[col - DBQ_ATTR0] : 0;
    }
    int in = v->start >= r->from;
    int64_t tkey = 0;
    if (p->ti >= 0) {
        tkey = qx_time_key(c, p->tkind, v->start);
        k[p->ti] = 0;
    }
    long b = qg_get(&r->base, k);
    if (b < 0)
        return qx_fail(c, 500, "out of memory");
    if (p->ti >= 0)
        k[p->ti] = tkey;
    long g = -1;
    if (in && (g = qg_get(r->t, k)) < 0)
        return qx_fail(c, 500, "out of memory");
    if (g >= 0) {
        qx_acc *a = &r->t->g[g].acc;
        a->vi_visits++;
        a->vi_bounces += v->bounce;
        a->vi_duration += v->end / 1000 - v->start / 1000;
        a->vi_pv += v->pageviews;
        a->vi_ev += v->events;
    }
    if (p->src[Q_M_VISITORS] != QX_SRC_VI && p->src[Q_M_PERCENTAGE] != QX_SRC_VI
        && p->src[Q_M_CONVERSION_RATE] != QX_SRC_VI
        && p->src[Q_M_GROUP_CONVERSION_RATE] != QX_SRC_VI)
        return 0;
    uint64_t day = (uint64_t)(v->start / QX_DAY_MS);
    if (p->vmode == QX_VM_FIRST) {
        int64_t *slot;
        int n = qh_put(&r->first, ((uint64_t)b << 32) | (day & 0xffffffffu),
                       v->visitor, v->start, &slot);
        if (n < 0)
            return qx_fail(c, 500, "out of memory");
        if (n == 0 && v->start < *slot)
            *slot = v->start;
        return 0;
    }
    uint64_t epoch = p->vmode == QX_VM_HOUR
                     ? (uint64_t)(qx_hour_instance(c, v->start) / 900) : day;
    int n = qh_put(&r->first, ((uint64_t)b << 32) | (epoch & 0xffffffffu),
                   v->visitor, 0, NULL);
    if (n < 0)
        return qx_fail(c, 500, "out of memory");
    if (n == 1 && g >= 0)
        r->t->g[g].acc.vi_visitors++;
    return 0;
}

/* Visit unit, first-of-day visitors: count each identity in the bucket
 * of its first visit start, when that lies in the range. */
static int
qx_vi_first_flush(qx_raw *r)
{
    const qx_plan *p = r->p;
    for (size_t i = 0; i < r->first.cap; i++) {
        const qh_entry *e = &r->first.e[i];
        if (!e->used || e->v < r->from)
            continue;
        int64_t k[Q_MAX_DIMS];
        memcpy(k, r->base.g[e->a >> 32].k, sizeof(k));
        if (p->ti >= 0)
            k[p->ti] = qx_time_key(r->c, p->tkind, e->v);
        long g = qg_get(r->t, k);
        if (g < 0)
            return qx_fail(r->c, 500, "out of memory");
        r->t->g[g].acc.vi_visitors++;
    }
    return 0;
}

static void
qx_raw_free(qx_raw *r)
{
    qg_free(&r->base);
    qh_free(&r->vis);
    qvb_free(&r->visb);
    qh_free(&r->vgen[0]);
    qh_free(&r->vgen[1]);
    qh_free(&r->first);
    qh_free(&r->gname);
    qh_free(&r->gpage);
    for (int i = 0; i < Q_MAX_DIMS; i++)
        qh_free(&r->props[i]);
}

static int
qx_raw_status(qx_ctx *c, int rc)
{
    if (rc == 0)
        return 0;
    if (qm_error(c->m))
        return qx_fail(c, 400, "%s", qm_error(c->m));
    return qx_fail(c, 500, "database error");
}

int
qx_raw_run(qx_ctx *c, const qx_plan *p, qg_table *t)
{
    const q_query *q = c->q;
    qx_raw r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.p = p;
    r.t = t;
    r.base.nk = q->ndims;
    r.from = q->range.from_ms;
    r.to = q->range.to_ms;
    r.gi = -1;
    r.vis_epoch = INT64_MIN;
    r.vgen_day = INT64_MIN;
    for (size_t i = 0; i < q->ndims; i++) {
        if (q->dims[i].kind == Q_D_EVENT_GOAL)
            r.gi = (int)i;
        r.dcol[i] = qx_dim_col(q->dims[i].kind);
    }
    c->used_raw = 1;
    int64_t day0 = r.from / QX_DAY_MS * QX_DAY_MS;
    dbq_raw_req req = {
        .site = c->site, .hi = r.to, .pred = p->pred, .pageview_id = c->pv_id,
        .m = c->m,
    };
    int rc = 0;
    if (p->need_ev || p->ti >= 0 || (!p->need_vi)) {
        /* look back to the day's start (first-of-day visitors) and one day
         * more when visits of event values are counted (a visit reaches
         * back at most into the previous UTC day) */
        req.lo = p->need_ev_visits ? day0 - QX_DAY_MS
               : p->vmode == QX_VM_FIRST ? day0 : r.from;
        req.sub_lo = req.lo - QX_DAY_MS;
        req.sub_hi = r.to + 2 * QX_DAY_MS;
        int join = 0;
        for (size_t i = 0; i < q->ndims; i++) {
            int col = qx_dim_col(q->dims[i].kind);
            join |= col >= 0 && DBQ_IS_VISIT_COL(col);
        }
        req.need_visit = join;
        /* the row fields qx_ev_cb and qx_ev_one read */
        req.fields = DBQ_F_NAME | DBQ_F_VISITCOLS
                     | (p->need_ev ? DBQ_F_VISITOR : 0)
                     | (p->need_ev_visits ? DBQ_F_VISIT : 0)
                     | (r.gi >= 0 ? DBQ_F_PAGE : 0);
        for (size_t i = 0; i < q->ndims; i++) {
            int col = qx_dim_col(q->dims[i].kind);
            req.fields |= q->dims[i].kind == Q_D_EVENT_PROP ? DBQ_F_PROPS
                        : col == DBQ_PAGE ? DBQ_F_PAGE
                        : col == DBQ_HOST ? DBQ_F_HOST : 0;
        }
        if (p->need_ev || !p->need_vi)
            rc = qx_raw_status(c, dbq_events(c->d, &req, qx_ev_cb, &r));
    }
    if (rc == 0 && p->need_vi) {
        qh_clear(&r.first);
        req.lo = p->vmode == QX_VM_FIRST ? day0 : r.from;
        req.sub_lo = req.lo;
        req.sub_hi = r.to + 2 * QX_DAY_MS;
        rc = qx_raw_status(c, dbq_visits(c->d, &req, qx_vi_cb, &r));
        if (rc == 0 && p->vmode == QX_VM_FIRST)
            rc = qx_vi_first_flush(&r);
    }
    qx_raw_free(&r);
    return rc;
}
