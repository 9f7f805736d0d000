/* db_q_sets.c -- the sets the raw scans over sealed days compute in C
 * for one call (db_q_sealed.c): visitor / visit id sets, tested in C and
 * in SQL through tally_vs(k, x), and bitmaps of the dictionary ids a
 * string predicate accepts.  See db_q_int.h. */
#include "aggregator/db_q_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- value sets ---- */

int
dbq_vset_add(struct dbq_vset *v, uint64_t x)
{
    if (x < DBQ_VSET_BITS_MAX) {
        if (x >= v->nbm) {
            uint64_t n = v->nbm ? v->nbm : 1u << 16;
            while (n <= x)
                n *= 2;
            uint64_t *bm = realloc(v->bm, n / 8);
            if (bm == NULL)
                return -1;
            memset(bm + v->nbm / 64, 0, (n - v->nbm) / 8);
            v->bm = bm;
            v->nbm = n;
        }
        v->bm[x >> 6] |= 1ull << (x & 63);
        return 0;
    }
    if ((v->n + 1) * 2 > v->cap) {
        size_t c = v->cap ? v->cap * 2 : 1024;
        uint64_t *s = calloc(c, sizeof(*s));
        if (s == NULL)
            return -1;
        for (size_t i = 0; i < v->cap; i++) {
            if (v->s[i] == 0)
                continue;
            size_t j = dbq_mix(v->s[i]) & (c - 1);
            while (s[j])
                j = (j + 1) & (c - 1);
            s[j] = v->s[i];
        }
        free(v->s);
        v->s = s;
        v->cap = c;
    }
    size_t m = v->cap - 1, i = dbq_mix(x) & m;
    while (v->s[i]) {
        if (v->s[i] == x)
            return 0;
        i = (i + 1) & m;
    }
    v->s[i] = x;
    v->n++;
    return 0;
}

int
dbq_vsets_find(const dbq_vsets *vs, const dbq_pred *p)
{
    for (size_t k = 0; vs && k < vs->n; k++)
        if (vs->node[k] == p)
            return (int)k;
    return -1;
}

int
dbq_vsets_new(dbq_vsets *vs, const dbq_pred *p)
{
    if (vs->nsets == vs->cap) {
        size_t c = vs->cap ? vs->cap * 2 : 4;
        const dbq_pred **n = realloc(vs->node, c * sizeof(*n));
        if (n == NULL)
            return -1;
        vs->node = n;
        struct dbq_vset **s = realloc(vs->set, c * sizeof(*s));
        if (s == NULL)
            return -1;
        vs->set = s;
        vs->cap = c;
    }
    struct dbq_vset *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -1;
    /* has_done nodes come first (vs->n of them), then the visit set */
    vs->node[vs->nsets] = p;
    vs->set[vs->nsets] = x;
    if (p)
        vs->n = vs->nsets + 1;
    return (int)vs->nsets++;
}

void
dbq_vsets_free(dbq_vsets *vs)
{
    for (size_t k = 0; k < vs->nsets; k++) {
        free(vs->set[k]->bm);
        free(vs->set[k]->s);
        free(vs->set[k]);
    }
    free(vs->set);
    free(vs->node);
    memset(vs, 0, sizeof(*vs));
    vs->visit_k = -1;
}

static void
dbq_fn_vs(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const dbq_vsets *vs = sqlite3_user_data(cx);
    int k = sqlite3_value_int(argv[0]);
    if (k < 0 || (size_t)k >= vs->nsets) {
        sqlite3_result_error(cx, "tally_vs: no such set", -1);
        return;
    }
    sqlite3_result_int(cx, dbq_vset_has(vs->set[k],
                                        (uint64_t)sqlite3_value_int64(argv[1])));
}

void
dbq_vs_register(db *d, const dbq_vsets *vs)
{
    sqlite3_create_function_v2(d->h, "tally_vs", 2, SQLITE_UTF8,
                               (void *)vs, vs ? dbq_fn_vs : NULL, NULL, NULL,
                               NULL);
}

/* ---- bitmaps of accepted ids ---- */

static int
dbq_bits_row(void *ctx, sqlite3_stmt *st)
{
    dbq_bits *b = ctx;
    int64_t v = sqlite3_column_int64(st, 0);
    if (v < 0)
        return 0;
    if ((uint64_t)v >= b->nbits) {
        size_t n = b->nbits ? b->nbits : 4096;
        while (n <= (uint64_t)v)
            n *= 2;
        uint64_t *w = realloc(b->w, n / 64 * sizeof(*w));
        if (w == NULL)
            return -1;
        memset(w + b->nbits / 64, 0, (n - b->nbits) / 64 * sizeof(*w));
        b->w = w;
        b->nbits = n;
    }
    b->w[(uint64_t)v >> 6] |= 1ull << ((uint64_t)v & 63);
    return 0;
}

/* Fills b with the ids of "SELECT x.id FROM strings x WHERE x.id IN
 * (set)": the set of matcher fid (key == NULL) or the propset of key. */
int
dbq_bits_load(db *d, dbq_bits *b, const char *key, int fid)
{
    dbq_sql q = { 0 };
    dbq_cat(&q, "SELECT x.id FROM strings x WHERE x.id");
    if (key)
        dbq_propset(&q, key, fid);
    else
        dbq_idset(&q, fid);
    sqlite3_stmt *st = dbq_prepare(d, &q);
    int rc = st ? dbq_run(d, st, dbq_bits_row, b) : -1;
    dbq_sql_free(&q);
    return rc;
}

