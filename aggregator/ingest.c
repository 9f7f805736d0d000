/* ingest.c -- see ingest.h. */
#include "aggregator/ingest.h"
#include "aggregator/log.h"
#include "aggregator/rollup.h"
#include "aggregator/session.h"
#include "aggregator/uniq.h"
#include "aggregator/vmap.h"

#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL

typedef struct {
    int64_t last_ts, next;
    int     known;
} ingest_seq;

struct ingest {
    db        *d;
    attrs_ctx *x;
    session   *s;
    uniq      *u;
    rollup    *live;       /* the batch's deltas, flushed             */
    rollup    *scratch;    /* deltas computed while replaying: dropped */
    rollup    *cur;
    int        ready, replaying;
    int64_t    hwm;
    int64_t    pv_id;      /* string id of "pageview" (replay)        */
    int64_t    window;     /* replay: first ts replayed               */
    vmap       replay_ids; /* replay: visit id -> slab index + 1      */
    uint32_t  *dirty;
    size_t     ndirty, capdirty;
    ingest_seq *seqs;      /* by site id */
    size_t     nseqs;
    uint64_t   replayed, bots;
};

static int64_t day_of(int64_t ts) { return ts / DAY_MS; }

ingest *
ingest_new(db *d, attrs_ctx *x)
{
    ingest *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->d = d;
    g->x = x;
    vmap_init(&g->replay_ids);
    g->live = rollup_new();
    g->scratch = rollup_new();
    g->cur = g->live;
    if (g->live == NULL || g->scratch == NULL) {
        ingest_free(g);
        return NULL;
    }
    return g;
}

void
ingest_reset(ingest *g)
{
    session_free(g->s);
    uniq_free(g->u);
    g->s = NULL;
    g->u = NULL;
    rollup_clear(g->live);
    rollup_clear(g->scratch);
    g->cur = g->live;
    vmap_free(&g->replay_ids);
    g->ndirty = 0;
    free(g->seqs);
    g->seqs = NULL;
    g->nseqs = 0;
    g->ready = 0;
    g->replaying = 0;
    attrs_reset(g->x);
}

void
ingest_free(ingest *g)
{
    if (g == NULL)
        return;
    ingest_reset(g);
    rollup_free(g->live);
    rollup_free(g->scratch);
    free(g->dirty);
    free(g);
}

int64_t
ingest_hwm(const ingest *g)
{
    return g->hwm;
}

void
ingest_get_stats(const ingest *g, ingest_stats *st)
{
    st->visits_open = g->s ? session_count(g->s) : 0;
    st->uniq_keys = g->u ? uniq_entries(g->u) : 0;
    st->replayed = g->replayed;
    st->bots = g->bots;
}

/* ---- per-ms sequence numbers ---- */

static int
ingest_next_seq(ingest *g, int64_t site, int64_t ts, int64_t *seq)
{
    if (site <= 0 || site > (1 << 24))
        return -1;
    if ((size_t)site >= g->nseqs) {
        size_t n = g->nseqs ? g->nseqs : 16;
        while (n <= (size_t)site)
            n *= 2;
        ingest_seq *p = realloc(g->seqs, n * sizeof(*p));
        if (p == NULL)
            return -1;
        memset(p + g->nseqs, 0, (n - g->nseqs) * sizeof(*p));
        g->seqs = p;
        g->nseqs = n;
    }
    ingest_seq *q = &g->seqs[site];
    if (!q->known) {
        if (db_seq_last(g->d, site, &q->last_ts, &q->next) != 0)
            return -1;
        q->known = 1;
        if (q->next == 0)
            q->last_ts = -1;               /* no event yet */
    }
    if (ts > q->last_ts) {
        q->last_ts = ts;
        q->next = 1;
        *seq = 0;
    } else if (ts == q->last_ts) {
        *seq = q->next++;
    } else if (db_seq_at(g->d, site, ts, seq) != 0) {
        return -1;
    }
    return 0;
}

/* ---- rollup contributions ---- */

static int
ingest_mark(ingest *g, visit *v)
{
    if (v->dirty)
        return 0;
    if (g->ndirty == g->capdirty) {
        size_t n = g->capdirty ? g->capdirty * 2 : 4096;
        uint32_t *p = realloc(g->dirty, n * sizeof(*p));
        if (p == NULL)
            return -1;
        g->dirty = p;
        g->capdirty = n;
    }
    g->dirty[g->ndirty++] = session_index(g->s, v);
    v->dirty = 1;
    return 0;
}

/* The event part: site totals and the event dimensions, by event hour. */
static int
ingest_dim(ingest *g, visit *v, const uniq_ref *ur, int dim, int64_t k1,
           int64_t k2, int64_t hour, int pv)
{
    int first = 0;
    if (dim != DIM_TOTAL) {
        int64_t kv[3] = { dim, k1, k2 };
        int s = visit_seen(v, vmap_key(kv, 3));
        if (s < 0)
            return -1;
        first = s == 0;
    }
    int64_t *m = rollup_at(g->cur, v->site, dim, hour, k1, k2);
    if (m == NULL)
        return -1;
    m[M_EVENTS]++;
    m[M_PAGEVIEWS] += pv;
    m[M_VISITS] += first;
    return uniq_event(g->u, ur, g->cur, m, v->site, dim, k1, k2, hour);
}

static int
ingest_event_dims(ingest *g, visit *v, int64_t ts, int64_t name,
                  int64_t page, int64_t host, int64_t props_id,
                  const char *props, size_t props_len, int pv)
{
    int64_t hour = ts / HOUR_MS;
    uniq_ref ur;
    if (uniq_visitor(g->u, v->site, v->visitor, hour / 24, &ur) != 0)
        return -1;
    if (ingest_dim(g, v, &ur, DIM_TOTAL, 0, 0, hour, pv) != 0
        || ingest_dim(g, v, &ur, DIM_PAGE, page, 0, hour, pv) != 0
        || ingest_dim(g, v, &ur, DIM_HOSTNAME, host, 0, hour, pv) != 0
        || ingest_dim(g, v, &ur, DIM_NAME, name, 0, hour, pv) != 0)
        return -1;
    if (props_id > 0) {
        const attrs_prop *p;
        size_t n;
        if (attrs_props(g->x, g->d, props_id, props, props_len, &p, &n) != 0)
            return -1;
        /* copied: ingest_dim does not touch the props cache, but keep
         * the loop independent of it anyway */
        for (size_t i = 0; i < n; i++) {
            attrs_prop pr = p[i];
            if (ingest_dim(g, v, &ur, DIM_PROP, pr.key, pr.value, hour, pv) != 0)
                return -1;
        }
    }
    return 0;
}

/* The visit dimension values of v's current state. */
static int
ingest_visit_keys(ingest *g, const visit *v, int64_t k[VISIT_NDIMS][2])
{
    int64_t a[ATTR_COUNT];
    if (attrs_tuple(g->x, g->d, visit_attrs(v), a) != 0)
        return -1;
    memset(k, 0, sizeof(int64_t) * VISIT_NDIMS * 2);
#define K(dim, x, y) (k[(dim) - DIM_FIRST_VISIT][0] = (x), k[(dim) - DIM_FIRST_VISIT][1] = (y))
    K(DIM_ENTRY_PAGE, visit_entry(v), 0);
    K(DIM_EXIT_PAGE, visit_exit(v), 0);
    K(DIM_SOURCE, a[ATTR_SOURCE], 0);
    K(DIM_REFERRER, a[ATTR_REFERRER], 0);
    K(DIM_CHANNEL, a[ATTR_CHANNEL], 0);
    K(DIM_UTM_MEDIUM, a[ATTR_UTM_MEDIUM], 0);
    K(DIM_UTM_SOURCE, a[ATTR_UTM_SOURCE], 0);
    K(DIM_UTM_CAMPAIGN, a[ATTR_UTM_CAMPAIGN], 0);
    K(DIM_UTM_CONTENT, a[ATTR_UTM_CONTENT], 0);
    K(DIM_UTM_TERM, a[ATTR_UTM_TERM], 0);
    K(DIM_COUNTRY, a[ATTR_COUNTRY], 0);
    K(DIM_BROWSER, a[ATTR_BROWSER], 0);
    K(DIM_BROWSER_VERSION, a[ATTR_BROWSER], a[ATTR_BROWSER_VERSION]);
    K(DIM_OS, a[ATTR_OS], 0);
    K(DIM_OS_VERSION, a[ATTR_OS], a[ATTR_OS_VERSION]);
    K(DIM_DEVICE, a[ATTR_DEVICE], 0);
#undef K
    return 0;
}

static const int ingest_vmetric[5] = { M_VISITS, M_BOUNCES, M_DURATION,
                                       M_PAGEVIEWS, M_EVENTS };

/* Adds sign * m (the first nm metrics) to the row; returns the row or
 * NULL. */
static int64_t *
ingest_row_add(ingest *g, int64_t site, int dim, int64_t hour, int64_t k1,
               int64_t k2, const int64_t *m, int nm, int sign)
{
    int64_t *r = rollup_at(g->cur, site, dim, hour, k1, k2);
    if (r == NULL)
        return NULL;
    for (int i = 0; i < nm; i++)
        r[ingest_vmetric[i]] += sign * m[i];
    return r;
}

/* Brings v's contribution to the rollups (site totals' visits, bounces
 * and duration; every visit dimension) from what was last applied to
 * its current state, all at the visit's start hour.  What was applied
 * is taken back first (every dimension), then the new state added, so
 * each visitor-set record is looked up once per side. */
static int
ingest_apply(ingest *g, visit *v)
{
    if (v->foreign || v->events == 0)
        return 0;
    int64_t hour = v->fe_ts / HOUR_MS;
    int64_t k[VISIT_NDIMS][2];
    if (ingest_visit_keys(g, v, k) != 0)
        return -1;
    int64_t m[5] = { 1, visit_bounce(v), visit_duration_s(v), v->pageviews,
                     v->events };
    int64_t diff[5];
    for (int i = 0; i < 5; i++)
        diff[i] = m[i] - v->ap_m[i];
    int same_hour = v->applied && v->ap_hour == hour;

    if (same_hour) {
        if ((diff[1] | diff[2]) != 0
            && ingest_row_add(g, v->site, DIM_TOTAL, hour, 0, 0, diff, 3, 1) == NULL)
            return -1;
    } else {
        if (v->applied
            && ingest_row_add(g, v->site, DIM_TOTAL, v->ap_hour, 0, 0, v->ap_m, 3, -1) == NULL)
            return -1;
        if (ingest_row_add(g, v->site, DIM_TOTAL, hour, 0, 0, m, 3, 1) == NULL)
            return -1;
    }
    int any = 0;
    for (int i = 0; i < 5; i++)
        any |= diff[i] != 0;
    unsigned change = 0;                 /* dims whose row moves */
    for (int i = 0; i < VISIT_NDIMS; i++) {
        int dim = DIM_FIRST_VISIT + i;
        if (same_hour && k[i][0] == v->ap_k[i][0] && k[i][1] == v->ap_k[i][1]) {
            if (any && ingest_row_add(g, v->site, dim, hour, k[i][0], k[i][1],
                                      diff, 5, 1) == NULL)
                return -1;
            continue;
        }
        change |= 1u << i;
    }
    if (change == 0)
        goto done;
    uniq_ref ur;
    if (v->applied) {
        if (uniq_visitor(g->u, v->site, v->visitor, v->ap_hour / 24, &ur) != 0)
            return -1;
        for (int i = 0; i < VISIT_NDIMS; i++) {
            if (!(change & (1u << i)))
                continue;
            int dim = DIM_FIRST_VISIT + i;
            int64_t *row = ingest_row_add(g, v->site, dim, v->ap_hour,
                                          v->ap_k[i][0], v->ap_k[i][1],
                                          v->ap_m, 5, -1);
            if (row == NULL
                || uniq_visit(g->u, &ur, g->cur, row, v->site, dim, v->ap_k[i][0],
                              v->ap_k[i][1], v->ap_hour, -1) != 0)
                return -1;
        }
    }
    if (uniq_visitor(g->u, v->site, v->visitor, hour / 24, &ur) != 0)
        return -1;
    for (int i = 0; i < VISIT_NDIMS; i++) {
        if (!(change & (1u << i)))
            continue;
        int dim = DIM_FIRST_VISIT + i;
        int64_t *row = ingest_row_add(g, v->site, dim, hour, k[i][0], k[i][1],
                                      m, 5, 1);
        if (row == NULL
            || uniq_visit(g->u, &ur, g->cur, row, v->site, dim, k[i][0], k[i][1],
                          hour, 1) != 0)
            return -1;
    }
done:
    v->applied = 1;
    v->ap_hour = hour;
    memcpy(v->ap_k, k, sizeof(v->ap_k));
    memcpy(v->ap_m, m, sizeof(v->ap_m));
    return 0;
}

/* ---- live events ---- */

/* The visit an event of (site, visitor) at ts joins: the open one while
 * it is idle for at most VISIT_IDLE_MS and within the days in memory,
 * else a new one (with the next visit id).  NULL on error. */
static visit *
ingest_visit_at(ingest *g, int64_t site, uint64_t visitor, int64_t ts)
{
    visit *v = session_find(g->s, site, visitor);
    int join = v != NULL && ts <= v->le_ts + VISIT_IDLE_MS
               && ts >= v->fe_ts - VISIT_IDLE_MS
               && day_of(v->fe_ts) >= day_of(g->hwm) - 1
               && day_of(ts) >= day_of(g->hwm) - 1;
    if (!join) {
        int64_t id = db_visit_next_id(g->d);
        if (id < 0)
            return NULL;
        v = session_open(g->s, site, visitor, id);
    }
    return v;
}

int
ingest_event(ingest *g, const spool_event *e, const char **why)
{
    if (e->time_ms > (uint64_t)INT64_MAX / 4) {
        *why = "time out of range";
        return 0;
    }
    attrs_event a;
    int rc = attrs_encode(g->x, g->d, e, &a, why);
    if (rc <= 0) {
        if (rc == 0 && strcmp(*why, "bot") == 0)
            g->bots++;
        return rc;
    }
    int64_t ts = (int64_t)e->time_ms, seq;
    if (ingest_next_seq(g, a.site, ts, &seq) != 0)
        return -1;
    if (ts > g->hwm)
        g->hwm = ts;

    visit *v = ingest_visit_at(g, a.site, e->visitor_id, ts);
    if (v == NULL)
        return -1;
    visit_add(v, ts, seq, a.pathname, a.attrs, a.pageview,
              !(a.flags & DB_EV_NONINTERACTIVE));
    const spool_str *p = &e->field[SPOOL_F_PROPS];
    if (ingest_mark(g, v) != 0
        || ingest_event_dims(g, v, ts, a.name, a.pathname, a.hostname, a.props,
                             p->ptr, p->len, a.pageview) != 0)
        return -1;
    db_event2 row = {
        .site_id = a.site, .ts = ts, .seq = seq, .visitor_id = e->visitor_id,
        .visit_id = v->id, .name_id = a.name, .pathname_id = a.pathname,
        .hostname_id = a.hostname, .attrs_id = a.attrs, .props_id = a.props,
        .revenue_id = a.revenue, .flags = a.flags,
    };
    return db_event2_insert(g->d, &row) == 0 ? 1 : -1;
}

/* ---- flush, eviction ---- */

static int
ingest_close_idle(void *ctx, const visit *v)
{
    const ingest *g = ctx;
    return v->le_ts < g->hwm - VISIT_IDLE_MS
           || day_of(v->fe_ts) < day_of(g->hwm) - 1;
}

/* Applies (and, live, writes) every dirty visit. */
static int
ingest_visits_out(ingest *g)
{
    for (size_t i = 0; i < g->ndirty; i++) {
        visit *v = session_at(g->s, g->dirty[i]);
        if (v == NULL)
            continue;
        v->dirty = 0;
        if (ingest_apply(g, v) != 0)
            return -1;
        if (g->replaying)
            continue;
        db_visit row = {
            .id = v->id, .site_id = v->site, .visitor_id = v->visitor,
            .start_ts = v->fe_ts, .end_ts = v->le_ts,
            .entry_page_id = visit_entry(v), .exit_page_id = visit_exit(v),
            .attrs_id = visit_attrs(v), .pageviews = v->pageviews,
            .events = v->events, .bounce = visit_bounce(v),
        };
        if (db_visit_put(g->d, &row) != 0)
            return -1;
    }
    g->ndirty = 0;
    return 0;
}

static void
ingest_evict(ingest *g)
{
    session_release(g->s, ingest_close_idle, g);
    if (g->hwm > 0)
        uniq_drop_before(g->u, day_of(g->hwm) - 1);
}

int
ingest_flush(ingest *g)
{
    if (!g->ready)
        return 0;
    if (ingest_visits_out(g) != 0 || rollup_flush(g->live, g->d) != 0
        || db_meta_set(g->d, "hwm_ms", g->hwm) != 0)
        return -1;
    ingest_evict(g);
    return 0;
}

/* ---- replay ---- */

static int
ingest_replay_event(void *ctx, const db_event2 *e)
{
    ingest *g = ctx;
    visit *v = session_find(g->s, e->site_id, e->visitor_id);
    if (v == NULL || v->id != e->visit_id) {
        uint32_t at = vmap_get(&g->replay_ids, (uint64_t)e->visit_id);
        v = at ? session_at(g->s, at - 1) : NULL;
        if (v == NULL) {
            db_visit row;
            int have = db_visit_get(g->d, e->visit_id, &row);
            if (have < 0
                || (v = session_open(g->s, e->site_id, e->visitor_id, e->visit_id)) == NULL)
                return -1;
            /* a visit that started before the window contributes nothing
             * more: its start day's sets are gone and it cannot go on */
            v->foreign = have == 1 && row.start_ts < g->window;
            uint32_t *slot = vmap_slot(&g->replay_ids, (uint64_t)e->visit_id);
            if (slot == NULL)
                return -1;
            *slot = session_index(g->s, v) + 1;
        }
    }
    if (e->ts > g->hwm)
        g->hwm = e->ts;
    int pv = e->name_id == g->pv_id && g->pv_id > 0;
    visit_add(v, e->ts, e->seq, e->pathname_id, e->attrs_id, pv,
              !(e->flags & DB_EV_NONINTERACTIVE));
    if (ingest_mark(g, v) != 0
        || ingest_event_dims(g, v, e->ts, e->name_id, e->pathname_id,
                             e->hostname_id, e->props_id, NULL, 0, pv) != 0)
        return -1;
    if (rollup_count(g->scratch) > (1u << 20))
        rollup_clear(g->scratch);          /* replay deltas are not kept */
    g->replayed++;
    return 0;
}

static int
ingest_replay_site(void *ctx, int64_t site)
{
    ingest *g = ctx;
    return db_events_from(g->d, site, g->window, ingest_replay_event, g);
}

int
ingest_ready(ingest *g)
{
    if (g->ready)
        return 0;
    ingest_reset(g);
    g->s = session_new();
    g->u = uniq_new();
    if (g->s == NULL || g->u == NULL)
        return -1;
    int64_t hwm;
    if (db_meta_get(g->d, "hwm_ms", &hwm) < 0
        || (g->pv_id = db_pageview_id(g->d)) < 0)
        return -1;
    g->hwm = hwm;
    g->replayed = 0;
    if (hwm > 0) {
        g->window = (day_of(hwm) - 1) * DAY_MS;
        g->replaying = 1;
        g->cur = g->scratch;
        int rc = db_sites_each(g->d, ingest_replay_site, g);
        if (rc == 0)
            rc = ingest_visits_out(g);
        g->replaying = 0;
        g->cur = g->live;
        rollup_clear(g->scratch);
        vmap_free(&g->replay_ids);
        if (rc != 0) {
            ingest_reset(g);
            return -1;
        }
        g->hwm = hwm;
        ingest_evict(g);
        log_info("ingest: rebuilt state from %llu raw events since %lld:"
                 " %zu open visits, %zu visitor-set keys",
                 (unsigned long long)g->replayed, (long long)g->window,
                 session_count(g->s), uniq_entries(g->u));
    }
    g->ready = 1;
    return 0;
}

/* ---- rebuilding stored days (purge) ---- */

int
ingest_rebuild_begin(ingest *g)
{
    ingest_reset(g);
    g->s = session_new();
    g->u = uniq_new();
    if (g->s == NULL || g->u == NULL
        || (g->pv_id = db_pageview_id(g->d)) < 0) {
        ingest_reset(g);
        return -1;
    }
    g->hwm = 0;
    g->ready = 1;
    return 0;
}

int
ingest_rebuild_event(ingest *g, const db_event2 *e, int64_t *visit_id)
{
    if (!g->ready || e->ts < 0)
        return -1;
    if (e->ts > g->hwm)
        g->hwm = e->ts;
    visit *v = ingest_visit_at(g, e->site_id, e->visitor_id, e->ts);
    if (v == NULL)
        return -1;
    int pv = e->name_id == g->pv_id && g->pv_id > 0;
    visit_add(v, e->ts, e->seq, e->pathname_id, e->attrs_id, pv,
              !(e->flags & DB_EV_NONINTERACTIVE));
    if (ingest_mark(g, v) != 0
        || ingest_event_dims(g, v, e->ts, e->name_id, e->pathname_id,
                             e->hostname_id, e->props_id, NULL, 0, pv) != 0)
        return -1;
    *visit_id = v->id;
    return 0;
}
