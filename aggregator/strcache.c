/* strcache.c -- see strcache.h.  Open addressing, linear probing, the
 * table kept at most half full; key bytes live in one arena. */
#include "aggregator/strcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;     /* 0 = empty slot */
    int64_t  id;
    uint32_t off;
    uint32_t len;
} sc_entry;

struct strcache {
    sc_entry *slots;
    size_t    mask;    /* slots - 1 */
    size_t    count;
    char     *arena;
    size_t    arena_cap;
    size_t    arena_used;
};

/* Eight bytes a step (dictionary strings, User-Agents and URLs are tens
 * to hundreds of bytes): multiply-xorshift rounds, a final mix. */
static inline __attribute__((always_inline)) uint64_t
sc_hash(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    if (len > 0 && p - (const unsigned char *)key >= 8) {
        /* the last 8 bytes of the key (overlapping what was hashed; len
         * is in the seed): one load instead of a variable-length copy */
        memcpy(&w, p + len - 8, 8);
    } else {
        for (size_t i = 0; i < len; i++)
            w |= (uint64_t)p[i] << (8 * i);
    }
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h ? h : 1;
}

strcache *
sc_new(size_t max_entries, size_t arena_bytes)
{
    size_t n = 16;
    while (n < max_entries * 2)
        n <<= 1;
    strcache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->slots = calloc(n, sizeof(sc_entry));
    c->arena = malloc(arena_bytes ? arena_bytes : 1);
    if (c->slots == NULL || c->arena == NULL) {
        sc_free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->arena_cap = arena_bytes;
    return c;
}

void
sc_free(strcache *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c->arena);
    free(c);
}

void
sc_clear(strcache *c)
{
    memset(c->slots, 0, (c->mask + 1) * sizeof(sc_entry));
    c->count = 0;
    c->arena_used = 0;
}

size_t
sc_count(const strcache *c)
{
    return c->count;
}

static inline __attribute__((always_inline)) sc_entry *
sc_find(const strcache *c, const char *key, size_t len, uint64_t h)
{
    for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
        sc_entry *e = &c->slots[i];
        if (e->hash == 0)
            return e;
        if (e->hash == h && e->len == len
            && memcmp(c->arena + e->off, key, len) == 0)
            return e;
    }
}

int
sc_get(const strcache *c, const char *key, size_t len, int64_t *id)
{
    if (len > SC_MAX_KEY)
        return 0;
    sc_entry *e = sc_find(c, key, len, sc_hash(key, len));
    if (e->hash == 0)
        return 0;
    *id = e->id;
    return 1;
}

void
sc_put(strcache *c, const char *key, size_t len, int64_t id)
{
    if (len > SC_MAX_KEY || len > c->arena_cap)
        return;
    uint64_t h = sc_hash(key, len);
    sc_entry *e = sc_find(c, key, len, h);
    if (e->hash != 0) {
        e->id = id;
        return;
    }
    if ((c->count + 1) * 2 > c->mask + 1 || c->arena_used + len > c->arena_cap) {
        sc_clear(c);
        e = sc_find(c, key, len, h);
    }
    memcpy(c->arena + c->arena_used, key, len);
    e->hash = h;
    e->id = id;
    e->off = (uint32_t)c->arena_used;
    e->len = (uint32_t)len;
    c->arena_used += len;
    c->count++;
}
