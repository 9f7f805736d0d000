/* uniq.c -- see uniq.h.
 *
 * Per open day: a table of visitor records (open addressing, linear
 * probing, exact (site, visitor) keys), each record owning a region of
 * the day's pool: `cap` 64-bit value keys followed by `cap` 32-bit
 * values.  A region is itself a small hash table of its value keys
 * (linear probing, UNIQ_NOKEY = empty, at most 3/4 full), so finding a
 * value costs a probe or two, not a scan of the visitor's values.
 * Regions grow by doubling (UNIQ_REC_MIN .. UNIQ_REC_MAX slots; freed
 * regions are reused through per-size free lists); a visitor with more
 * values than the largest region holds (a crawler) puts the rest in the
 * day's spill table (exact keys too).  The rare "more than one visit in
 * one hour" counts live in a vmap keyed by a 64-bit hash, as before. */
#include "aggregator/uniq.h"
#include "aggregator/dims.h"
#include "aggregator/vmap.h"

#include <stdlib.h>
#include <string.h>

#define UNIQ_MAX_DAYS 64
/* The first region has room for a visitor's usual values (every visit
 * has the 16 visit dimensions, every event at least 4 event ones), so
 * most records never grow. */
#define UNIQ_REC_MIN  32          /* first region: slots                */
#define UNIQ_REC_MAX  128         /* largest region; then the spill map */
#define UNIQ_NCLASS   3           /* 32, 64, 128                        */
#define UNIQ_NOKEY    UINT64_MAX  /* an empty slot of a region          */

typedef struct {
    uint64_t visitor;
    uint32_t site;                /* 0 = empty slot (site ids are > 0)  */
    uint32_t off;                 /* region: word offset in the pool    */
    uint16_t n, cap;              /* entries held, region slots         */
    uint32_t spilled;             /* entries in the spill table         */
} uniq_vis;

typedef struct {
    uint64_t visitor, key;
    uint32_t site;                /* 0 = empty */
    uint32_t val;
} uniq_spill;

typedef struct {
    int64_t     day;
    uniq_vis   *vis;
    size_t      vmask, vcount;
    uint64_t   *pool;
    size_t      npool, cappool;   /* words */
    uint32_t    freel[UNIQ_NCLASS];   /* region offset + 1, 0 = none */
    uniq_spill *sp;
    size_t      spmask, spcount;
    vmap        vhour;            /* visit dims: extra visits in one hour */
    size_t      entries;
} uniq_day;

struct uniq {
    uniq_day *days[UNIQ_MAX_DAYS];
    size_t    n;
    uniq_day *last;
};

uniq *
uniq_new(void)
{
    return calloc(1, sizeof(uniq));
}

static void
uniq_day_free(uniq_day *d)
{
    if (d == NULL)
        return;
    free(d->vis);
    free(d->pool);
    free(d->sp);
    vmap_free(&d->vhour);
    free(d);
}

void
uniq_free(uniq *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n; i++)
        uniq_day_free(u->days[i]);
    free(u);
}

static uniq_day *
uniq_get_day(uniq *u, int64_t day)
{
    if (u->last != NULL && u->last->day == day)
        return u->last;
    for (size_t i = 0; i < u->n; i++)
        if (u->days[i]->day == day)
            return u->last = u->days[i];
    uniq_day *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    if (u->n == UNIQ_MAX_DAYS) {
        /* far too many open days (events scattered over months): forget
         * the oldest */
        size_t old = 0;
        for (size_t i = 1; i < u->n; i++)
            if (u->days[i]->day < u->days[old]->day)
                old = i;
        uniq_day_free(u->days[old]);
        u->days[old] = u->days[--u->n];
    }
    d->day = day;
    vmap_init(&d->vhour);
    u->days[u->n++] = d;
    return u->last = d;
}

void
uniq_drop_before(uniq *u, int64_t day)
{
    for (size_t i = 0; i < u->n;) {
        if (u->days[i]->day < day) {
            uniq_day_free(u->days[i]);
            u->days[i] = u->days[--u->n];
        } else {
            i++;
        }
    }
    u->last = NULL;
}

size_t
uniq_entries(const uniq *u)
{
    size_t n = 0;
    for (size_t i = 0; i < u->n; i++)
        n += u->days[i]->entries + u->days[i]->vhour.count;
    return n;
}

/* ---- visitor records ---- */

static inline uint64_t
uniq_mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return x;
}

static inline size_t
uniq_vis_hash(uint32_t site, uint64_t visitor)
{
    return (size_t)uniq_mix(visitor ^ ((uint64_t)site * 0x9e3779b97f4a7c15ull));
}

static int
uniq_vis_grow(uniq_day *d)
{
    size_t ncap = d->vis ? (d->vmask + 1) * 2 : 1024;
    uniq_vis *nv = calloc(ncap, sizeof(*nv));
    if (nv == NULL)
        return -1;
    size_t nmask = ncap - 1;
    if (d->vis) {
        for (size_t i = 0; i <= d->vmask; i++) {
            const uniq_vis *w = &d->vis[i];
            if (w->site == 0)
                continue;
            size_t j = uniq_vis_hash(w->site, w->visitor) & nmask;
            while (nv[j].site != 0)
                j = (j + 1) & nmask;
            nv[j] = *w;
        }
    }
    free(d->vis);
    d->vis = nv;
    d->vmask = nmask;
    return 0;
}

int
uniq_visitor(uniq *u, int64_t site, uint64_t visitor, int64_t day,
             uniq_ref *ref)
{
    uniq_day *d = uniq_get_day(u, day);
    if (d == NULL || site <= 0 || site > UINT32_MAX)
        return -1;
    if (d->vis == NULL || (d->vcount + 1) * 8 > (d->vmask + 1) * 5) {
        if (uniq_vis_grow(d) != 0)
            return -1;
    }
    uint32_t s = (uint32_t)site;
    size_t i = uniq_vis_hash(s, visitor) & d->vmask;
    for (;;) {
        uniq_vis *w = &d->vis[i];
        if (w->site == s && w->visitor == visitor)
            break;
        if (w->site == 0) {
            memset(w, 0, sizeof(*w));
            w->site = s;
            w->visitor = visitor;
            d->vcount++;
            break;
        }
        i = (i + 1) & d->vmask;
    }
    ref->day = d;
    ref->slot = (uint32_t)i;
    return 0;
}

/* ---- the pool of record regions ---- */

static inline size_t
uniq_region_words(unsigned cap)
{
    return cap + cap / 2;        /* cap keys, cap 32-bit values */
}

static inline int
uniq_class(unsigned cap)
{
    return __builtin_ctz(cap) - __builtin_ctz(UNIQ_REC_MIN);
}

/* A region for cap entries: its word offset, or -1. */
static int64_t
uniq_region_get(uniq_day *d, unsigned cap)
{
    int c = uniq_class(cap);
    if (d->freel[c] != 0) {
        uint32_t off = d->freel[c] - 1;
        d->freel[c] = (uint32_t)d->pool[off];
        return off;
    }
    size_t w = uniq_region_words(cap);
    if (d->npool + w > d->cappool) {
        size_t ncap = d->cappool ? d->cappool * 2 : 1u << 16;
        while (ncap < d->npool + w)
            ncap *= 2;
        if (ncap > UINT32_MAX)
            return -1;
        uint64_t *p = realloc(d->pool, ncap * sizeof(*p));
        if (p == NULL)
            return -1;
        d->pool = p;
        d->cappool = ncap;
    }
    size_t off = d->npool;
    d->npool += w;
    return (int64_t)off;
}

static void
uniq_region_put(uniq_day *d, uint32_t off, unsigned cap)
{
    int c = uniq_class(cap);
    d->pool[off] = d->freel[c];
    d->freel[c] = off + 1;
}

/* ---- the spill table (values beyond the largest region) ---- */

static inline size_t
uniq_sp_hash(uint32_t site, uint64_t visitor, uint64_t key)
{
    return (size_t)uniq_mix(visitor ^ uniq_mix(key ^ ((uint64_t)site << 40)));
}

static int
uniq_sp_grow(uniq_day *d)
{
    size_t ncap = d->sp ? (d->spmask + 1) * 2 : 1024;
    uniq_spill *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -1;
    size_t nmask = ncap - 1;
    if (d->sp) {
        for (size_t i = 0; i <= d->spmask; i++) {
            const uniq_spill *w = &d->sp[i];
            if (w->site == 0)
                continue;
            size_t j = uniq_sp_hash(w->site, w->visitor, w->key) & nmask;
            while (ns[j].site != 0)
                j = (j + 1) & nmask;
            ns[j] = *w;
        }
    }
    free(d->sp);
    d->sp = ns;
    d->spmask = nmask;
    return 0;
}

static uint32_t *
uniq_sp_find(uniq_day *d, uint32_t site, uint64_t visitor, uint64_t key)
{
    if (d->sp == NULL)
        return NULL;
    for (size_t i = uniq_sp_hash(site, visitor, key) & d->spmask;;
         i = (i + 1) & d->spmask) {
        uniq_spill *w = &d->sp[i];
        if (w->site == 0)
            return NULL;
        if (w->site == site && w->visitor == visitor && w->key == key)
            return &w->val;
    }
}

static uint32_t *
uniq_sp_add(uniq_day *d, uint32_t site, uint64_t visitor, uint64_t key)
{
    if (d->sp == NULL || (d->spcount + 1) * 2 > d->spmask + 1) {
        if (uniq_sp_grow(d) != 0)
            return NULL;
    }
    size_t i = uniq_sp_hash(site, visitor, key) & d->spmask;
    while (d->sp[i].site != 0)
        i = (i + 1) & d->spmask;
    uniq_spill *w = &d->sp[i];
    w->site = site;
    w->visitor = visitor;
    w->key = key;
    w->val = 0;
    d->spcount++;
    return &w->val;
}

/* ---- values ---- */

/* The exact key of (dim, k1, k2) within a visitor's record: the values
 * themselves when the ids fit (always, short of 2^29 strings), else a
 * 64-bit hash with the top bit set (never UNIQ_NOKEY). */
static inline uint64_t
uniq_vkey(int dim, int64_t k1, int64_t k2)
{
    if ((uint64_t)k1 < (1ull << 29) && (uint64_t)k2 < (1ull << 29))
        return (uint64_t)(unsigned)dim << 58 | (uint64_t)k1 << 29 | (uint64_t)k2;
    int64_t v[3] = { dim, k1, k2 };
    uint64_t h = vmap_key(v, 3) | 1ull << 63;
    return h == UNIQ_NOKEY ? h - 1 : h;
}

/* The home slot of key in a region of 2^bits slots (the top bits of a
 * multiplicative hash: every bit of the key moves them). */
static inline unsigned
uniq_home(uint64_t key, int bits)
{
    return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

/* The slot of key in the region keys[0 .. cap) (cap a power of two, not
 * full): where it is, or the empty slot where it goes. */
static inline unsigned
uniq_probe(const uint64_t *keys, unsigned cap, uint64_t key)
{
    unsigned i = uniq_home(key, __builtin_ctz(cap));
    while (keys[i] != key && keys[i] != UNIQ_NOKEY)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Moves w's entries into a new region of ncap slots.  Returns the new
 * region's keys (the pool may have moved) or NULL (out of memory). */
static uint64_t *
uniq_rehome(uniq_day *d, uniq_vis *w, unsigned ncap)
{
    int64_t off = uniq_region_get(d, ncap);   /* may move the pool */
    if (off < 0)
        return NULL;
    uint64_t *nk = d->pool + off;
    uint32_t *nv = (uint32_t *)(nk + ncap);
    for (unsigned i = 0; i < ncap; i++)
        nk[i] = UNIQ_NOKEY;
    if (w->cap) {
        const uint64_t *ok = d->pool + w->off;
        const uint32_t *ov = (const uint32_t *)(ok + w->cap);
        for (unsigned i = 0; i < w->cap; i++) {
            if (ok[i] == UNIQ_NOKEY)
                continue;
            unsigned j = uniq_probe(nk, ncap, ok[i]);
            nk[j] = ok[i];
            nv[j] = ov[i];
        }
        uniq_region_put(d, w->off, w->cap);
    }
    w->off = (uint32_t)off;
    w->cap = (uint16_t)ncap;
    return nk;
}

/* uniq_entry's slow part: key is not in w's region, which may be absent
 * or full; looks in the spill table, then inserts (0).  NULL when out of
 * memory. */
static __attribute__((noinline)) uint32_t *
uniq_entry_slow(uniq_day *d, uniq_vis *w, uint64_t key)
{
    if (w->spilled) {
        uint32_t *x = uniq_sp_find(d, w->site, w->visitor, key);
        if (x != NULL)
            return x;
    }
    d->entries++;
    uint64_t *keys = d->pool + w->off;
    if ((w->n + 1u) * 4 > w->cap * 3u) {
        if (w->cap == UNIQ_REC_MAX) {
            w->spilled++;
            return uniq_sp_add(d, w->site, w->visitor, key);
        }
        keys = uniq_rehome(d, w, w->cap ? w->cap * 2u : UNIQ_REC_MIN);
        if (keys == NULL) {
            d->entries--;
            return NULL;
        }
    }
    unsigned i = uniq_probe(keys, w->cap, key);
    keys[i] = key;
    uint32_t *val = (uint32_t *)(keys + w->cap) + i;
    *val = 0;
    w->n++;
    return val;
}

/* The value slot of key in ref's record, inserted (0) if absent.  NULL
 * when out of memory.  Valid until the next call on this day.  The
 * common cases (found; a new key in a region with room, none spilled)
 * are inline. */
static inline uint32_t *
uniq_entry(const uniq_ref *ref, uint64_t key)
{
    uniq_day *d = ref->day;
    uniq_vis *w = &d->vis[ref->slot];
    if (w->cap) {
        uint64_t *keys = d->pool + w->off;
        unsigned i = uniq_probe(keys, w->cap, key);
        uint32_t *val = (uint32_t *)(keys + w->cap) + i;
        if (keys[i] == key)
            return val;
        if (!w->spilled && (w->n + 1u) * 4 <= w->cap * 3u) {
            d->entries++;
            keys[i] = key;
            *val = 0;
            w->n++;
            return val;
        }
    }
    return uniq_entry_slow(d, w, key);
}

static int
uniq_add(rollup *r, int64_t site, int dim, int64_t hour, int64_t k1,
         int64_t k2, int metric, int64_t delta)
{
    int64_t *m = rollup_at(r, site, dim, hour, k1, k2);
    if (m == NULL)
        return -1;
    m[metric] += delta;
    return 0;
}

/* The 64-bit key of (tag, site, dim, day or hour, k1, k2, visitor): two
 * rounds of mixing, never 0. */
static uint64_t
uniq_key(int tag, int64_t site, int dim, int64_t t, int64_t k1, int64_t k2,
         uint64_t visitor)
{
    uint64_t a = (uint64_t)k1 * 0x9e3779b97f4a7c15ull
               ^ (uint64_t)k2 * 0xc2b2ae3d27d4eb4full
               ^ ((uint64_t)t << 20) ^ ((uint64_t)site << 44)
               ^ ((uint64_t)dim << 56) ^ ((uint64_t)tag << 62);
    a ^= a >> 29;
    a *= 0xbf58476d1ce4e5b9ull;
    a ^= visitor;
    a ^= a >> 32;
    a *= 0x94d049bb133111ebull;
    a ^= a >> 29;
    return a ? a : 1;
}

static int
uniq_lowest(uint32_t mask)
{
    return __builtin_ctz(mask);
}

int
uniq_event(uniq *u, const uniq_ref *ref, rollup *r, int64_t *row,
           int64_t site, int dim, int64_t k1, int64_t k2, int64_t hour)
{
    (void)u;
    int64_t h = hour % 24;                  /* hour - h: the day's hour 0 */
    uint32_t *slot = uniq_entry(ref, uniq_vkey(dim, k1, k2));
    if (slot == NULL)
        return -1;
    uint32_t mask = *slot, bit = 1u << h;
    if (mask & bit)
        return 0;
    *slot = mask | bit;
    row[M_VISITORS_HOUR]++;
    if (mask == 0) {
        row[M_VISITORS_NEW]++;
        return 0;
    }
    int low = uniq_lowest(mask);
    if (h < low) {               /* an earlier hour of the day arrived late */
        row[M_VISITORS_NEW]++;
        return uniq_add(r, site, dim, hour - h + low, k1, k2, M_VISITORS_NEW, -1);
    }
    return 0;
}

/* Visit dimensions keep one entry per (site, dim, day, value, visitor):
 * bits 0..23 the hours of the day in which one of the visitor's visits
 * with the value starts, bit 24 "some hour has more than one such visit"
 * -- those extra visits are counted in vhour, so the common case costs a
 * single lookup. */
#define UNIQ_EXTRA (1u << 24)

int
uniq_visit(uniq *u, const uniq_ref *ref, rollup *r, int64_t *row,
           int64_t site, int dim, int64_t k1, int64_t k2, int64_t hour,
           int sign)
{
    (void)u;
    uniq_day *d = ref->day;
    int64_t h = hour % 24;                  /* hour - h: the day's hour 0 */
    uint32_t *slot = uniq_entry(ref, uniq_vkey(dim, k1, k2));
    if (slot == NULL)
        return -1;
    uint32_t v = *slot, mask = v & 0xffffffu, bit = 1u << h;
    if (sign > 0) {
        if (mask & bit) {            /* another visit in the same hour */
            *slot = v | UNIQ_EXTRA;
            uint32_t *x = vmap_slot(&d->vhour, uniq_key(3, site, dim, hour, k1, k2,
                                          d->vis[ref->slot].visitor));
            if (x == NULL)
                return -1;
            (*x)++;
            return 0;
        }
        *slot = v | bit;
        row[M_VISITORS_HOUR]++;
        if (mask == 0) {
            row[M_VISITORS_NEW]++;
            return 0;
        }
        int low = uniq_lowest(mask);
        if (h < low) {
            row[M_VISITORS_NEW]++;
            return uniq_add(r, site, dim, hour - h + low, k1, k2, M_VISITORS_NEW, -1);
        }
        return 0;
    }
    if (!(mask & bit))
        return 0;                    /* never added: nothing to take back */
    if (v & UNIQ_EXTRA) {
        uint32_t *x = vmap_slot(&d->vhour, uniq_key(3, site, dim, hour, k1, k2,
                                          d->vis[ref->slot].visitor));
        if (x == NULL)
            return -1;
        if (*x > 0) {
            (*x)--;
            return 0;
        }
    }
    uint32_t nmask = mask & ~bit;
    *slot = nmask | (v & UNIQ_EXTRA);
    row[M_VISITORS_HOUR]--;
    if (nmask == 0) {
        row[M_VISITORS_NEW]--;
        return 0;
    }
    int low = uniq_lowest(mask), nlow = uniq_lowest(nmask);
    if (low != nlow) {               /* the first hour lost its last visit */
        if (uniq_add(r, site, dim, hour - h + low, k1, k2, M_VISITORS_NEW, -1) != 0)
            return -1;
        return uniq_add(r, site, dim, hour - h + nlow, k1, k2, M_VISITORS_NEW, 1);
    }
    return 0;
}
