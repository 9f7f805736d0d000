/* q_vbits.c -- see q_vbits.h. */
#include "aggregator/q_vbits.h"

#include <stdlib.h>
#include <string.h>

static int
qvb_grow(qvb *v, size_t g)
{
    size_t n = v->n ? v->n : 64;
    while (n <= g)
        n *= 2;
    uint64_t **b = realloc(v->bits, n * sizeof(*b));
    if (b == NULL)
        return -1;
    v->bits = b;
    int64_t *e = realloc(v->epoch, n * sizeof(*e));
    if (e == NULL)
        return -1;
    v->epoch = e;
    size_t *w = realloc(v->words, n * sizeof(*w));
    if (w == NULL)
        return -1;
    v->words = w;
    for (size_t i = v->n; i < n; i++) {
        v->bits[i] = NULL;
        v->epoch[i] = INT64_MIN;
        v->words[i] = 0;
    }
    v->n = n;
    return 0;
}

int
qvb_put_slow(qvb *v, size_t g, int64_t epoch, int64_t vix, int64_t vn)
{
    if (g >= v->n && qvb_grow(v, g) != 0)
        return -1;
    if (v->epoch[g] != epoch) {
        /* the group's first event of the epoch decides its mode */
        v->epoch[g] = epoch;
        size_t need = vn > 0 ? ((size_t)vn + 63) / 64 : 0;
        if (need == 0 || vix < 0 || vix >= vn) {
            free(v->bits[g]);
            v->bytes -= v->words[g] * 8;
            v->bits[g] = NULL;
            v->words[g] = 0;
            return 2;
        }
        if (v->words[g] < need) {
            if (v->bytes - v->words[g] * 8 + need * 8 > QVB_MAX_BYTES) {
                free(v->bits[g]);
                v->bytes -= v->words[g] * 8;
                v->bits[g] = NULL;
                v->words[g] = 0;
                return 2;
            }
            uint64_t *p = realloc(v->bits[g], need * 8);
            if (p == NULL)
                return -1;
            v->bytes += (need - v->words[g]) * 8;
            v->bits[g] = p;
            v->words[g] = need;
        }
        memset(v->bits[g], 0, need * 8);
    }
    if (v->bits[g] == NULL)
        return 2;
    if (vix < 0 || (size_t)vix >= v->words[g] * 64)
        return 2;       /* cannot happen within one epoch's day */
    uint64_t *w = &v->bits[g][(size_t)vix >> 6], m = 1ull << (vix & 63);
    if (*w & m)
        return 0;
    *w |= m;
    return 1;
}

void
qvb_free(qvb *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->bits[i]);
    free(v->bits);
    free(v->epoch);
    free(v->words);
    memset(v, 0, sizeof(*v));
}
