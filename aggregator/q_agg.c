/* q_agg.c -- see q_agg.h. */
#include "aggregator/q_agg.h"

#include <stdlib.h>
#include <string.h>

static uint64_t
qh_mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int
qh_grow(qh *h)
{
    size_t nc = h->cap ? h->cap * 2 : 1024;
    qh_entry *ne = calloc(nc, sizeof(*ne));
    if (ne == NULL)
        return -1;
    for (size_t i = 0; i < h->cap; i++) {
        if (!h->e[i].used)
            continue;
        size_t j = qh_mix(h->e[i].a, h->e[i].b) & (nc - 1);
        while (ne[j].used)
            j = (j + 1) & (nc - 1);
        ne[j] = h->e[i];
    }
    free(h->e);
    h->e = ne;
    h->cap = nc;
    return 0;
}

int
qh_put(qh *h, uint64_t a, uint64_t b, int64_t v, int64_t **slot)
{
    if ((h->n + 1) * 4 > h->cap * 3 && qh_grow(h) != 0)
        return -1;
    size_t j = qh_mix(a, b) & (h->cap - 1);
    while (h->e[j].used) {
        if (h->e[j].a == a && h->e[j].b == b) {
            if (slot)
                *slot = &h->e[j].v;
            return 0;
        }
        j = (j + 1) & (h->cap - 1);
    }
    h->e[j] = (qh_entry){ .a = a, .b = b, .v = v, .used = 1 };
    h->n++;
    if (slot)
        *slot = &h->e[j].v;
    return 1;
}

int64_t *
qh_get(const qh *h, uint64_t a, uint64_t b)
{
    if (h->cap == 0)
        return NULL;
    size_t j = qh_mix(a, b) & (h->cap - 1);
    while (h->e[j].used) {
        if (h->e[j].a == a && h->e[j].b == b)
            return &h->e[j].v;
        j = (j + 1) & (h->cap - 1);
    }
    return NULL;
}

void
qh_clear(qh *h)
{
    if (h->n)
        memset(h->e, 0, h->cap * sizeof(*h->e));
    h->n = 0;
}

void
qh_free(qh *h)
{
    free(h->e);
    memset(h, 0, sizeof(*h));
}

static uint64_t
qg_hash(const int64_t *k, size_t nk)
{
    uint64_t h = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < nk; i++)
        h = qh_mix(h, (uint64_t)k[i]);
    return h;
}

static int
qg_rehash(qg_table *t, size_t ncap)
{
    uint32_t *ni = calloc(ncap, sizeof(*ni));
    if (ni == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = qg_hash(t->g[i].k, t->nk) & (ncap - 1);
        while (ni[j])
            j = (j + 1) & (ncap - 1);
        ni[j] = (uint32_t)i + 1;
    }
    free(t->idx);
    t->idx = ni;
    t->icap = ncap;
    return 0;
}

static inline int
qg_eq(const int64_t *a, const int64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

long
qg_find(const qg_table *t, const int64_t *k)
{
    if (t->icap == 0)
        return -1;
    size_t j = qg_hash(k, t->nk) & (t->icap - 1);
    while (t->idx[j]) {
        qx_group *g = &t->g[t->idx[j] - 1];
        if (qg_eq(g->k, k, t->nk))
            return (long)t->idx[j] - 1;
        j = (j + 1) & (t->icap - 1);
    }
    return -1;
}

long
qg_get(qg_table *t, const int64_t *k)
{
    if (t->last && qg_eq(t->g[t->last - 1].k, k, t->nk))
        return (long)t->last - 1;
    long f = qg_find(t, k);
    if (f >= 0) {
        t->last = (size_t)f + 1;
        return f;
    }
    if (t->n >= 0xfffffff0u)
        return -1;
    if ((t->n + 1) * 2 > t->icap && qg_rehash(t, t->icap ? t->icap * 2 : 256) != 0)
        return -1;
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 64;
        qx_group *p = realloc(t->g, c * sizeof(*p));
        if (p == NULL)
            return -1;
        t->g = p;
        t->cap = c;
    }
    qx_group *g = &t->g[t->n];
    memset(g, 0, sizeof(*g));
    memcpy(g->k, k, t->nk * sizeof(int64_t));
    size_t j = qg_hash(k, t->nk) & (t->icap - 1);
    while (t->idx[j])
        j = (j + 1) & (t->icap - 1);
    t->idx[j] = (uint32_t)t->n + 1;
    t->last = t->n + 1;
    return (long)t->n++;
}

void
qg_free(qg_table *t)
{
    free(t->g);
    free(t->idx);
    memset(t, 0, sizeof(*t));
}
