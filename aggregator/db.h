/*
 * db.h -- tallyd's SQLite storage.  Everything that touches SQLite goes
 * through these functions; only aggregator/db*.c include sqlite3.h.
 * Every statement is a constant prepared statement; user data is only
 * ever bound as parameters.
 *
 * SCHEMA v1 (PRAGMA user_version = 1), see db_schema.c for the DDL:
 *   sites(id, domain UNIQUE, timezone)   one row per site, created by the
 *                                        first event of a domain
 *   strings(id, s UNIQUE)                dictionary of repeated strings
 *                                        (names, pathnames, hostnames,
 *                                        referrers, UAs, props, revenue)
 *   events(site_id, ts, seq, visitor_id, name_id, pathname_id,
 *          hostname_id, referrer_id, ua_id, props_id, revenue_id)
 *                                        WITHOUT ROWID, clustered on
 *                                        (site_id, ts, seq): range scans of
 *                                        one site's time window read
 *                                        contiguous pages, no extra index
 *   spool_pos(segment, offset, finished) drain position per segment
 *   api_keys(id, hash, name, created, revoked)
 *   meta(k, v)                           counters (the next event seq)
 *
 * CONNECTIONS: one read-write connection (the drain, or a CLI command),
 * any number of read-only ones (HTTP request threads).  WAL mode lets the
 * readers run beside the writer.  A db handle is used by one thread at a
 * time.
 */
#ifndef TALLY_AGG_DB_H
#define TALLY_AGG_DB_H

#include <stddef.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION 1
#define DB_HASH_SIZE 32

typedef struct db db;

enum db_mode { DB_RW = 0, DB_RO = 1 };

/* Opens path.  DB_RW creates the file if needed, sets WAL,
 * synchronous=NORMAL and a busy timeout, and creates or migrates the
 * schema to DB_SCHEMA_VERSION.  DB_RO requires an existing database at
 * DB_SCHEMA_VERSION.  Returns 0 and *out (caller closes with db_close),
 * or -1 with a message in err. */
int db_open(const char *path, enum db_mode mode, db **out, char *err,
            size_t errlen);
void db_close(db *d);

/* The last SQLite error message of this handle (owned by the handle). */
const char *db_errmsg(db *d);

/* Transactions on a DB_RW handle.  db_begin starts an IMMEDIATE
 * transaction; db_commit commits it (with the counters in meta);
 * db_rollback discards it and every cached id.  Return 0 or -1. */
int db_begin(db *d);
int db_commit(db *d);
void db_rollback(db *d);

/* ---- events (db_events.c) ---- */

/* A normalised event ready to store.  Strings are (ptr, len), not NUL
 * terminated; ptr == NULL means absent (stored as NULL).  site, name,
 * pathname and hostname are required (hostname may be empty). */
typedef struct {
    int64_t     ts_ms;
    uint64_t    visitor_id;        /* stored as a signed 64-bit INTEGER */
    const char *site;      size_t site_len;
    const char *name;      size_t name_len;
    const char *pathname;  size_t pathname_len;
    const char *hostname;  size_t hostname_len;
    const char *referrer;  size_t referrer_len;
    const char *ua;        size_t ua_len;
    const char *props;     size_t props_len;
    const char *revenue;   size_t revenue_len;
} db_event;

/* Inserts one event inside the current transaction, creating its site
 * and dictionary strings as needed.  Returns 0 or -1. */
int db_event_insert(db *d, const db_event *ev);

/* ---- spool positions (db_pos.c) ---- */

/* Reads the position of segment.  Returns 1 (found, *offset and
 * *finished set), 0 (no row) or -1. */
int db_pos_get(db *d, const char *segment, uint64_t *offset, int *finished);

/* Inserts or replaces the position of segment.  Returns 0 or -1. */
int db_pos_set(db *d, const char *segment, uint64_t offset, int finished);

/* Deletes the row of segment.  Returns 0 or -1. */
int db_pos_delete(db *d, const char *segment);

/* Calls fn for every row (stops and returns fn's value if non-zero).
 * segment points to memory valid only during the call.  Returns 0, fn's
 * non-zero value, or -1 on a database error. */
typedef int (*db_pos_fn)(void *ctx, const char *segment, uint64_t offset,
                         int finished);
int db_pos_each(db *d, db_pos_fn fn, void *ctx);

/* ---- API keys (db_keys.c) ---- */

/* Stores a key hash with name and creation time (unix seconds).  Returns
 * 0 and *id, or -1. */
int db_key_add(db *d, const unsigned char hash[DB_HASH_SIZE],
               const char *name, int64_t created, int64_t *id);

/* Finds an active (not revoked) key by hash.  Returns 1 and sets *id
 * (may be NULL), 0 if none, -1 on error. */
int db_key_find(db *d, const unsigned char hash[DB_HASH_SIZE], int64_t *id);

typedef struct {
    int64_t     id;
    const char *name;       /* valid during the callback only */
    int64_t     created;    /* unix seconds */
    int64_t     revoked;    /* unix seconds, 0 = active */
} db_key_info;

/* Calls fn for every key, by id.  Returns 0, fn's non-zero value, or -1. */
int db_key_each(db *d, int (*fn)(void *ctx, const db_key_info *k),
                void *ctx);

/* Revokes key id at time now.  Returns 1 if it was active and is now
 * revoked, 0 if no active key has that id, -1 on error. */
int db_key_revoke(db *d, int64_t id, int64_t now);

/* ---- statistics (db_stats.c) ---- */

enum db_group {
    DB_GROUP_DAY = 0,   /* one row per UTC day with events         */
    DB_GROUP_PAGE = 1,  /* one row per pathname                    */
    DB_GROUP_NAME = 2   /* one row per event name                  */
};

/* One result row.  visitors is the sum over the days of the range of
 * each day's distinct visitor ids (ids are salted per day).  label is
 * the pathname or event name (malloc'd), NULL for DB_GROUP_DAY. */
typedef struct {
    int64_t  day;        /* UTC day number, DB_GROUP_DAY only */
    char    *label;
    uint64_t visitors;
    uint64_t pageviews;  /* events named "pageview" */
    uint64_t events;     /* all events */
} db_stat_row;

/* Finds a site by domain.  Returns 1 and *id, 0 if unknown, -1. */
int db_site_find(db *d, const char *domain, int64_t *id);

/* Aggregates the events of site with from_ms <= ts < to_ms grouped by g.
 * On success returns 0 and a malloc'd array in *rows (free with
 * db_stat_rows_free) of *n rows; day rows come in day order, others in no
 * particular order.  Returns -1 on error. */
int db_stats(db *d, int64_t site_id, int64_t from_ms, int64_t to_ms,
             enum db_group g, db_stat_row **rows, size_t *n);
void db_stat_rows_free(db_stat_row *rows, size_t n);

#endif
