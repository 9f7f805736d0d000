/*
 * db_purge.h -- the SQL of `tallyd purge` and `tallyd sites delete`
 * (purge.h decides what to run; this file only runs it).  Every function
 * takes a DB_RW handle and, unless it says otherwise, runs inside the
 * caller's transaction (db_begin .. db_commit), so a purge is one
 * transaction: a kill at any instant leaves the old or the new state.
 *
 * Times are ms since the epoch (events.ts, visits.start_ts), hours are
 * hours since the epoch (rollup_hourly.hour).  Ranges are [lo, hi).
 * Every statement is constant; sites, prefixes and times are bound.
 */
#ifndef TALLY_AGG_DB_PURGE_H
#define TALLY_AGG_DB_PURGE_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

/* Rows a whole-site deletion removes, per table; tables that do not
 * exist in this database count 0. */
typedef struct {
    int64_t events, visits, rollups;
    int64_t goals, key_sites, shares;     /* goals.h, web share links   */
    int64_t import_ledger, import_follow; /* import.h: dedup, positions */
} db_pg_site_rows;

/* Counts (del == 0) or deletes (del == 1) every row of site (domain)
 * in every table keyed by it, the sites row last.  Returns 0 or -1. */
int db_pg_site_rows_do(db *d, int64_t site, const char *domain, int del,
                       db_pg_site_rows *n);

/* Raw events of site with lo <= ts < hi.  Returns the count or -1. */
int64_t db_pg_events_count(db *d, int64_t site, int64_t lo, int64_t hi);

/* SUM(events) of site's site-total rollup rows (dim 0) with
 * hour_lo <= hour < hour_hi: what the raw events of those hours counted
 * when they were stored.  Returns the sum or -1. */
int64_t db_pg_rollup_events(db *d, int64_t site, int64_t hour_lo,
                            int64_t hour_hi);

/* Newest event time of site, or of visits' end (0 when none); -1. */
int64_t db_pg_site_newest(db *d, int64_t site);

/* The distinct UTC days (ascending) of site's events whose pathname
 * starts with prefix (bytes).  *days is malloc'd (caller frees), *n its
 * length.  Returns 0 or -1. */
int db_pg_path_days(db *d, int64_t site, const char *prefix,
                    int64_t **days, size_t *n);

/* Visits of site that have events on both sides of t (start_ts < t <=
 * end_ts): returns 1 with the earliest start and latest end among them,
 * 0 when there are none, -1 on error. */
int db_pg_crossing(db *d, int64_t site, int64_t t, int64_t *min_start,
                   int64_t *max_end);

/* Deletes site's raw events with ts < t, or those whose pathname
 * starts with prefix.  Return the number deleted or -1. */
int64_t db_pg_events_delete_before(db *d, int64_t site, int64_t t);
int64_t db_pg_events_delete_path(db *d, int64_t site, const char *prefix);

/* Counts site's raw events whose pathname starts with prefix, or -1. */
int64_t db_pg_events_count_path(db *d, int64_t site, const char *prefix);

/* Deletes site's visits with lo <= start_ts < hi, and site's rollup rows
 * (all dims) with hour_lo <= hour < hour_hi.  Return the number deleted
 * or -1. */
int64_t db_pg_visits_delete(db *d, int64_t site, int64_t lo, int64_t hi);
int64_t db_pg_rollups_delete(db *d, int64_t site, int64_t hour_lo,
                             int64_t hour_hi);

/* Reads the next at most cap raw events of site with lo <= ts < hi
 * after (*ts, *seq) (start with *ts = lo - 1, *seq = 0) in (ts, seq)
 * order into out; advances (*ts, *seq) to the last one read.  Returns
 * the number read (0 at the end) or -1.  No statement stays active
 * between calls, so the caller may update the rows it read. */
int64_t db_pg_events_read(db *d, int64_t site, int64_t lo, int64_t hi,
                          int64_t *ts, int64_t *seq, db_event2 *out,
                          size_t cap);

/* Sets the visit_id of event (site, ts, seq).  Returns 0 or -1. */
int db_pg_event_set_visit(db *d, int64_t site, int64_t ts, int64_t seq,
                          int64_t visit_id);

/* Deletes dictionary rows nothing refers to any more: attrs tuples no
 * event or visit uses, then strings no event, visit, rollup row or
 * attrs tuple uses.  Only safe when no other process has the database
 * open (a running drain caches string ids).  Returns the number of
 * strings deleted (*nattrs: attrs rows) or -1. */
int64_t db_pg_dict_gc(db *d, int64_t *nattrs);

/* Makes SQLite overwrite deleted content with zeros on this handle
 * (PRAGMA secure_delete), so purged text is not left in free space.
 * Outside a transaction.  Returns 0 or -1. */
int db_pg_secure_delete(db *d);

/* Copies the WAL into the database file and truncates it (PRAGMA
 * wal_checkpoint(TRUNCATE)), so no old page images stay in the WAL.
 * Outside a transaction.  Returns 0, 1 when readers kept it from
 * finishing (it is then completed by a later checkpoint), -1 on error. */
int db_pg_checkpoint(db *d);

/* 1 when another process has this database open (it holds SQLite's
 * WAL-index "DMS" lock: a shared fcntl lock on byte 128 of the -shm
 * file, held by every connection for its lifetime; see SQLite's
 * walformat.html), with its pid in *pid; 0 when not; -1 on error.
 * Call with a transaction open, so no new connection can have read
 * the state before the caller changes it. */
int db_pg_other_process(db *d, long *pid);

#endif
