/* vmap.c -- see vmap.h.  Linear probing over a power-of-two table. */
#include "aggregator/vmap.h"

#include <stdlib.h>

void
vmap_init(vmap *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->mask = 0;
    m->count = 0;
}

void
vmap_free(vmap *m)
{
    free(m->keys);
    free(m->vals);
    vmap_init(m);
}

static int
vmap_grow(vmap *m)
{
    size_t ncap = m->mask ? (m->mask + 1) * 2 : 1024;
    uint64_t *nk = calloc(ncap, sizeof(*nk));
    uint32_t *nv = malloc(ncap * sizeof(*nv));
    if (nk == NULL || nv == NULL) {
        free(nk);
        free(nv);
        return -1;
    }
    size_t nmask = ncap - 1;
    if (m->keys) {
        for (size_t i = 0; i <= m->mask; i++) {
            uint64_t k = m->keys[i];
            if (k == 0)
                continue;
            size_t j = (size_t)k & nmask;
            while (nk[j] != 0)
                j = (j + 1) & nmask;
            nk[j] = k;
            nv[j] = m->vals[i];
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->mask = nmask;
    return 0;
}

uint32_t *
vmap_slot(vmap *m, uint64_t key)
{
    if (m->keys == NULL || (m->count + 1) * 2 > m->mask + 1) {
        if (vmap_grow(m) != 0)
            return NULL;
    }
    size_t i = (size_t)key & m->mask;
    for (;;) {
        uint64_t k = m->keys[i];
        if (k == key)
            return &m->vals[i];
        if (k == 0) {
            m->keys[i] = key;
            m->vals[i] = 0;
            m->count++;
            return &m->vals[i];
        }
        i = (i + 1) & m->mask;
    }
}

uint32_t
vmap_get(const vmap *m, uint64_t key)
{
    if (m->keys == NULL)
        return 0;
    size_t i = (size_t)key & m->mask;
    for (;;) {
        uint64_t k = m->keys[i];
        if (k == key)
            return m->vals[i];
        if (k == 0)
            return 0;
        i = (i + 1) & m->mask;
    }
}
