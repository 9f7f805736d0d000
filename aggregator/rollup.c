/* rollup.c -- see rollup.h.  Rows live in one dense array (so a flush
 * walks them in insertion order); an index of uint32 slots finds them. */
#include "aggregator/rollup.h"
#include "aggregator/vmap.h"

#include <stdlib.h>
#include <string.h>

struct rollup {
    rollup_row *rows;
    size_t      n, cap;
    uint32_t   *idx;      /* row index + 1, 0 = empty */
    size_t      mask;
};

rollup *
rollup_new(void)
{
    rollup *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->mask = 4095;
    r->idx = calloc(r->mask + 1, sizeof(*r->idx));
    if (r->idx == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void
rollup_free(rollup *r)
{
    if (r == NULL)
        return;
    free(r->rows);
    free(r->idx);
    free(r);
}

size_t
rollup_count(const rollup *r)
{
    return r->n;
}

static size_t
rollup_hash(int64_t site, int dim, int64_t hour, int64_t k1, int64_t k2)
{
    int64_t v[5] = { site, dim, hour, k1, k2 };
    return (size_t)vmap_key(v, 5);
}

static int
rollup_rehash(rollup *r, size_t ncap)
{
    uint32_t *ni = calloc(ncap, sizeof(*ni));
    if (ni == NULL)
        return -1;
    size_t nmask = ncap - 1;
    for (size_t k = 0; k < r->n; k++) {
        const rollup_row *w = &r->rows[k];
        size_t i = rollup_hash(w->site, w->dim, w->hour, w->k1, w->k2) & nmask;
        while (ni[i] != 0)
            i = (i + 1) & nmask;
        ni[i] = (uint32_t)(k + 1);
    }
    free(r->idx);
    r->idx = ni;
    r->mask = nmask;
    return 0;
}

int64_t *
rollup_at(rollup *r, int64_t site, int dim, int64_t hour, int64_t k1,
          int64_t k2)
{
    size_t i = rollup_hash(site, dim, hour, k1, k2) & r->mask;
    for (;;) {
        uint32_t x = r->idx[i];
        if (x == 0)
            break;
        rollup_row *w = &r->rows[x - 1];
        if (w->site == site && w->dim == dim && w->hour == hour
            && w->k1 == k1 && w->k2 == k2)
            return w->m;
        i = (i + 1) & r->mask;
    }
    if ((r->n + 1) * 2 > r->mask + 1) {
        if (rollup_rehash(r, (r->mask + 1) * 2) != 0)
            return NULL;
        return rollup_at(r, site, dim, hour, k1, k2);
    }
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 1024;
        rollup_row *p = realloc(r->rows, ncap * sizeof(*p));
        if (p == NULL)
            return NULL;
        r->rows = p;
        r->cap = ncap;
    }
    rollup_row *w = &r->rows[r->n++];
    memset(w, 0, sizeof(*w));
    w->site = site;
    w->dim = dim;
    w->hour = hour;
    w->k1 = k1;
    w->k2 = k2;
    r->idx[i] = (uint32_t)r->n;
    return w->m;
}

void
rollup_clear(rollup *r)
{
    if (r->n > 0)
        memset(r->idx, 0, (r->mask + 1) * sizeof(*r->idx));
    r->n = 0;
}

int
rollup_flush(rollup *r, db *d)
{
    int rc = 0;
    for (size_t k = 0; k < r->n && rc == 0; k++) {
        const rollup_row *w = &r->rows[k];
        int any = 0;
        for (int j = 0; j < M_COUNT; j++)
            any |= w->m[j] != 0;
        if (any)
            rc = db_rollup_add(d, w);
    }
    rollup_clear(r);
    return rc;
}
