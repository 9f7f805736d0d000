/*
 * enrich_litidx.c -- multi-literal search (see enrich_litidx.h).
 *
 * Literals of >= 3 bytes are grouped by their first three bytes; an
 * open-addressing table maps those three bytes to the group.  A scan looks
 * up every 3-byte window of the text and compares the rest of each literal
 * in the group.  Equal literals added under different ids share one
 * canonical id, so each distinct literal is looked for once.  Marks are
 * generation numbers, so a scan never clears.
 */
#include "aggregator/enrich_litidx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *s; size_t n; } li_lit;
typedef struct { uint32_t key; uint32_t start, count; } li_slot;   /* count 0: empty */

struct en_litidx {
    li_lit *lits;
    size_t n, cap;
    uint32_t *order;    /* ids of long literals, grouped by key */
    size_t norder;
    int *shorts;        /* ids of 1- and 2-byte literals */
    size_t nshort;
    li_slot *tab;
    uint32_t mask;
    uint32_t *canon;    /* id -> id of the first equal literal */
    uint64_t pairs[65536 / 64];   /* scratch: byte pairs present in the text */
    uint64_t bytes[256 / 64];     /* scratch: bytes present in the text */
    uint32_t *mark;     /* by canonical id */
    uint32_t gen;
};

static uint32_t
li_key(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16;
}

static uint32_t
li_hash(uint32_t k)
{
    k *= 0x9E3779B1u;
    return k ^ (k >> 15);
}

en_litidx *
en_li_new(void)
{
    return calloc(1, sizeof(en_litidx));
}

int
en_li_add(en_litidx *li, const char *lit, size_t len)
{
    if (len == 0 || li->tab) return -1;
    if (li->n == li->cap) {
        size_t nc = li->cap ? li->cap * 2 : 64;
        li_lit *nl = realloc(li->lits, nc * sizeof *nl);
        if (!nl) return -1;
        li->lits = nl;
        li->cap = nc;
    }
    char *c = malloc(len);
    if (!c) return -1;
    memcpy(c, lit, len);
    li->lits[li->n].s = c;
    li->lits[li->n].n = len;
    return (int)li->n++;
}

typedef struct { uint32_t key, id; } li_pair;

static int
li_cmp(const void *a, const void *b)
{
    const li_pair *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct { const char *s; size_t n; uint32_t id; } li_ref;

/* Orders literals by content, then id (to find equal literals). */
static int
li_cmp_content(const void *a, const void *b)
{
    const li_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int
en_li_build(en_litidx *li)
{
    size_t cap = 16;
    li->order = malloc((li->n + 1) * sizeof *li->order);
    li->shorts = malloc((li->n + 1) * sizeof *li->shorts);
    li->mark = calloc(li->n + 1, sizeof *li->mark);
    li->canon = malloc((li->n + 1) * sizeof *li->canon);
    li_ref *refs = malloc((li->n + 1) * sizeof *refs);
    if (!li->order || !li->shorts || !li->mark || !li->canon || !refs) {
        free(refs);
        return -1;
    }
    for (size_t i = 0; i < li->n; i++)
        refs[i] = (li_ref){ li->lits[i].s, li->lits[i].n, (uint32_t)i };
    qsort(refs, li->n, sizeof *refs, li_cmp_content);
    for (size_t i = 0; i < li->n; i++) {
        int same = i > 0 && refs[i].n == refs[i - 1].n
            && memcmp(refs[i].s, refs[i - 1].s, refs[i].n) == 0;
        li->canon[refs[i].id] = same ? li->canon[refs[i - 1].id] : refs[i].id;
    }
    free(refs);
    for (size_t i = 0; i < li->n; i++) {
        if (li->canon[i] != i) continue;       /* look for each literal once */
        if (li->lits[i].n >= 3) li->order[li->norder++] = (uint32_t)i;
        else li->shorts[li->nshort++] = (int)i;
    }
    li_pair *pairs = malloc((li->norder + 1) * sizeof *pairs);
    if (!pairs) return -1;
    for (size_t i = 0; i < li->norder; i++)
        pairs[i] = (li_pair){ li_key(li->lits[li->order[i]].s), li->order[i] };
    qsort(pairs, li->norder, sizeof *pairs, li_cmp);
    for (size_t i = 0; i < li->norder; i++) li->order[i] = pairs[i].id;
    free(pairs);
    while (cap < 2 * li->norder) cap *= 2;
    li->tab = calloc(cap, sizeof *li->tab);
    if (!li->tab) return -1;
    li->mask = (uint32_t)cap - 1;
    for (size_t i = 0; i < li->norder;) {
        uint32_t k = li_key(li->lits[li->order[i]].s);
        size_t j = i;
        while (j < li->norder && li_key(li->lits[li->order[j]].s) == k) j++;
        uint32_t h = li_hash(k) & li->mask;
        while (li->tab[h].count) h = (h + 1) & li->mask;
        li->tab[h] = (li_slot){ k, (uint32_t)i, (uint32_t)(j - i) };
        i = j;
    }
    li->gen = 0;
    return 0;
}

size_t
en_li_scan(en_litidx *li, const char *text, size_t len)
{
    size_t hits = 0;
    if (!li->tab) return 0;
    if (++li->gen == 0) {                /* wrapped: clear old marks */
        memset(li->mark, 0, li->n * sizeof *li->mark);
        li->gen = 1;
    }
    /* 1- and 2-byte literals: bitmaps of the bytes and byte pairs present */
    const unsigned char *u = (const unsigned char *)text;
    if (li->nshort) {
        for (size_t i = 0; i < len; i++) {
            li->bytes[u[i] >> 6] |= 1ull << (u[i] & 63);
            if (i + 1 < len) {
                unsigned p = (unsigned)u[i] << 8 | u[i + 1];
                li->pairs[p >> 6] |= 1ull << (p & 63);
            }
        }
        for (size_t i = 0; i < li->nshort; i++) {
            const unsigned char *l = (const unsigned char *)li->lits[li->shorts[i]].s;
            unsigned p = li->lits[li->shorts[i]].n == 1 ? l[0] : ((unsigned)l[0] << 8 | l[1]);
            const uint64_t *bm = li->lits[li->shorts[i]].n == 1 ? li->bytes : li->pairs;
            if (bm[p >> 6] >> (p & 63) & 1) {
                li->mark[li->shorts[i]] = li->gen;
                hits++;
            }
        }
        for (size_t i = 0; i < len; i++) {       /* clear what we set */
            li->bytes[u[i] >> 6] = 0;
            if (i + 1 < len) li->pairs[((unsigned)u[i] << 8 | u[i + 1]) >> 6] = 0;
        }
    }
    for (size_t i = 0; i + 3 <= len; i++) {
        uint32_t k = li_key(text + i);
        uint32_t h = li_hash(k) & li->mask;
        while (li->tab[h].count && li->tab[h].key != k) h = (h + 1) & li->mask;
        const li_slot *s = &li->tab[h];
        for (uint32_t j = 0; j < s->count; j++) {
            uint32_t id = li->order[s->start + j];
            const li_lit *l = &li->lits[id];
            if (li->mark[id] != li->gen && l->n <= len - i
                && memcmp(text + i + 3, l->s + 3, l->n - 3) == 0) {
                li->mark[id] = li->gen;
                hits++;
            }
        }
    }
    return hits;
}

int
en_li_hit(const en_litidx *li, int id)
{
    return id >= 0 && (size_t)id < li->n && li->gen != 0 && li->canon
        && li->mark[li->canon[id]] == li->gen;
}

void
en_li_free(en_litidx *li)
{
    if (!li) return;
    for (size_t i = 0; i < li->n; i++) free(li->lits[i].s);
    free(li->lits);
    free(li->order);
    free(li->shorts);
    free(li->tab);
    free(li->mark);
    free(li->canon);
    free(li);
}
