/*
 * db_seal.h -- sealed days: whole (site, UTC day)s of raw events and
 * visits stored as column blocks (colblock.h) instead of rows.
 *
 * WHY
 *
 * A filtered Stats API query reads raw events.  As SQLite rows (43 bytes
 * an event, 150-450 ns to scan and join one) a year of a busy site takes
 * seconds; as column blocks it takes ~12 bytes an event and decodes at
 * 50-78 M values/s.  Once a day is over and its visits are finished, its
 * events no longer change, so `compact` (and serve in its idle time)
 * seals it: one transaction reads the day's rows (events with ts in the
 * day, visits with start_ts in it), writes the blocks and deletes the
 * rows.
 *
 * THE TABLE (schema v4, docs/storage.md)
 *
 *   sealed_days(site_id, day, ev_n, ev_last_ts, ev_last_seq, vi_n,
 *               vi_min_id, vi_max_id)
 *     PRIMARY KEY(site_id, day)
 *   sealed_cols(site_id, day, part, col, data)
 *     PRIMARY KEY(site_id, day, part, col)
 *
 * day is days since the epoch (UTC); ev_n the number of events, (ev_last_ts,
 * ev_last_seq) the newest one's key (0, -1 when none); vi_n the number of
 * visits, ids vi_min_id..vi_max_id (not necessarily all of them).  Each
 * column of a sealed day is one sealed_cols row whose data is a column
 * block (colblock.h) of one column: part 0, col c (enum dbs_col) holds
 * ev_n values, the events in (ts, seq) order; part 1, col c (enum
 * dbv_col) vi_n values, the visits in id order.  One row per column, so
 * a query reads (and checksums) only the columns it needs.  The DBS_V_*
 * columns copy the event's visit (visits.entry_page_id, exit_page_id,
 * attrs_id; 0 when the visit row is missing), as it was when the day was
 * sealed.  A day is sealed iff it has a sealed_days row; it then has
 * exactly DBS_NCOLS + DBV_NCOLS sealed_cols rows.
 *
 * INVARIANTS
 *
 *   - A (site, day) has rows in `events` or a block, never both.
 *   - A day is sealed only when it ended at least `seal-after` days
 *     before the newest event (meta hwm_ms) and every visit with an event
 *     on it ended more than an hour before hwm_ms: its events and its
 *     events' visits are final.
 *   - Whatever writes an event of a sealed day, or a visit having events
 *     on one (a late event, an import, a purge), unseals the day first in
 *     the same transaction (db_seal_touch): the block becomes rows again,
 *     byte for byte the rows it was made of.
 *   - A visit is sealed with the day its start_ts falls in when it also
 *     ends that day; a visit crossing midnight stays a row.  So every
 *     visit of a sealed day's events is a row or in that day's block, the
 *     visits starting on a sealed day are its block's plus rows, and an
 *     unsealed day's events find their visits as rows.
 */
#ifndef TALLY_AGG_DB_SEAL_H
#define TALLY_AGG_DB_SEAL_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

#define DBS_DAY_MS 86400000LL

/* The columns of a sealed day's block. */
enum dbs_col {
    DBS_TS = 0, DBS_SEQ, DBS_VISITOR, DBS_VISIT, DBS_NAME, DBS_PAGE,
    DBS_HOST, DBS_ATTRS, DBS_PROPS, DBS_REVENUE, DBS_FLAGS,
    DBS_V_ENTRY, DBS_V_EXIT, DBS_V_ATTRS,
    DBS_NCOLS
};

/* The columns of a sealed day's visits block. */
enum dbv_col {
    DBV_ID = 0, DBV_VISITOR, DBV_START, DBV_END, DBV_ENTRY, DBV_EXIT,
    DBV_ATTRS, DBV_PAGEVIEWS, DBV_EVENTS, DBV_BOUNCE,
    DBV_NCOLS
};

/* A decoded sealed day (its events or its visits): col[c] holds n values
 * when bit c of the mask given to db_seal_load was set, else NULL.  With
 * DBS_WANT_VIX in the mask (events), vix[i] is row i's visitor as a dense
 * id < vn (equal ids, equal visitors; ids of one day only), or vix is
 * NULL when the column is not dictionary-coded.  Owned by the caller;
 * free with db_seal_day_free. */
typedef struct {
    int64_t   site, day;
    size_t    n;
    int64_t  *col[DBS_NCOLS];
    uint32_t *vix;
    size_t    vn;
} db_seal_day;

#define DBS_WANT_VIX (1u << 31)

/* Seals (site, day) on a DB_RW handle inside the caller's transaction:
 * writes the block and deletes the rows.  Returns 1 sealed, 0 nothing to
 * do (no rows, or already sealed), -1 error (logged). */
int db_seal_day_do(db *d, int64_t site, int64_t day);

/* Unseals (site, day) inside the caller's transaction: the rows come back
 * and the block goes.  Returns 1 unsealed, 0 not sealed, -1 error. */
int db_seal_unseal(db *d, int64_t site, int64_t day);

/* Unseals every sealed day of site in [day_lo, day_hi) (all of them:
 * INT64_MIN, INT64_MAX).  Returns the number unsealed or -1. */
int64_t db_seal_unseal_range(db *d, int64_t site, int64_t day_lo,
                             int64_t day_hi);

/* The write hook: unseals (site, day) for every day in [day_lo, day_hi]
 * that is sealed.  Cheap when none is (an in-memory set, loaded at open
 * and kept by this file).  Returns 0 or -1. */
int db_seal_touch(db *d, int64_t site, int64_t day_lo, int64_t day_hi);

/* 1 when (site, day) is sealed, else 0. */
int db_seal_is(const db *d, int64_t site, int64_t day);

/* The sealed days of site in [day_lo, day_hi), ascending: *days is
 * malloc'd (caller frees; NULL when *n is 0).  Returns 0 or -1. */
int db_seal_days(db *d, int64_t site, int64_t day_lo, int64_t day_hi,
                 int64_t **days, size_t *n);

/* Decodes the columns in mask of sealed (site, day) into *out: of its
 * events (visits == 0; bit c = enum dbs_col c) or of its visits
 * (visits == 1; enum dbv_col).  Returns 1, 0 when the day is not sealed,
 * -1 on error (a corrupt block is logged and is an error). */
int db_seal_load(db *d, int64_t site, int64_t day, int visits,
                 uint32_t mask, db_seal_day *out);

void db_seal_day_free(db_seal_day *x);

/* The write hook for a visit known by id only (db_visit_get found no
 * row): unseals the sealed days of site whose visits block may hold it.
 * Returns the number unsealed or -1. */
int64_t db_seal_touch_visit(db *d, int64_t visit_id);

/* Moves (*ts, *next) -- the newest event row's time and the next free
 * seq at it -- to the newest sealed event of site when that is newer.
 * Returns 0 or -1. */
int db_seal_last(db *d, int64_t site, int64_t *ts, int64_t *next);

/* Events (SUM(ev_n)) of site's blocks with day in [day_lo, day_hi), and
 * their visits in *visits (SUM(vi_n); visits may be NULL).  Returns the
 * event count or -1. */
int64_t db_seal_count(db *d, int64_t site, int64_t day_lo, int64_t day_hi,
                      int64_t *visits);

/* Deletes site's blocks with day in [day_lo, day_hi) (for retention and
 * site deletion: the caller deletes the rest).  Returns the number of
 * events they held, or -1; *visits (may be NULL) the visits. */
int64_t db_seal_drop(db *d, int64_t site, int64_t day_lo, int64_t day_hi,
                     int64_t *visits);

/* One idle-time step: seals up to max_days of the oldest unsealed days
 * that may be sealed (see INVARIANTS; after_days = `seal-after`, 0 = never
 * seal), each in its own transaction.  Returns the number sealed, or -1. */
int64_t db_seal_step(db *d, unsigned after_days, int max_days);

#endif
