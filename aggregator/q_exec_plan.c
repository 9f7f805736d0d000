/* q_exec_plan.c -- the executor's plan: which unit answers each metric,
 * the filter tree as a dbq_pred, time keys, the string cache. */
#include "aggregator/q_exec_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
qx_fail(qx_ctx *c, int status, const char *fmt, ...)
{
    if (c->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof c->err, fmt, ap);
        va_end(ap);
        c->status = status;
    }
    return -1;
}

int
qx_dim_is_event(q_dim_kind k)
{
    return k == Q_D_EVENT_PAGE || k == Q_D_EVENT_HOSTNAME || k == Q_D_EVENT_NAME
           || k == Q_D_EVENT_GOAL || k == Q_D_EVENT_PROP;
}

int
qx_dim_col(q_dim_kind k)
{
    switch (k) {
    case Q_D_EVENT_PAGE: return DBQ_PAGE;
    case Q_D_EVENT_HOSTNAME: return DBQ_HOST;
    case Q_D_EVENT_NAME: return DBQ_NAME;
    case Q_D_EVENT_PROP: return DBQ_PROPS;
    case Q_D_VISIT_ENTRY_PAGE: return DBQ_ENTRY;
    case Q_D_VISIT_EXIT_PAGE: return DBQ_EXIT;
    case Q_D_VISIT_SOURCE: return DBQ_ATTR0 + ATTR_SOURCE;
    case Q_D_VISIT_REFERRER: return DBQ_ATTR0 + ATTR_REFERRER;
    case Q_D_VISIT_CHANNEL: return DBQ_ATTR0 + ATTR_CHANNEL;
    case Q_D_VISIT_UTM_MEDIUM: return DBQ_ATTR0 + ATTR_UTM_MEDIUM;
    case Q_D_VISIT_UTM_SOURCE: return DBQ_ATTR0 + ATTR_UTM_SOURCE;
    case Q_D_VISIT_UTM_CAMPAIGN: return DBQ_ATTR0 + ATTR_UTM_CAMPAIGN;
    case Q_D_VISIT_UTM_CONTENT: return DBQ_ATTR0 + ATTR_UTM_CONTENT;
    case Q_D_VISIT_UTM_TERM: return DBQ_ATTR0 + ATTR_UTM_TERM;
    case Q_D_VISIT_DEVICE: return DBQ_ATTR0 + ATTR_DEVICE;
    case Q_D_VISIT_BROWSER: return DBQ_ATTR0 + ATTR_BROWSER;
    case Q_D_VISIT_BROWSER_VERSION: return DBQ_ATTR0 + ATTR_BROWSER_VERSION;
    case Q_D_VISIT_OS: return DBQ_ATTR0 + ATTR_OS;
    case Q_D_VISIT_OS_VERSION: return DBQ_ATTR0 + ATTR_OS_VERSION;
    case Q_D_VISIT_COUNTRY:
    case Q_D_VISIT_COUNTRY_NAME: return DBQ_ATTR0 + ATTR_COUNTRY;
    default: return -1;
    }
}

/* The label of a dimension's "none" value (id 0 / property absent). */
const char *
qx_none_label(q_dim_kind k)
{
    switch (k) {
    case Q_D_EVENT_PAGE: case Q_D_EVENT_HOSTNAME: case Q_D_EVENT_NAME:
    case Q_D_VISIT_ENTRY_PAGE: case Q_D_VISIT_EXIT_PAGE:
        return "";
    case Q_D_VISIT_SOURCE: case Q_D_VISIT_REFERRER:
        return "Direct / None";
    case Q_D_EVENT_PROP:
        return "(none)";
    default:
        return "(not set)";
    }
}

/* ---- time keys ---- */

int64_t
qx_day_key(const qx_ctx *c, q_dim_kind tk, int64_t day)
{
    if (tk == Q_D_TIME_WEEK) {
        int64_t mon = day - (int64_t)tz_weekday(day);
        return mon < c->q->range.first_day ? c->q->range.first_day : mon;
    }
    if (tk == Q_D_TIME_MONTH) {
        int64_t y;
        unsigned m, dd;
        tz_civil_from_days(day, &y, &m, &dd);
        return y * 12 + (int64_t)m - 1;
    }
    return day;
}

static int64_t
qx_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t
qx_time_key(const qx_ctx *c, q_dim_kind tk, int64_t t_ms)
{
    int64_t s = qx_floor_div(t_ms, 1000);
    if (tk == Q_D_TIME_HOUR)
        return qx_floor_div(s + tz_offset_at(c->z, s), 3600);
    return qx_day_key(c, tk, tz_day_of(c->z, s));
}

int64_t
qx_hour_instance(const qx_ctx *c, int64_t t_ms)
{
    int64_t s = qx_floor_div(t_ms, 1000);
    int32_t off = tz_offset_at(c->z, s);
    return qx_floor_div(s + off, 3600) * 3600 - off;
}

/* ---- strings ---- */

const char *
qx_str(qx_ctx *c, int64_t id)
{
    if (id <= 0)
        return "";
    int64_t *slot = qh_get(&c->str_idx, (uint64_t)id, 0);
    if (slot)
        return c->strs[*slot];
    char *s = NULL;
    if (db_string_get(c->d, id, &s) < 0)
        return NULL;
    if (s == NULL && (s = strdup("")) == NULL)
        return NULL;
    if (c->nstrs == c->capstrs) {
        size_t n = c->capstrs ? c->capstrs * 2 : 256;
        char **p = realloc(c->strs, n * sizeof(*p));
        if (p == NULL) {
            free(s);
            return NULL;
        }
        c->strs = p;
        c->capstrs = n;
    }
    if (qh_put(&c->str_idx, (uint64_t)id, 0, (int64_t)c->nstrs, NULL) < 0) {
        free(s);
        return NULL;
    }
    c->strs[c->nstrs++] = s;
    return s;
}

/* ---- filters -> dbq_pred ---- */

static void
qx_pred_free_kids(dbq_pred *p)
{
    for (size_t i = 0; i < p->nkids; i++)
        qx_pred_free_kids(&p->kids[i]);
    free(p->kids);
    p->kids = NULL;
    p->nkids = 0;
}

void
qx_pred_free(dbq_pred *p)
{
    if (p == NULL)
        return;
    qx_pred_free_kids(p);
    free(p);
}

uint64_t
qx_goal_mask(qx_ctx *c, const q_filter *f)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < c->goals.n; i++) {
        const char *nm = c->goals.g[i].name;
        for (size_t j = 0; j < f->nclauses; j++) {
            const char *cl = f->clauses[j];
            int hit;
            if (f->op == Q_OP_CONTAINS)
                hit = f->case_sensitive ? strstr(nm, cl) != NULL
                                        : strcasestr(nm, cl) != NULL;
            else
                hit = f->case_sensitive ? strcmp(nm, cl) == 0
                                        : strcasecmp(nm, cl) == 0;
            if (hit) {
                mask |= 1ull << i;
                break;
            }
        }
    }
    return mask;
}

/* A GOAL predicate for the goals in mask. */
static int
qx_goal_pred(qx_ctx *c, uint64_t mask, dbq_pred *out)
{
    const char *names[GOALS_MAX_PER_SITE], *pages[GOALS_MAX_PER_SITE];
    size_t nn = 0, np = 0;
    for (size_t i = 0; i < c->goals.n; i++) {
        if (!(mask & (1ull << i)))
            continue;
        if (c->goals.g[i].kind == GOAL_EVENT)
            names[nn++] = c->goals.g[i].value;
        else
            pages[np++] = c->goals.g[i].value;
    }
    char err[256];
    memset(out, 0, sizeof(*out));
    out->kind = nn + np ? DBQ_P_GOAL : DBQ_P_FALSE;
    out->fid = out->fid2 = -1;
    if (nn && (out->fid = qm_add(c->m, QM_IS, names, nn, 0, 0, err, sizeof err)) < 0)
        return qx_fail(c, 500, "%s", err);
    if (np && (out->fid2 = qm_add(c->m, QM_GLOB, pages, np, 0, 0, err, sizeof err)) < 0)
        return qx_fail(c, 500, "%s", err);
    return 0;
}

static int qx_filter_pred(qx_ctx *c, const q_filter *f, dbq_pred *out);

static int
qx_filter_list(qx_ctx *c, const q_filter *fs, size_t n, enum dbq_pred_kind k,
               dbq_pred *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = k;
    out->kids = calloc(n ? n : 1, sizeof(dbq_pred));
    if (out->kids == NULL)
        return qx_fail(c, 500, "out of memory");
    for (size_t i = 0; i < n; i++) {
        out->nkids = i + 1;
        if (qx_filter_pred(c, &fs[i], &out->kids[i]) != 0)
            return -1;
    }
    out->nkids = n;
    return 0;
}

static int
qx_filter_pred(qx_ctx *c, const q_filter *f, dbq_pred *out)
{
    memset(out, 0, sizeof(*out));
    switch (f->op) {
    case Q_OP_AND:
        return qx_filter_list(c, f->children, f->nchildren, DBQ_P_AND, out);
    case Q_OP_OR:
        return qx_filter_list(c, f->children, f->nchildren, DBQ_P_OR, out);
    case Q_OP_NOT:
        return qx_filter_list(c, f->children, 1, DBQ_P_NOT, out);
    case Q_OP_HAS_DONE:
        return qx_filter_list(c, f->children, 1, DBQ_P_HAS_DONE, out);
    case Q_OP_HAS_NOT_DONE:
        return qx_filter_list(c, f->children, 1, DBQ_P_HAS_NOT_DONE, out);
    default:
        break;
    }
    int neg = f->op == Q_OP_IS_NOT || f->op == Q_OP_CONTAINS_NOT
              || f->op == Q_OP_MATCHES_NOT;
    dbq_pred leaf;
    memset(&leaf, 0, sizeof(leaf));
    if (f->dim.kind == Q_D_EVENT_GOAL) {
        if (qx_goal_pred(c, qx_goal_mask(c, f), &leaf) != 0)
            return -1;
    } else {
        int col = qx_dim_col(f->dim.kind);
        if (col < 0)
            return qx_fail(c, 400, "Invalid filters. Dimension `%s` is not"
                           " supported by Tally (the entry and exit page's"
                           " hostname are not stored).", q_dim_name(f->dim.kind));
        enum qm_kind mk = f->op == Q_OP_IS || f->op == Q_OP_IS_NOT ? QM_IS
                        : f->op == Q_OP_CONTAINS || f->op == Q_OP_CONTAINS_NOT
                          ? QM_CONTAINS : QM_MATCHES;
        char err[320];
        int fid = qm_add(c->m, mk, (const char *const *)f->clauses, f->nclauses,
                         !f->case_sensitive,
                         f->dim.kind == Q_D_VISIT_COUNTRY_NAME, err, sizeof err);
        if (fid < 0)
            return qx_fail(c, 400, "Invalid filters. %s", err);
        const char *none = qx_none_label(f->dim.kind);
        leaf.kind = DBQ_P_LEAF;
        leaf.col = col;
        leaf.fid = fid;
        leaf.fid2 = -1;
        leaf.prop_key = f->dim.prop;
        leaf.none_match = f->dim.kind != Q_D_VISIT_COUNTRY_NAME
                          && qm_match(c->m, fid, none, strlen(none));
    }
    if (!neg) {
        *out = leaf;
        return 0;
    }
    out->kind = DBQ_P_NOT;
    out->kids = calloc(1, sizeof(dbq_pred));
    if (out->kids == NULL)
        return qx_fail(c, 500, "out of memory");
    out->kids[0] = leaf;
    out->nkids = 1;
    return 0;
}

/* The whole filter list as one AND predicate (NULL when empty). */
static int
qx_plan_pred(qx_ctx *c, qx_plan *p)
{
    const q_query *q = c->q;
    p->pred = NULL;
    if (q->nfilters == 0)
        return 0;
    p->pred = calloc(1, sizeof(dbq_pred));
    if (p->pred == NULL)
        return qx_fail(c, 500, "out of memory");
    return qx_filter_list(c, q->filters, q->nfilters, DBQ_P_AND, p->pred);
}

/* ---- the plan ---- */

static int
qx_is_session_metric(q_metric m)
{
    return m == Q_M_BOUNCE_RATE || m == Q_M_VISIT_DURATION || m == Q_M_VIEWS_PER_VISIT;
}

int
qx_plan_make(qx_ctx *c, qx_plan *p)
{
    const q_query *q = c->q;
    memset(p, 0, sizeof(*p));
    p->ti = -1;
    if (q->compare.mode != Q_CMP_NONE)
        return qx_fail(c, 400, "Invalid include.comparisons: comparisons are"
                       " not supported by Tally yet; run a second query for"
                       " the other period.");
    int has_host = 0;
    for (size_t i = 0; i < q->ndims; i++) {
        q_dim_kind k = q->dims[i].kind;
        if (q_dim_is_time(k)) {
            p->ti = (int)i;
            p->tkind = k;
        } else if (qx_dim_is_event(k)) {
            p->has_ev_dim = 1;
            has_host |= k == Q_D_EVENT_HOSTNAME;
        } else if (qx_dim_col(k) >= 0) {
            p->has_vi_dim = 1;
        } else {
            return qx_fail(c, 400, "#/dimensions/%zu: Dimension `%s` is not"
                           " supported by Tally (the entry and exit page's"
                           " hostname are not stored).", i, q_dim_name(k));
        }
    }
    for (size_t i = 0; i < q->nmetrics; i++) {
        q_metric m = q->metrics[i];
        if (m == Q_M_TIME_ON_PAGE || m == Q_M_SCROLL_DEPTH)
            return qx_fail(c, 400, "Metric `%s` is not supported by Tally: it"
                           " needs engagement events (time on page and scroll"
                           " depth), which Tally does not record.",
                           q_metric_name(m));
        if (qx_is_session_metric(m) && has_host)
            return qx_fail(c, 400, "Session metric `%s` cannot be queried along"
                           " with `event:hostname` in Tally (the hostname of"
                           " a visit's entry page is not stored).",
                           q_metric_name(m));
    }
    int vi_rows = p->has_vi_dim && !p->has_ev_dim;
    for (size_t i = 0; i < q->nmetrics; i++) {
        q_metric m = q->metrics[i];
        enum qx_src s;
        switch (m) {
        case Q_M_VISITS:
            s = p->has_ev_dim ? QX_SRC_EV : QX_SRC_VI;
            break;
        case Q_M_BOUNCE_RATE:
        case Q_M_VISIT_DURATION:
            s = QX_SRC_VI;
            break;
        case Q_M_VIEWS_PER_VISIT:
            s = QX_SRC_VI;
            p->need_vi_pv = 1;
            break;
        default:       /* visitors, pageviews, events, rates */
            s = vi_rows ? QX_SRC_VI : QX_SRC_EV;
            break;
        }
        p->src[m] = s;
        p->need_ev |= s == QX_SRC_EV;
        p->need_vi |= s == QX_SRC_VI;
        p->need_ev_visits |= m == Q_M_VISITS && s == QX_SRC_EV;
    }
    int kind = q->range.kind;
    p->vmode = p->tkind == Q_D_TIME_HOUR ? QX_VM_HOUR
             : (kind == Q_DR_REALTIME || kind == Q_DR_REALTIME_30M) ? QX_VM_DISTINCT
             : QX_VM_FIRST;
    /* goals admitted by the top-level goal filters (for event:goal rows) */
    p->goal_allowed = c->goals.n >= 64 ? ~0ull : (1ull << c->goals.n) - 1;
    for (size_t i = 0; i < q->nfilters; i++)
        if (q->filters[i].dim.kind == Q_D_EVENT_GOAL && q->filters[i].op <= Q_OP_MATCHES_NOT)
            p->goal_allowed &= qx_goal_mask(c, &q->filters[i]);
    return qx_plan_pred(c, p);
}
