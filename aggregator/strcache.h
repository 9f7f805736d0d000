/*
 * strcache.h -- a bounded in-memory map from byte strings to int64 ids,
 * used by the db layer to avoid a SELECT per dictionary string (event
 * names, pathnames, hostnames, ...) and per site.
 *
 * It is a cache, not a source of truth: when it is full it forgets
 * everything (sc_clear) and refills from the database.  The owner must
 * clear it whenever a transaction that inserted ids is rolled back.
 * Not thread-safe: one cache per writer.
 */
#ifndef TALLY_AGG_STRCACHE_H
#define TALLY_AGG_STRCACHE_H

#include <stddef.h>
#include <stdint.h>

/* Strings longer than this are never cached (sc_put ignores them). */
#define SC_MAX_KEY 512

typedef struct strcache strcache;

/* Creates a cache holding at most max_entries strings (rounded up to a
 * power of two) and about arena_bytes bytes of key text.  Returns NULL on
 * allocation failure.  The caller frees it with sc_free. */
strcache *sc_new(size_t max_entries, size_t arena_bytes);
void sc_free(strcache *c);

/* Looks key up; returns 1 and sets *id if present, else 0. */
int sc_get(const strcache *c, const char *key, size_t len, int64_t *id);

/* Remembers key -> id (replacing an existing entry).  When the cache is
 * full it is cleared first.  Keys longer than SC_MAX_KEY are ignored. */
void sc_put(strcache *c, const char *key, size_t len, int64_t id);

/* Forgets every entry. */
void sc_clear(strcache *c);

/* Number of entries held. */
size_t sc_count(const strcache *c);

#endif
