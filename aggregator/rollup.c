/* rollup.c -- see rollup.h.  Rows live in fixed-size chunks that never
 * move (so row pointers stay valid until rollup_clear; a flush walks them
 * in insertion order); an index of uint32 slots finds them. */
#include "aggregator/rollup.h"

#include <stdlib.h>
#include <string.h>

#define ROLLUP_CHUNK_BITS 10
#define ROLLUP_CHUNK (1u << ROLLUP_CHUNK_BITS)

struct rollup {
    rollup_row **chunks;
    size_t      n, cap, nchunks;
    uint32_t   *idx;      /* row index + 1, 0 = empty */
    size_t      mask;
    struct rollup_ord *order;   /* flush: capord rows to sort, then as
                                 * many for the merge sort's copies */
    size_t      capord;
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
    for (size_t i = 0; i < r->nchunks; i++)
        free(r->chunks[i]);
    free(r->chunks);
    free(r->idx);
    free(r->order);
    free(r);
}

size_t
rollup_count(const rollup *r)
{
    return r->n;
}

static inline rollup_row *
rollup_row_at(const rollup *r, size_t k)
{
    return &r->chunks[k >> ROLLUP_CHUNK_BITS][k & (ROLLUP_CHUNK - 1)];
}

/* The key's hash: independent multiplies (they overlap in the CPU) and
 * one final mix; rows are compared in full, so a collision only costs a
 * probe. */
static inline size_t
rollup_hash(int64_t site, int dim, int64_t hour, int64_t k1, int64_t k2)
{
    uint64_t h = (uint64_t)hour * 0x9e3779b97f4a7c15ull
               ^ (uint64_t)k1 * 0xc2b2ae3d27d4eb4full
               ^ (uint64_t)k2 * 0x165667b19e3779f9ull
               ^ ((uint64_t)site << 40 | (uint64_t)(unsigned)dim << 32);
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return (size_t)h;
}

static int
rollup_rehash(rollup *r, size_t ncap)
{
    uint32_t *ni = calloc(ncap, sizeof(*ni));
    if (ni == NULL)
        return -1;
    size_t nmask = ncap - 1;
    for (size_t k = 0; k < r->n; k++) {
        const rollup_row *w = rollup_row_at(r, k);
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

/* rollup_at's slow part: (site, dim, hour, k1, k2) is absent and goes in
 * index slot i (after growing the index when it is half full). */
static __attribute__((noinline)) int64_t *
rollup_add(rollup *r, size_t i, int64_t site, int dim, int64_t hour,
           int64_t k1, int64_t k2)
{
    if ((r->n + 1) * 2 > r->mask + 1) {
        if (rollup_rehash(r, (r->mask + 1) * 2) != 0)
            return NULL;
        return rollup_at(r, site, dim, hour, k1, k2);
    }
    if (r->n == r->cap) {
        if ((r->nchunks & (r->nchunks - 1)) == 0) {     /* 0, 1, 2, 4, ... */
            size_t nc = r->nchunks ? r->nchunks * 2 : 1;
            rollup_row **p = realloc(r->chunks, nc * sizeof(*p));
            if (p == NULL)
                return NULL;
            r->chunks = p;
        }
        rollup_row *c = malloc(ROLLUP_CHUNK * sizeof(*c));
        if (c == NULL)
            return NULL;
        r->chunks[r->nchunks++] = c;
        r->cap += ROLLUP_CHUNK;
    }
    rollup_row *w = rollup_row_at(r, r->n++);
    memset(w, 0, sizeof(*w));
    w->site = site;
    w->dim = dim;
    w->hour = hour;
    w->k1 = k1;
    w->k2 = k2;
    r->idx[i] = (uint32_t)r->n;
    return w->m;
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
        rollup_row *w = rollup_row_at(r, x - 1);
        if (w->site == site && w->dim == dim && w->hour == hour
            && w->k1 == k1 && w->k2 == k2)
            return w->m;
        i = (i + 1) & r->mask;
    }
    return rollup_add(r, i, site, dim, hour, k1, k2);
}

void
rollup_clear(rollup *r)
{
    if (r->n > 0)
        memset(r->idx, 0, (r->mask + 1) * sizeof(*r->idx));
    r->n = 0;
}

/* A row's place in the flush order: its primary key, packed (site ids
 * are below 2^24, dims below 32; an hour beyond 2^32 only loses order,
 * never correctness -- any order writes the same rows). */
typedef struct rollup_ord {
    uint64_t a;               /* site << 40 | dim << 32 | hour (low 32 bits) */
    int64_t  k1, k2;
    uint32_t idx;
} rollup_ord;

static inline int
rollup_ord_less(const rollup_ord *x, const rollup_ord *y)
{
    if (x->a != y->a)
        return x->a < y->a;
    if (x->k1 != y->k1)
        return x->k1 < y->k1;
    return x->k2 < y->k2;
}

/* Sorts o[0..n) by key (a stable bottom-up merge sort: runs of 8 by
 * insertion, then merges through tmp, which holds n entries).  Returns
 * the sorted array: o or tmp. */
static rollup_ord *
rollup_ord_sort(rollup_ord *o, rollup_ord *tmp, size_t n)
{
    for (size_t lo = 0; lo < n; lo += 8) {
        size_t hi = lo + 8 < n ? lo + 8 : n;
        for (size_t i = lo + 1; i < hi; i++) {
            rollup_ord x = o[i];
            size_t j = i;
            for (; j > lo && rollup_ord_less(&x, &o[j - 1]); j--)
                o[j] = o[j - 1];
            o[j] = x;
        }
    }
    rollup_ord *src = o, *dst = tmp;
    for (size_t w = 8; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = rollup_ord_less(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        rollup_ord *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* Rows are written in primary-key order (site, dim, hour, k1, k2): the
 * upserts then walk rollup_hourly's b-tree once, front to back, instead
 * of jumping between its (site, dim) ranges. */
int
rollup_flush(rollup *r, db *d)
{
    int rc = 0;
    size_t n = 0;
    if (r->n > r->capord) {             /* room for the rows and a copy */
        rollup_ord *p = realloc(r->order, 2 * r->n * sizeof(*p));
        if (p != NULL) {
            r->order = p;
            r->capord = r->n;
        }
    }
    if (r->n <= r->capord) {
        for (size_t k = 0; k < r->n; k++) {
            const rollup_row *w = rollup_row_at(r, k);
            int any = 0;
            for (int j = 0; j < M_COUNT; j++)
                any |= w->m[j] != 0;
            if (any)
                r->order[n++] = (rollup_ord){
                    .a = (uint64_t)w->site << 40 | (uint64_t)(w->dim & 0xff) << 32
                         | ((uint64_t)w->hour & 0xffffffffu),
                    .k1 = w->k1, .k2 = w->k2, .idx = (uint32_t)k,
                };
        }
        const rollup_ord *o = rollup_ord_sort(r->order, r->order + r->capord, n);
        for (size_t k = 0; k < n && rc == 0; k++)
            rc = db_rollup_add(d, rollup_row_at(r, o[k].idx));
    } else {                              /* no memory to sort: as they come */
        for (size_t k = 0; k < r->n && rc == 0; k++) {
            const rollup_row *w = rollup_row_at(r, k);
            int any = 0;
            for (int j = 0; j < M_COUNT; j++)
                any |= w->m[j] != 0;
            if (any)
                rc = db_rollup_add(d, w);
        }
    }
    rollup_clear(r);
    return rc;
}
