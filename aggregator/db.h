/*
 * db.h -- tallyd's SQLite storage.  Everything that touches SQLite goes
 * through these functions; only aggregator/db*.c include sqlite3.h.
 * Every statement is a constant prepared statement; user data is only
 * ever bound as parameters.
 *
 * SCHEMA v2 (PRAGMA user_version = 2), DDL in db_schema.c, every table,
 * column and number explained in docs/storage.md:
 *   sites(id, domain UNIQUE, timezone)   one row per site
 *   strings(id, s UNIQUE)                dictionary of every stored string;
 *                                        id 0 (no row) means "none"/""
 *   attrs(id, 14 string ids)             distinct visit-attribute tuples
 *                                        (source .. device, dims.h)
 *   events(site_id, ts, seq, visitor_id, visit_id, name_id, pathname_id,
 *          hostname_id, attrs_id, props_id, revenue_id, flags)
 *                                        raw events, WITHOUT ROWID,
 *                                        clustered on (site_id, ts, seq);
 *                                        seq only breaks ties of one ms
 *   visits(id, site_id, visitor_id, start_ts, end_ts, entry_page_id,
 *          exit_page_id, attrs_id, pageviews, events, bounce)
 *   rollup_hourly(site_id, dim, hour, k1, k2, visitors_hour,
 *          visitors_new, visits, pageviews, events, bounces, duration)
 *                                        WITHOUT ROWID, key (site_id,
 *                                        dim, hour, k1, k2)
 *   spool_pos(segment, offset, finished) drain position per segment
 *   api_keys(id, hash, name, created, revoked)
 *   meta(k, v)                           counters: visit_seq, hwm_ms
 *
 * Schema v1 (the foundation) is migrated on open: its events table is
 * renamed events_v1 and converted by migrate_v1.c through the same
 * ingest as the spool, then dropped.
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

#define DB_SCHEMA_VERSION 4
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
 * transaction; db_commit commits it (with the visit id counter in
 * meta); db_rollback discards it and every cached id.  Return 0 or -1. */
int db_begin(db *d);

/* A read snapshot for a query made of several statements (sealing in
 * another process moves rows into blocks between them otherwise):
 * db_read_begin returns 1 when it began a read transaction (end it with
 * db_read_end), 0 when d is already inside one, -1 on error. */
int db_read_begin(db *d);
void db_read_end(db *d);
int db_commit(db *d);
void db_rollback(db *d);

/* ---- v1 events (db_events.c): only for building v1 databases in tests
 * and for reading them during migration ---- */

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

/* Calls fn for every row of the v1 events table (events_v1 after the
 * migration), ordered by (ts, site_id, seq), with strings resolved (the
 * db_event's strings are valid during the call only).  Returns 0, fn's
 * non-zero value, or -1.  Returns 0 at once when there is no events_v1. */
int db_v1_each(db *d, int (*fn)(void *ctx, const db_event *ev), void *ctx);

/* 1 when a v1 events table waits for conversion, 0 if not, -1. */
int db_v1_pending(db *d);

/* Drops the v1 events table (inside the caller's transaction). */
int db_v1_drop(db *d);

/* ---- v2 ingest (db_ingest.c); all inside a transaction ---- */

#define DB_EV_NONINTERACTIVE 1   /* events.flags bit */

/* A raw event row, every string as a dictionary id (0 = none). */
typedef struct {
    int64_t  site_id, ts, seq;
    uint64_t visitor_id;          /* stored as a signed 64-bit INTEGER */
    int64_t  visit_id, name_id, pathname_id, hostname_id, attrs_id;
    int64_t  props_id, revenue_id;
    int      flags;
} db_event2;

/* Inserts one raw event row.  Returns 0 or -1. */
int db_event2_insert(db *d, const db_event2 *e);

/* The dictionary id of (s, len), inserted if new; 0 for len == 0; -1 on
 * error.  Cached in memory. */
int64_t db_string_id(db *d, const char *s, size_t len);

/* The site id of domain (s, len), created if new; -1 on error. */
int64_t db_site_id(db *d, const char *s, size_t len);

/* Reads string id into a malloc'd NUL-terminated *out (caller frees).
 * Returns 1, 0 when there is no such id (*out = NULL), -1. */
int db_string_get(db *d, int64_t id, char **out);

/* The largest ts stored for site (*ts, 0 when none) and the next free
 * seq at that ts (*next).  Returns 0 or -1. */
int db_seq_last(db *d, int64_t site, int64_t *ts, int64_t *next);

/* The next free seq at (site, ts) (0 when none is used).  Returns 0 or
 * -1. */
int db_seq_at(db *d, int64_t site, int64_t ts, int64_t *next);

/* The id of an attribute tuple (dims.h, enum attr), inserted if new.
 * Returns the id (> 0) or -1. */
int64_t db_attrs_id(db *d, const int64_t a[]);

/* Reads tuple id into a[ATTR_COUNT].  Returns 1, 0 (no such id), -1. */
int db_attrs_get(db *d, int64_t id, int64_t a[]);

/* A visit row. */
typedef struct {
    int64_t  id, site_id;
    uint64_t visitor_id;
    int64_t  start_ts, end_ts;           /* first and last event, ms  */
    int64_t  entry_page_id, exit_page_id, attrs_id;
    int64_t  pageviews, events, bounce;
} db_visit;

/* Allocates the next visit id (meta visit_seq, saved at commit). */
int64_t db_visit_next_id(db *d);

/* Inserts or replaces a visit row.  Returns 0 or -1. */
int db_visit_put(db *d, const db_visit *v);

/* Reads visit id.  Returns 1, 0 (none), -1. */
int db_visit_get(db *d, int64_t id, db_visit *v);

/* One rollup_hourly row (or the deltas to add to it). */
typedef struct {
    int64_t site, hour, k1, k2;   /* hour: hours since the epoch, UTC */
    int32_t dim;                  /* enum dim */
    int64_t m[7];                 /* by enum metric (dims.h)          */
} db_rollup_row;

/* Adds r's metrics to its row (created if absent); a row whose metrics
 * all become 0 is deleted.  Returns 0 or -1. */
int db_rollup_add(db *d, const db_rollup_row *r);

/* Integer values in meta.  get: 1 found, 0 absent (*v = 0), -1. */
/* The bounds of the coarse rollups (db_compact.c): rollup_daily holds
 * the days before hour *daily_h, rollup_monthly the months before day
 * *monthly_d (a month's first day; 0 = none yet).  Returns 0 or -1. */
int db_compact_bounds(db *d, int64_t *daily_h, int64_t *monthly_d);

/* One compaction step in its own transaction: sums the next UTC day
 * below hour upto_h into rollup_daily (days without rows are skipped in
 * one step), or else the next month whose days are all summed into
 * rollup_monthly.  Returns 1 when it moved a bound, 0 when nothing is
 * left below upto_h, -1 on error (rolled back, logged). */
int db_compact_step(db *d, int64_t upto_h);

int db_meta_get(db *d, const char *k, int64_t *v);
int db_meta_set(db *d, const char *k, int64_t v);

/* ---- replay (db_replay.c) ---- */

/* Calls fn for every site id, ascending.  Returns 0, fn's value, -1. */
int db_sites_each(db *d, int (*fn)(void *ctx, int64_t site), void *ctx);

/* Every site id, ascending, in a malloc'd *ids (the caller frees; NULL
 * when *n is 0).  Returns 0 or -1. */
int db_site_ids(db *d, int64_t **ids, size_t *n);

/* Calls fn for every event of site with ts >= from_ts in (ts, seq)
 * order.  Returns 0, fn's non-zero value, or -1. */
int db_events_from(db *d, int64_t site, int64_t from_ts,
                   int (*fn)(void *ctx, const db_event2 *e), void *ctx);

/* The id of the string "pageview", or 0 when absent, -1 on error. */
int64_t db_pageview_id(db *d);

/* ---- operations (db_ops.c) ---- */

/* Deletes up to limit raw events with ts < before_ms (all sites) and the
 * visits that ended before it; rollups stay.  Runs in its own
 * transaction.  Returns the number of events deleted, or -1. */
int64_t db_retain_batch(db *d, int64_t before_ms, int limit);

/* Copies the database at src to the file dst with SQLite's online
 * backup API (readers and the writer may keep working; pages changed
 * meanwhile are copied again).  Returns 0, or -1 with a message in err. */
int db_backup(const char *src, const char *dst, char *err, size_t errlen);

/* Size of the database in bytes (page_count * page_size), or -1. */
int64_t db_size_bytes(db *d);

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

/* Aggregates the events of site with from_ms <= ts < to_ms grouped by g,
 * from the hourly rollups (from_ms and to_ms are rounded down to whole
 * hours; the API passes whole days).  On success returns 0 and a
 * malloc'd array in *rows (free with db_stat_rows_free) of *n rows; day
 * rows come in day order, others in no particular order.  Returns -1 on
 * error. */
int db_stats(db *d, int64_t site_id, int64_t from_ms, int64_t to_ms,
             enum db_group g, db_stat_row **rows, size_t *n);

/* The same numbers computed from the rows of the raw events table (the
 * oracle the unit tests compare db_stats with); events of sealed days
 * (db_seal.h) are not rows and do not count. */
int db_stats_raw(db *d, int64_t site_id, int64_t from_ms, int64_t to_ms,
                 enum db_group g, db_stat_row **rows, size_t *n);
void db_stat_rows_free(db_stat_row *rows, size_t n);

/* ==== web: dashboard users, sessions, share links (db_web.c) ==========
 * Tables created idempotently by db_web_init (CREATE ... IF NOT EXISTS,
 * outside the migration chain of db_schema.c):
 *   web_users(id, name UNIQUE, pwhash, created)   pwhash: argon2id string
 *   web_sessions(hash PK, user_id, csrf, created, expires)
 *                        hash = BLAKE2b-256 of the session cookie value
 *   web_shares(id, hash UNIQUE, site, created, revoked)
 *                        hash = BLAKE2b-256 of the share token
 * Times are unix seconds. */

#define DB_WEB_NAME_MAX 64    /* longest user name, bytes */
#define DB_WEB_CSRF_MAX 64    /* longest stored CSRF token, bytes */

/* Creates the web tables if missing (a DB_RW handle).  Returns 0 or -1. */
int db_web_init(db *d);

/* Opens a read-write connection to the existing database at path for the
 * web tables only (no schema migration; db_web_init is run).  Returns 0
 * and *out (close with db_close), or -1 with a message in err. */
int db_web_open(const char *path, db **out, char *err, size_t errlen);

/* Adds user name with an encoded password hash.  Returns 0 and *id, 1
 * when the name is taken, -1 on error. */
int db_user_add(db *d, const char *name, const char *pwhash, int64_t now,
                int64_t *id);

/* Finds user name.  Returns 1 with *id and pwhash (cap bytes, NUL
 * terminated) set, 0 when there is no such user, -1 on error. */
int db_user_find(db *d, const char *name, int64_t *id, char *pwhash,
                 size_t cap);

/* Replaces the password hash of name and deletes its sessions.  Returns
 * 1, 0 (no such user) or -1. */
int db_user_set_hash(db *d, const char *name, const char *pwhash);

/* Deletes user name and its sessions.  Returns 1, 0 (none) or -1. */
int db_user_remove(db *d, const char *name);

typedef struct {
    int64_t     id;
    const char *name;        /* valid during the callback only */
    int64_t     created;
    int64_t     sessions;    /* sessions not yet expired at `now` */
} db_user_info;

/* Calls fn for every user by name.  Returns 0, fn's value, or -1. */
int db_user_each(db *d, int64_t now,
                 int (*fn)(void *ctx, const db_user_info *u), void *ctx);

/* Stores a session.  Returns 0 or -1. */
int db_wsession_add(db *d, const unsigned char hash[DB_HASH_SIZE],
                    int64_t user_id, const char *csrf, int64_t created,
                    int64_t expires);

/* Finds a session of an existing user with expires > now.  Returns 1
 * with *user_id and csrf (DB_WEB_CSRF_MAX + 1 bytes) set, 0, or -1. */
int db_wsession_find(db *d, const unsigned char hash[DB_HASH_SIZE],
                     int64_t now, int64_t *user_id,
                     char csrf[DB_WEB_CSRF_MAX + 1]);

/* Deletes one session (0 or -1), or every session with expires <= now
 * (returns the number deleted, or -1). */
int db_wsession_delete(db *d, const unsigned char hash[DB_HASH_SIZE]);
int64_t db_wsession_purge(db *d, int64_t now);

/* Stores a share link for site.  Returns 0 and *id, or -1. */
int db_share_add(db *d, const unsigned char hash[DB_HASH_SIZE],
                 const char *site, int64_t now, int64_t *id);

/* Finds an active (not revoked) share link.  Returns 1 with *id and site
 * (cap bytes) set, 0, or -1. */
int db_share_find(db *d, const unsigned char hash[DB_HASH_SIZE],
                  int64_t *id, char *site, size_t cap);

typedef struct {
    int64_t     id;
    const char *site;        /* valid during the callback only */
    int64_t     created;
    int64_t     revoked;     /* 0 = active */
} db_share_info;

/* Calls fn for every share link (of site, or all when site is NULL), by
 * id.  Returns 0, fn's value, or -1. */
int db_share_each(db *d, const char *site,
                  int (*fn)(void *ctx, const db_share_info *s), void *ctx);

/* Revokes share link id.  Returns 1, 0 (no active link id) or -1. */
int db_share_revoke(db *d, int64_t id, int64_t now);

/* Calls fn(ctx, domain, timezone) for every site by domain, or only for
 * domain when it is not NULL (nothing when unknown).  Strings are valid
 * during the call only.  Returns 0, fn's value, or -1. */
int db_site_info_each(db *d, const char *domain,
                      int (*fn)(void *ctx, const char *domain,
                                const char *timezone), void *ctx);
/* ==== end of web section =============================================== */

#endif
