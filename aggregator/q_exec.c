/* q_exec.c -- see q_exec.h: the request flow (site, parse, scope), the
 * derived queries of the rate metrics, final metric values, order,
 * pagination and the response JSON. */
#include "aggregator/q_exec_int.h"
#include "aggregator/log.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
qx_env_force_raw(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("TALLY_FORCE_RAW");
        v = e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
    }
    return v;
}

static char *
qx_error_json(const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* Runs query q (c->q is set to it for the duration) into t. */
static int
qx_compute(qx_ctx *c, const q_query *q, qg_table *t)
{
    const q_query *saved = c->q;
    c->q = q;
    qx_plan p;
    memset(t, 0, sizeof(*t));
    t->nk = q->ndims;
    int rc = qx_plan_make(c, &p);
    if (rc == 0) {
        rc = qx_rollup_run(c, &p, t);
        if (rc == 0)
            rc = qx_raw_run(c, &p, t);
        rc = rc < 0 ? -1 : 0;
    }
    /* an aggregate always has its one row */
    if (rc == 0 && q->ndims == 0 && t->n == 0) {
        int64_t k[1] = { 0 };
        if (qg_get(t, k) < 0)
            rc = qx_fail(c, 500, "out of memory");
    }
    qx_pred_free(p.pred);
    c->q = saved;
    return rc;
}

/* A copy of q with metrics [visitors], dims `keep` (flags per dim), and
 * without top-level event:goal / event:props filters when strip is set.
 * The copy shares q's filter nodes; free only copy->filters. */
static int
qx_derive(const q_query *q, const int *keep, int strip, q_query *out)
{
    *out = *q;
    out->metrics[0] = Q_M_VISITORS;
    out->nmetrics = 1;
    out->ndims = 0;
    for (size_t i = 0; i < q->ndims; i++)
        if (keep && keep[i])
            out->dims[out->ndims++] = q->dims[i];
    out->norder = 0;
    out->filters = NULL;
    out->nfilters = 0;
    if (q->nfilters) {
        out->filters = calloc(q->nfilters, sizeof(q_filter));
        if (out->filters == NULL)
            return -1;
        for (size_t i = 0; i < q->nfilters; i++) {
            const q_filter *f = &q->filters[i];
            if (strip && f->op <= Q_OP_MATCHES_NOT
                && (f->dim.kind == Q_D_EVENT_GOAL || f->dim.kind == Q_D_EVENT_PROP))
                continue;
            out->filters[out->nfilters++] = *f;
        }
    }
    return 0;
}

static int64_t
qx_row_visitors(const qx_plan *p, const qx_acc *a)
{
    return p->src[Q_M_VISITORS] == QX_SRC_VI ? a->vi_visitors : a->ev_visitors;
}

/* Total visitors of derived query d (no dims). */
static int
qx_total(qx_ctx *c, q_query *d, int64_t *out)
{
    qg_table t;
    int rc = qx_compute(c, d, &t);
    if (rc == 0) {
        qx_plan p;
        const q_query *saved = c->q;
        c->q = d;
        rc = qx_plan_make(c, &p);
        c->q = saved;
        qx_pred_free(p.pred);
        *out = rc == 0 && t.n ? qx_row_visitors(&p, &t.g[0].acc) : 0;
    }
    qg_free(&t);
    return rc;
}

static double
qx_round(double x, int digits)
{
    double f = digits == 2 ? 100.0 : digits == 1 ? 10.0 : 1.0;
    return round(x * f) / f;
}

/* ---- the rate metrics' bases ---- */

typedef struct {
    int64_t  pct_total, cr_total;
    qg_table grp;                 /* group_conversion_rate bases */
    q_query  grpq;
    int      have_grp;
    int      keep[Q_MAX_DIMS];
    qx_plan  grpp;
} qx_bases;

static int
qx_has_metric(const q_query *q, q_metric m)
{
    for (size_t i = 0; i < q->nmetrics; i++)
        if (q->metrics[i] == m)
            return 1;
    return 0;
}

static int
qx_bases_run(qx_ctx *c, const q_query *q, qx_bases *b)
{
    memset(b, 0, sizeof(*b));
    q_query d;
    if (qx_has_metric(q, Q_M_PERCENTAGE)) {
        if (qx_derive(q, NULL, 0, &d) != 0)
            return qx_fail(c, 500, "out of memory");
        int rc = qx_total(c, &d, &b->pct_total);
        free(d.filters);
        if (rc != 0)
            return -1;
    }
    if (qx_has_metric(q, Q_M_CONVERSION_RATE)) {
        if (qx_derive(q, NULL, 1, &d) != 0)
            return qx_fail(c, 500, "out of memory");
        int rc = qx_total(c, &d, &b->cr_total);
        free(d.filters);
        if (rc != 0)
            return -1;
    }
    if (qx_has_metric(q, Q_M_GROUP_CONVERSION_RATE)) {
        for (size_t i = 0; i < q->ndims; i++)
            b->keep[i] = q->dims[i].kind != Q_D_EVENT_GOAL;
        if (qx_derive(q, b->keep, 1, &b->grpq) != 0)
            return qx_fail(c, 500, "out of memory");
        b->have_grp = 1;
        if (qx_compute(c, &b->grpq, &b->grp) != 0)
            return -1;
        const q_query *saved = c->q;
        c->q = &b->grpq;
        int rc = qx_plan_make(c, &b->grpp);
        c->q = saved;
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void
qx_bases_free(qx_bases *b)
{
    if (b->have_grp) {
        qg_free(&b->grp);
        free(b->grpq.filters);
        qx_pred_free(b->grpp.pred);
    }
}

/* ---- final values ---- */

static void
qx_finish(const q_query *q, const qx_plan *p, qx_bases *b, qx_group *g)
{
    const qx_acc *a = &g->acc;
    int vi = p->src[Q_M_VISITORS] == QX_SRC_VI;
    double visitors = (double)qx_row_visitors(p, a);
    for (size_t i = 0; i < q->nmetrics; i++) {
        q_metric m = q->metrics[i];
        double v = 0;
        switch (m) {
        case Q_M_VISITORS: v = visitors; break;
        case Q_M_VISITS:
            v = (double)(p->src[m] == QX_SRC_EV ? a->ev_visits : a->vi_visits);
            break;
        case Q_M_PAGEVIEWS: v = (double)(vi ? a->vi_pv : a->ev_pv); break;
        case Q_M_EVENTS: v = (double)(vi ? a->vi_ev : a->ev_ev); break;
        case Q_M_VIEWS_PER_VISIT:
            v = a->vi_visits ? qx_round((double)a->vi_pv / (double)a->vi_visits, 2) : 0;
            break;
        case Q_M_BOUNCE_RATE:
            v = a->vi_visits ? qx_round(100.0 * (double)a->vi_bounces / (double)a->vi_visits, 0) : 0;
            break;
        case Q_M_VISIT_DURATION:
            v = a->vi_visits ? qx_round((double)a->vi_duration / (double)a->vi_visits, 0) : 0;
            break;
        case Q_M_PERCENTAGE:
            if (b->pct_total > 0)
                v = qx_round(100.0 * visitors / (double)b->pct_total, 1);
            else
                g->null_out[m] = 1;
            break;
        case Q_M_CONVERSION_RATE:
            v = b->cr_total > 0 ? qx_round(100.0 * visitors / (double)b->cr_total, 2) : 0;
            break;
        case Q_M_GROUP_CONVERSION_RATE: {
            int64_t k[Q_MAX_DIMS] = { 0 };
            size_t n = 0;
            for (size_t j = 0; j < q->ndims; j++)
                if (b->keep[j])
                    k[n++] = g->k[j];
            long gi = b->have_grp ? qg_find(&b->grp, k) : -1;
            int64_t base = gi >= 0 ? qx_row_visitors(&b->grpp, &b->grp.g[gi].acc) : 0;
            v = base > 0 ? qx_round(100.0 * visitors / (double)base, 2) : 0;
            break;
        }
        default:
            break;
        }
        g->out[m] = v;
    }
}

static int
qx_metric_is_real(q_metric m)
{
    return m == Q_M_VIEWS_PER_VISIT || m == Q_M_PERCENTAGE
           || m == Q_M_CONVERSION_RATE || m == Q_M_GROUP_CONVERSION_RATE;
}

/* ---- labels ---- */

typedef struct {
    char  **s;
    size_t  n, cap;
} qx_arena;

static const char *
qx_arena_add(qx_arena *a, const char *s)
{
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 256;
        char **p = realloc(a->s, c * sizeof(*p));
        if (p == NULL)
            return NULL;
        a->s = p;
        a->cap = c;
    }
    char *d = strdup(s);
    if (d)
        a->s[a->n++] = d;
    return d;
}

static void
qx_arena_free(qx_arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->s[i]);
    free(a->s);
}

static void
qx_time_label(q_dim_kind tk, int64_t key, char *out, size_t cap)
{
    char d[16];
    if (tk == Q_D_TIME_HOUR) {
        int64_t day = key >= 0 ? key / 24 : -((-key + 23) / 24);
        q_format_date(day, d, sizeof d);
        snprintf(out, cap, "%s %02d:00:00", d, (int)(key - day * 24));
    } else if (tk == Q_D_TIME_MONTH) {
        int64_t y = key >= 0 ? key / 12 : -((-key + 11) / 12);
        q_format_date(tz_days_from_civil(y, (unsigned)(key - y * 12) + 1, 1), out, cap);
    } else {
        q_format_date(key, out, cap);
    }
}

static int
qx_label(qx_ctx *c, qx_arena *ar, const q_dim *dm, int64_t key, const char **out)
{
    char buf[64];
    const char *s;
    if (q_dim_is_time(dm->kind)) {
        qx_time_label(dm->kind, key, buf, sizeof buf);
        s = buf;
    } else if (dm->kind == Q_D_EVENT_GOAL) {
        s = key >= 0 && (size_t)key < c->goals.n ? c->goals.g[key].name : "";
    } else if (dm->kind == Q_D_EVENT_PROP) {
        s = key == QX_PROP_NONE ? "(none)"
          : key <= -2 && (size_t)(-2 - key) < c->npvals ? c->pvals[-2 - key] : "";
    } else if (key == 0) {
        s = qx_none_label(dm->kind);
    } else {
        s = qx_str(c, key);
        if (s == NULL)
            return qx_fail(c, 500, "database error");
        if (dm->kind == Q_D_VISIT_COUNTRY_NAME) {
            const char *nm = qm_country_name(s);
            s = nm ? nm : s;
        }
        *out = s;
        return 0;
    }
    if ((*out = qx_arena_add(ar, s)) == NULL)
        return qx_fail(c, 500, "out of memory");
    return 0;
}

/* ---- order ---- */

typedef struct {
    const q_query *q;
    const qx_group *g;
} qx_sort_ctx;

static int
qx_cmp_dim(const q_query *q, const qx_group *a, const qx_group *b, size_t d)
{
    if (q_dim_is_time(q->dims[d].kind))
        return a->k[d] < b->k[d] ? -1 : a->k[d] > b->k[d];
    return strcmp(a->label[d], b->label[d]);
}

static int
qx_cmp(const void *pa, const void *pb, void *ctx)
{
    const qx_sort_ctx *s = ctx;
    const qx_group *a = &s->g[*(const size_t *)pa], *b = &s->g[*(const size_t *)pb];
    const q_query *q = s->q;
    for (size_t i = 0; i < q->norder; i++) {
        const q_order *o = &q->order[i];
        int c;
        if (o->is_metric) {
            double x = a->out[o->metric], y = b->out[o->metric];
            c = x < y ? -1 : x > y;
        } else {
            c = qx_cmp_dim(q, a, b, o->dim);
        }
        if (c)
            return o->desc ? -c : c;
    }
    for (size_t d = 0; d < q->ndims; d++) {
        int c = qx_cmp_dim(q, a, b, d);
        if (c)
            return c;
    }
    return 0;
}

/* ---- time labels ---- */

static json_t *
qx_time_labels(qx_ctx *c, q_dim_kind tk)
{
    const q_range *r = &c->q->range;
    json_t *arr = json_array();
    char buf[64];
    int64_t last = INT64_MIN;
    if (tk == Q_D_TIME_HOUR) {
        for (int64_t t = r->first_s; t <= r->last_s; t += 900) {
            int64_t k = qx_time_key(c, tk, t * 1000);
            if (k == last)
                continue;
            last = k;
            qx_time_label(tk, k, buf, sizeof buf);
            json_array_append_new(arr, json_string(buf));
        }
        return arr;
    }
    for (int64_t day = r->first_day; day <= r->last_day; day++) {
        int64_t k = qx_day_key(c, tk, day);
        if (k == last)
            continue;
        last = k;
        qx_time_label(tk, k, buf, sizeof buf);
        json_array_append_new(arr, json_string(buf));
    }
    return arr;
}

/* ---- the response ---- */

static char *
qx_render(qx_ctx *c, const qx_plan *p, qg_table *t, qx_bases *b, int *status)
{
    const q_query *q = c->q;
    qx_arena ar = { 0 };
    size_t *ord = malloc((t->n ? t->n : 1) * sizeof(size_t));
    char *out = NULL;
    if (ord == NULL)
        goto oom;
    for (size_t i = 0; i < t->n; i++) {
        qx_group *g = &t->g[i];
        ord[i] = i;
        qx_finish(q, p, b, g);
        for (size_t d = 0; d < q->ndims; d++)
            if (qx_label(c, &ar, &q->dims[d], g->k[d], &g->label[d]) != 0)
                goto fail;
    }
    qx_sort_ctx sc = { q, t->g };
    qsort_r(ord, t->n, sizeof(size_t), qx_cmp, &sc);

    json_t *results = json_array(), *meta = json_object();
    for (uint64_t i = q->offset; i < t->n && i - q->offset < q->limit; i++) {
        const qx_group *g = &t->g[ord[i]];
        json_t *dims = json_array(), *ms = json_array();
        for (size_t d = 0; d < q->ndims; d++)
            json_array_append_new(dims, json_string(g->label[d]));
        for (size_t j = 0; j < q->nmetrics; j++) {
            q_metric m = q->metrics[j];
            json_array_append_new(ms, g->null_out[m] ? json_null()
                                  : qx_metric_is_real(m) ? json_real(g->out[m])
                                  : json_integer((json_int_t)g->out[m]));
        }
        json_array_append_new(results, json_pack("{s:o, s:o}", "dimensions", dims,
                                                 "metrics", ms));
    }
    if (q->time_labels && p->ti >= 0)
        json_object_set_new(meta, "time_labels", qx_time_labels(c, p->tkind));
    if (q->total_rows)
        json_object_set_new(meta, "total_rows", json_integer((json_int_t)t->n));
    json_t *echo = NULL;
    if (q_query_to_json(q, &echo) != 0)
        echo = json_object();
    json_t *resp = json_pack("{s:o, s:o, s:o}", "results", results, "meta", meta,
                             "query", echo);
    out = resp ? json_dumps(resp, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(resp);
    if (out == NULL)
        goto oom;
    *status = 200;
    goto done;
oom:
    qx_fail(c, 500, "out of memory");
fail:
    *status = c->status ? c->status : 500;
    out = qx_error_json(c->err);
done:
    free(ord);
    qx_arena_free(&ar);
    return out;
}

/* ---- the request ---- */

static void
qx_ctx_free(qx_ctx *c)
{
    goals_free(&c->goals);
    qm_free(c->m);
    for (size_t i = 0; i < c->nstrs; i++)
        free(c->strs[i]);
    free(c->strs);
    qh_free(&c->str_idx);
    for (size_t i = 0; i < c->npvals; i++)
        free(c->pvals[i]);
    free(c->pvals);
    qh_free(&c->pval_idx);
}

static int64_t
qx_now_ms(const qx_opts *o)
{
    if (o && o->now_ms)
        return o->now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
qx_handle(db *d, const char *body, size_t len, const qx_opts *o, int *status,
          const char **path)
{
    char err[512], tzname[TZ_NAME_MAX] = "UTC", domain[Q_MAX_SITE_ID + 1] = "";
    int64_t site = 0, first_hour = -1;
    int found = 0;
    if (path)
        *path = "";
    /* the site first: its zone shapes the date range */
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *sid = root ? json_object_get(root, "site_id") : NULL;
    if (json_is_string(sid) && json_string_length(sid) <= Q_MAX_SITE_ID) {
        snprintf(domain, sizeof domain, "%s", json_string_value(sid));
        found = dbq_site(d, domain, &site, tzname, sizeof tzname, &first_hour);
    }
    json_decref(root);
    if (found < 0) {
        *status = 500;
        return qx_error_json("database error");
    }
    const tz_zone *z = tz_get(found ? tzname : "UTC", err, sizeof err);
    if (z == NULL) {
        *status = 500;
        log_error("stats: site %s: %s", domain, err);
        return qx_error_json("the site's time zone cannot be loaded");
    }
    q_site_info si = {
        .timezone = found ? tzname : NULL, .now_ms = qx_now_ms(o),
        .first_day = first_hour >= 0 ? tz_day_of(z, first_hour * 3600) : -1,
    };
    q_query q;
    if (q_parse(body, len, &si, &q, err, sizeof err) != 0) {
        q_query_free(&q);
        *status = 400;
        return qx_error_json(err);
    }
    int allowed = found == 1;
    if (allowed && o && o->key_id >= 0) {
        int a = db_key_site_allowed(d, o->key_id, site);
        if (a < 0) {
            q_query_free(&q);
            *status = 500;
            return qx_error_json("database error");
        }
        allowed = a;
    }
    if (allowed && o && o->only_site && strcmp(o->only_site, q.site_id) != 0)
        allowed = 0;
    if (!allowed) {
        q_query_free(&q);
        *status = 404;
        return qx_error_json("Site does not exist or user does not have"
                             " sufficient access.");
    }

    qx_ctx c;
    memset(&c, 0, sizeof(c));
    c.d = d;
    c.q = &q;
    c.site = site;
    c.z = q.tz ? q.tz : z;
    c.force_raw = (o && o->force_raw) || qx_env_force_raw();
    c.m = qm_new();
    char *out = NULL;
    qg_table t = { 0 };
    qx_bases b;
    memset(&b, 0, sizeof(b));
    qx_plan p = { 0 };
    /* one snapshot for every statement of the query (db_seal.h) */
    int snap = db_read_begin(d);
    if (snap < 0 || c.m == NULL || goals_load(d, site, &c.goals) != 0
        || (c.pv_id = db_pageview_id(d)) < 0) {
        qx_fail(&c, 500, "database error");
        goto fail;
    }
    if (qx_compute(&c, &q, &t) != 0 || qx_bases_run(&c, &q, &b) != 0
        || qx_plan_make(&c, &p) != 0)
        goto fail;
    out = qx_render(&c, &p, &t, &b, status);
    if (path)
        *path = c.used_raw ? "raw" : "rollup";
    goto done;
fail:
    *status = c.status ? c.status : 500;
    out = qx_error_json(c.err[0] ? c.err : "internal error");
done:
    if (snap == 1)
        db_read_end(d);
    qx_pred_free(p.pred);
    qx_bases_free(&b);
    qg_free(&t);
    qx_ctx_free(&c);
    q_query_free(&q);
    return out;
}

int
qx_realtime_visitors(db *d, const char *site, int64_t now_ms, int64_t *n)
{
    char tz[TZ_NAME_MAX];
    int64_t id, fh;
    int found = dbq_site(d, site, &id, tz, sizeof tz, &fh);
    if (found <= 0)
        return found;
    *n = dbq_distinct_visitors(d, id, now_ms - 5 * 60000, now_ms + 1);
    return *n < 0 ? -1 : 1;
}
