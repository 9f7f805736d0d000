/*
 * db_int.h -- private to aggregator/db*.c: the handle and its statement
 * table.  The only header besides those files that includes sqlite3.h.
 */
#ifndef TALLY_AGG_DB_INT_H
#define TALLY_AGG_DB_INT_H

#include "aggregator/db.h"
#include "aggregator/strcache.h"

#include <sqlite3.h>

/* Every statement tallyd runs, prepared once per handle on first use. */
enum db_stmt_id {
    DB_ST_BEGIN, DB_ST_COMMIT, DB_ST_ROLLBACK,
    DB_ST_META_GET, DB_ST_META_SET,
    DB_ST_SITE_GET, DB_ST_SITE_ADD,
    DB_ST_STR_GET, DB_ST_STR_ADD,
    DB_ST_STR_BY_ID,
    DB_ST_EVENT2_ADD, DB_ST_SEQ_LAST, DB_ST_SEQ_AT,
    DB_ST_ATTRS_GET, DB_ST_ATTRS_ADD, DB_ST_ATTRS_BY_ID,
    DB_ST_VISIT_PUT, DB_ST_VISIT_GET,
    DB_ST_ROLLUP_ADD, DB_ST_ROLLUP_ZERO_DEL,
    DB_ST_SITES_ALL, DB_ST_EVENTS_FROM,
    DB_ST_V1_EXISTS, DB_ST_V1_ALL, DB_ST_V1_DROP,
    DB_ST_RETAIN_EVENTS, DB_ST_RETAIN_VISITS,
    DB_ST_POS_GET, DB_ST_POS_SET, DB_ST_POS_DEL, DB_ST_POS_ALL,
    DB_ST_KEY_ADD, DB_ST_KEY_FIND, DB_ST_KEY_ALL, DB_ST_KEY_REVOKE,
    DB_ST_STATS_DAY, DB_ST_STATS_PAGE, DB_ST_STATS_NAME,
    DB_ST_RSTATS_DAY, DB_ST_RSTATS_PAGE, DB_ST_RSTATS_NAME,
    DB_ST_RDAILY_ADD, DB_ST_RMONTHLY_ADD, DB_ST_RDAILY_ZERO_DEL,
    DB_ST_RMONTHLY_ZERO_DEL,
    DB_ST_SEAL_N, DB_ST_SEAL_COLS,
    DB_ST_COUNT
};

/* Rows queued per hot table of the ingest before they are written, all
 * by one INSERT ... SELECT from the queue's virtual table (db_batch.c). */
#define DB_BATCH 256

/* What a queue's virtual table reads (db_batch.c): the handle and which
 * of its queues (0 events, 1 visits, 2 rollups). */
typedef struct {
    struct db *d;
    int        which;
} db_queue_aux;

struct db {
    sqlite3      *h;
    enum db_mode  mode;
    sqlite3_stmt *st[DB_ST_COUNT];
    strcache     *strings;     /* dictionary string -> id (RW only) */
    strcache     *sites;       /* domain -> site id (RW only)       */
    int           in_tx;
    int64_t       next_visit;  /* next visits.id, valid in a tx     */
    int64_t       visit_loaded; /* next_visit at db_begin           */
    /* rows accepted but not yet written (db_batch.c); written before any
     * other statement runs, so nothing can observe them missing */
    db_event2     evq[DB_BATCH];
    db_visit      viq[DB_BATCH];
    db_rollup_row ruq[DB_BATCH];
    int           nevq, nviq, nruq;
    int           flushing;
    db_queue_aux  qaux[3];
    /* coarse rollup bounds (meta rollup_daily_h / rollup_monthly_d), read
     * by db_begin: rollup deltas below them also go to rollup_daily /
     * rollup_monthly (db_batch.c) */
    int64_t       tier_daily_h, tier_monthly_d;
    /* sealed (site, day) pairs, sorted (db_seal.c), valid in a write
     * transaction: reloaded by db_begin when meta seal_gen moved (another
     * process sealed or unsealed), dropped by db_rollback */
    int64_t      *seal_set;
    size_t        seal_n, seal_cap;
    int64_t       seal_max_day, seal_gen;
    int           seal_loaded;
};

/* Opens an existing database read-write without the schema checks of
 * db_open (a second handle, e.g. for the HTTP threads' admin tables) and
 * runs init (CREATE TABLE IF NOT EXISTS ...) on it; `what` names the
 * tables in the error.  Returns 0 with *out (db_close) or -1 with err. */
int db_open_side(const char *path, int (*init)(db *), const char *what,
                 db **out, char *err, size_t errlen);

/* Fills *e from the current row of st, whose columns are ts, seq,
 * visitor_id, visit_id, name_id, pathname_id, hostname_id, attrs_id,
 * props_id, revenue_id, flags (in that order), for site. */
void db_event2_read(sqlite3_stmt *st, int64_t site, db_event2 *e);

/* Returns the prepared (and reset, unbound) statement id, or NULL with
 * the error logged.  Writes the queued rows first (db_batch_flush),
 * except for the dictionary statements (strings, sites, attrs), which
 * cannot see them. */
sqlite3_stmt *db_stmt(db *d, enum db_stmt_id id);

/* A hot statement of the ingest, prepared on first use: every parameter
 * is bound on each use, so it is only reset (not unbound). */
sqlite3_stmt *db_hot(db *d, enum db_stmt_id id);

/* Writes every queued event, visit and rollup row (db_batch.c), in the
 * order they were queued per table.  Returns 0 or -1 (logged; the
 * transaction must be rolled back).  Cheap when nothing is queued. */
int db_batch_flush(db *d);

/* Drops the queued rows (rollback). */
void db_batch_drop(db *d);

/* Registers the queues' virtual tables (tally_queue_events, _visits,
 * _rollups: eponymous, read-only, the rows queued on d) on d's
 * connection.  Returns 0 or -1 with a message in err. */
int db_batch_register(db *d, char *err, size_t errlen);

/* Steps st (NULL allowed: returns -1) expecting SQLITE_DONE, resets it;
 * logs and returns -1 otherwise. */
int db_step_done(db *d, sqlite3_stmt *st, const char *what);

/* Prepares sql (a constant) on d after writing the queued rows (so the
 * statement sees them).  Returns the statement (the caller finalizes it)
 * or NULL, the error logged with what. */
sqlite3_stmt *db_prep(db *d, const char *sql, const char *what);

/* Steps st to its end, collecting the first ncols (1 or 2) integer
 * columns of every row into a malloc'd *out (ncols values a row, row
 * after row; the caller frees it; NULL when there is none) and the row
 * count into *n; resets st (the caller finalizes or reuses it).  Returns
 * 0, or -1 (logged with what; *out NULL, *n 0). */
int db_step_ints(db *d, sqlite3_stmt *st, int ncols, int64_t **out,
                 size_t *n, const char *what);

/* Logs the handle's last error with a short context. */
void db_log_error(db *d, const char *what);

/* Creates or migrates the schema (db_schema.c).  Returns 0 or -1 with a
 * message in err. */
int db_schema_migrate(db *d, char *err, size_t errlen);

/* Recreates the triggers that carry rollup_hourly changes into
 * rollup_daily below hour daily_h and rollup_daily changes into
 * rollup_monthly below day monthly_d (db_schema.c), inside the caller's
 * transaction.  Returns 0 or -1 (logged). */
int db_tier_triggers(db *d, int64_t daily_h, int64_t monthly_d);

/* Reloads d's set of sealed days from sealed_days (db_seal.c).  Returns
 * 0 or -1. */
int db_seal_reload(db *d);

/* Returns the schema version (PRAGMA user_version), or -1. */
int db_schema_version(db *d);

#endif
