/* uniq.c -- see uniq.h. */
#include "aggregator/uniq.h"
#include "aggregator/dims.h"
#include "aggregator/vmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t day;
    vmap    ev;      /* event dims: hour mask                         */
    vmap    vday;    /* visit dims: hour mask | UNIQ_EXTRA            */
    vmap    vhour;   /* visit dims: extra visits in one hour          */
} uniq_day;

#define UNIQ_MAX_DAYS 64

struct uniq {
    uniq_day days[UNIQ_MAX_DAYS];
    size_t   n;
};

uniq *
uniq_new(void)
{
    return calloc(1, sizeof(uniq));
}

static void
uniq_day_free(uniq_day *d)
{
    vmap_free(&d->ev);
    vmap_free(&d->vday);
    vmap_free(&d->vhour);
}

void
uniq_free(uniq *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n; i++)
        uniq_day_free(&u->days[i]);
    free(u);
}

static uniq_day *
uniq_get_day(uniq *u, int64_t day)
{
    for (size_t i = 0; i < u->n; i++)
        if (u->days[i].day == day)
            return &u->days[i];
    if (u->n == UNIQ_MAX_DAYS) {
        /* far too many open days (events scattered over months): forget
         * the oldest */
        size_t old = 0;
        for (size_t i = 1; i < u->n; i++)
            if (u->days[i].day < u->days[old].day)
                old = i;
        uniq_day_free(&u->days[old]);
        u->days[old] = u->days[--u->n];
    }
    uniq_day *d = &u->days[u->n++];
    memset(d, 0, sizeof(*d));
    d->day = day;
    vmap_init(&d->ev);
    vmap_init(&d->vday);
    vmap_init(&d->vhour);
    return d;
}

void
uniq_drop_before(uniq *u, int64_t day)
{
    for (size_t i = 0; i < u->n;) {
        if (u->days[i].day < day) {
            uniq_day_free(&u->days[i]);
            u->days[i] = u->days[--u->n];
        } else {
            i++;
        }
    }
}

size_t
uniq_entries(const uniq *u)
{
    size_t n = 0;
    for (size_t i = 0; i < u->n; i++)
        n += u->days[i].ev.count + u->days[i].vday.count + u->days[i].vhour.count;
    return n;
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
uniq_event(uniq *u, rollup *r, int64_t site, int dim, int64_t k1,
           int64_t k2, uint64_t visitor, int64_t hour)
{
    int64_t day = hour / 24, h = hour % 24;
    uniq_day *d = uniq_get_day(u, day);
    uint32_t *slot = vmap_slot(&d->ev, uniq_key(1, site, dim, day, k1, k2, visitor));
    if (slot == NULL)
        return -1;
    uint32_t mask = *slot, bit = 1u << h;
    if (mask & bit)
        return 0;
    *slot = mask | bit;
    if (uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_HOUR, 1) != 0)
        return -1;
    if (mask == 0)
        return uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_NEW, 1);
    int low = uniq_lowest(mask);
    if (h < low) {               /* an earlier hour of the day arrived late */
        if (uniq_add(r, site, dim, day * 24 + low, k1, k2, M_VISITORS_NEW, -1) != 0)
            return -1;
        return uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_NEW, 1);
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
uniq_visit(uniq *u, rollup *r, int64_t site, int dim, int64_t k1,
           int64_t k2, uint64_t visitor, int64_t hour, int sign)
{
    int64_t day = hour / 24, h = hour % 24;
    uniq_day *d = uniq_get_day(u, day);
    uint64_t key = uniq_key(2, site, dim, day, k1, k2, visitor);
    uint32_t *slot = vmap_slot(&d->vday, key);
    if (slot == NULL)
        return -1;
    uint32_t v = *slot, mask = v & 0xffffffu, bit = 1u << h;
    if (sign > 0) {
        if (mask & bit) {            /* another visit in the same hour */
            *slot = v | UNIQ_EXTRA;
            uint32_t *x = vmap_slot(&d->vhour, uniq_key(3, site, dim, hour, k1, k2, visitor));
            if (x == NULL)
                return -1;
            (*x)++;
            return 0;
        }
        *slot = v | bit;
        if (uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_HOUR, 1) != 0)
            return -1;
        if (mask == 0)
            return uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_NEW, 1);
        int low = uniq_lowest(mask);
        if (h < low) {
            if (uniq_add(r, site, dim, day * 24 + low, k1, k2, M_VISITORS_NEW, -1) != 0)
                return -1;
            return uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_NEW, 1);
        }
        return 0;
    }
    if (!(mask & bit))
        return 0;                    /* never added: nothing to take back */
    if (v & UNIQ_EXTRA) {
        uint32_t *x = vmap_slot(&d->vhour, uniq_key(3, site, dim, hour, k1, k2, visitor));
        if (x == NULL)
            return -1;
        if (*x > 0) {
            (*x)--;
            return 0;
        }
    }
    uint32_t nmask = mask & ~bit;
    *slot = nmask | (v & UNIQ_EXTRA);
    if (uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_HOUR, -1) != 0)
        return -1;
    if (nmask == 0)
        return uniq_add(r, site, dim, hour, k1, k2, M_VISITORS_NEW, -1);
    int low = uniq_lowest(mask), nlow = uniq_lowest(nmask);
    if (low != nlow) {               /* the first hour lost its last visit */
        if (uniq_add(r, site, dim, day * 24 + low, k1, k2, M_VISITORS_NEW, -1) != 0)
            return -1;
        return uniq_add(r, site, dim, day * 24 + nlow, k1, k2, M_VISITORS_NEW, 1);
    }
    return 0;
}
