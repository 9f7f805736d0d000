/*
 * vmap.h -- an open-addressing hash map from 64-bit keys to 32-bit
 * values, for the ingest's exact visitor sets (keys are 64-bit hashes of
 * (site, dimension, value, day or hour, visitor)).  Key 0 is reserved;
 * callers use vmap_key() which never returns 0.  No deletion: a value
 * may go back to 0 but the key stays until vmap_free.  Grows by doubling
 * at half load.  Not thread-safe.
 */
#ifndef TALLY_AGG_VMAP_H
#define TALLY_AGG_VMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;     /* 0 = empty */
    uint32_t *vals;
    size_t    mask;     /* capacity - 1, capacity a power of two */
    size_t    count;
} vmap;

/* Initialises an empty map (no allocation until the first insert). */
void vmap_init(vmap *m);

/* Frees the arrays; the map is empty (and usable) again. */
void vmap_free(vmap *m);

/* Returns the value slot of key, inserting it with value 0 if absent.
 * The pointer is valid until the next vmap_slot on this map.  NULL when
 * out of memory. */
uint32_t *vmap_slot(vmap *m, uint64_t key);

/* The value of key, 0 when absent. */
uint32_t vmap_get(const vmap *m, uint64_t key);

/* A well-mixed non-zero 64-bit key of n integers (one multiply per
 * integer, one final mix).  Inline: callers pass small local arrays,
 * which then never reach memory. */
static inline uint64_t
vmap_key(const int64_t *v, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)v[i]) * 0xff51afd7ed558ccdull + (h >> 41);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

#endif
