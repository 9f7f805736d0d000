/* session.c -- see session.h.  The table holds slab indexes + 1 with
 * linear probing and backward-shift deletion. */
#include "aggregator/session.h"
#include "aggregator/vmap.h"

#include <stdlib.h>
#include <string.h>

struct session {
    visit    *slab;
    uint32_t  n, cap;          /* slab entries used, capacity */
    uint32_t *freel;           /* free slab indexes */
    uint32_t  nfree, capfree;
    uint32_t *tab;             /* index + 1, 0 = empty */
    size_t    mask;
    size_t    open;
};

session *
session_new(void)
{
    session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->mask = 1023;
    s->tab = calloc(s->mask + 1, sizeof(*s->tab));
    if (s->tab == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void
session_free(session *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        free(s->slab[i].seen);
    free(s->slab);
    free(s->freel);
    free(s->tab);
    free(s);
}

static size_t
session_hash(int64_t site, uint64_t visitor)
{
    int64_t k[2] = { site, (int64_t)visitor };
    return (size_t)vmap_key(k, 2);
}

visit *
session_find(session *s, int64_t site, uint64_t visitor)
{
    for (size_t i = session_hash(site, visitor) & s->mask;; i = (i + 1) & s->mask) {
        uint32_t x = s->tab[i];
        if (x == 0)
            return NULL;
        visit *v = &s->slab[x - 1];
        if (v->site == site && v->visitor == visitor)
            return v;
    }
}

static void
session_tab_del(session *s, const visit *v)
{
    size_t i = session_hash(v->site, v->visitor) & s->mask;
    uint32_t want = (uint32_t)(v - s->slab) + 1;
    while (s->tab[i] != want) {
        if (s->tab[i] == 0)
            return;
        i = (i + 1) & s->mask;
    }
    s->tab[i] = 0;
    s->open--;
    /* backward shift: re-place the entries of the cluster after i */
    for (size_t j = (i + 1) & s->mask; s->tab[j] != 0; j = (j + 1) & s->mask) {
        uint32_t x = s->tab[j];
        const visit *w = &s->slab[x - 1];
        s->tab[j] = 0;
        size_t k = session_hash(w->site, w->visitor) & s->mask;
        while (s->tab[k] != 0)
            k = (k + 1) & s->mask;
        s->tab[k] = x;
    }
}

static int
session_grow_tab(session *s)
{
    size_t ncap = (s->mask + 1) * 2;
    uint32_t *nt = calloc(ncap, sizeof(*nt));
    if (nt == NULL)
        return -1;
    for (size_t i = 0; i <= s->mask; i++) {
        uint32_t x = s->tab[i];
        if (x == 0)
            continue;
        const visit *w = &s->slab[x - 1];
        size_t k = session_hash(w->site, w->visitor) & (ncap - 1);
        while (nt[k] != 0)
            k = (k + 1) & (ncap - 1);
        nt[k] = x;
    }
    free(s->tab);
    s->tab = nt;
    s->mask = ncap - 1;
    return 0;
}

visit *
session_open(session *s, int64_t site, uint64_t visitor, int64_t id)
{
    visit *old = session_find(s, site, visitor);
    uint32_t oldx = old ? (uint32_t)(old - s->slab) : 0;
    if (old) {
        session_tab_del(s, old);
        old->ended = 1;
    }
    if ((s->open + 1) * 2 > s->mask + 1 && session_grow_tab(s) != 0)
        return NULL;
    uint32_t x;
    if (s->nfree > 0) {
        x = s->freel[--s->nfree];
    } else {
        if (s->n == s->cap) {
            uint32_t ncap = s->cap ? s->cap * 2 : 1024;
            visit *p = realloc(s->slab, (size_t)ncap * sizeof(*p));
            if (p == NULL)
                return NULL;
            s->slab = p;
            s->cap = ncap;
        }
        x = s->n++;
    }
    (void)oldx;
    visit *v = &s->slab[x];
    memset(v, 0, sizeof(*v));
    v->site = site;
    v->visitor = visitor;
    v->id = id;
    v->live = 1;
    v->fp_ts = INT64_MAX;
    size_t i = session_hash(site, visitor) & s->mask;
    while (s->tab[i] != 0)
        i = (i + 1) & s->mask;
    s->tab[i] = x + 1;
    s->open++;
    return v;
}

uint32_t
session_index(const session *s, const visit *v)
{
    return (uint32_t)(v - s->slab);
}

visit *
session_at(session *s, uint32_t idx)
{
    return idx < s->n ? &s->slab[idx] : NULL;
}

void
session_each(session *s, void (*fn)(void *ctx, visit *v), void *ctx)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->slab[i].live)
            fn(ctx, &s->slab[i]);
}

static void
session_put_free(session *s, uint32_t x)
{
    visit *v = &s->slab[x];
    free(v->seen);
    memset(v, 0, sizeof(*v));
    if (s->nfree == s->capfree) {
        uint32_t ncap = s->capfree ? s->capfree * 2 : 1024;
        uint32_t *p = realloc(s->freel, (size_t)ncap * sizeof(*p));
        if (p == NULL)
            return;                /* the slot leaks until session_free */
        s->freel = p;
        s->capfree = ncap;
    }
    s->freel[s->nfree++] = x;
}

void
session_release(session *s, int (*close)(void *ctx, const visit *v), void *ctx)
{
    for (uint32_t i = 0; i < s->n; i++) {
        visit *v = &s->slab[i];
        if (!v->live)
            continue;
        if (v->ended) {
            session_put_free(s, i);
        } else if (close(ctx, v)) {
            session_tab_del(s, v);
            session_put_free(s, i);
        }
    }
}

size_t
session_count(const session *s)
{
    return s->open;
}

static int
key_lt(int64_t ts, int64_t seq, int64_t ts2, int64_t seq2)
{
    return ts < ts2 || (ts == ts2 && seq < seq2);
}

void
visit_add(visit *v, int64_t ts, int64_t seq, int64_t page, int64_t attrs,
          int pageview, int interactive)
{
    if (v->events == 0 || key_lt(ts, seq, v->fe_ts, v->fe_seq)) {
        v->fe_ts = ts;
        v->fe_seq = seq;
        v->fe_page = page;
        v->fe_attrs = attrs;
    }
    if (v->events == 0 || key_lt(v->le_ts, v->le_seq, ts, seq)) {
        v->le_ts = ts;
        v->le_seq = seq;
        v->le_page = page;
    }
    if (pageview) {
        if (v->pageviews == 0 || key_lt(ts, seq, v->fp_ts, v->fp_seq)) {
            v->fp_ts = ts;
            v->fp_seq = seq;
            v->fp_page = page;
            v->fp_attrs = attrs;
        }
        if (v->pageviews == 0 || key_lt(v->lp_ts, v->lp_seq, ts, seq)) {
            v->lp_ts = ts;
            v->lp_seq = seq;
            v->lp_page = page;
        }
        v->pageviews++;
    } else if (interactive) {
        v->interactive++;
    }
    v->events++;
}

int
visit_seen(visit *v, uint64_t h)
{
    for (uint32_t i = 0; i < v->nseen; i++)
        if (v->seen[i] == h)
            return 1;
    if (v->nseen == v->capseen) {
        uint32_t ncap = v->capseen ? v->capseen * 2 : 8;
        uint64_t *p = realloc(v->seen, (size_t)ncap * sizeof(*p));
        if (p == NULL)
            return -1;
        v->seen = p;
        v->capseen = ncap;
    }
    v->seen[v->nseen++] = h;
    return 0;
}

int64_t visit_entry(const visit *v) { return v->pageviews ? v->fp_page : v->fe_page; }
int64_t visit_exit(const visit *v) { return v->pageviews ? v->lp_page : v->le_page; }
int64_t visit_attrs(const visit *v) { return v->pageviews ? v->fp_attrs : v->fe_attrs; }
int visit_bounce(const visit *v) { return v->pageviews == 1 && v->interactive == 0; }

int64_t
visit_duration_s(const visit *v)
{
    return v->le_ts / 1000 - v->fe_ts / 1000;
}
