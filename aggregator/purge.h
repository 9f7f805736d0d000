/*
 * purge.h -- erasure: `tallyd purge` (a site's raw events before a day,
 * or under a path prefix, with the visits and rollups they fed rebuilt
 * from what remains) and `tallyd sites delete` (everything keyed by a
 * site).  docs/privacy.md explains both to operators.
 *
 * ONE TRANSACTION.  Each call is a single SQLite write transaction
 * (BEGIN IMMEDIATE .. COMMIT): a kill at any instant leaves either the
 * old or the new database, and readers see one or the other.  A running
 * drain waits for the write lock (SQLite's busy timeout) and retries.
 *
 * HOW A PURGE REBUILDS.  Rollup rows and visits are derived from raw
 * events by whole UTC days.  The days a purge changes (those with
 * removed events; for --before, the day it starts) are widened to
 * "windows" of whole days that no stored visit crosses (a visit with
 * events on both sides of a window edge pulls that edge out to the
 * visit's day).  Inside a window every visit and rollup row of the
 * site is deleted and re-derived from the window's remaining raw events
 * by the live ingest code (ingest_rebuild_*), so visitors per day stay
 * exact (DESIGN invariant 4).  Before touching a window the purge checks
 * that its raw events are complete (their count equals what the site
 * totals rollup counted for those hours); days whose raw events were
 * deleted by --retain-raw cannot be rebuilt, and the purge refuses.
 * --before also deletes every rollup row and visit of the site before
 * the day.
 *
 * THE LIVE DAYS.  A running tallyd (serve or drain) keeps open visits
 * and the visitor sets of the newest event's day and the day before in
 * memory.  When a purge or deletion would change anything from the
 * start of the day before the newest stored event (meta hwm_ms), it
 * runs only if no other process has the database open (checked inside
 * the transaction, db_pg_other_process); otherwise it refuses and
 * changes nothing.  With tallyd stopped, its next start rebuilds that
 * memory from the purged tables.
 *
 * NO TRACES.  The purge's connection sets PRAGMA secure_delete (deleted
 * rows are overwritten with zeros, not left in free pages) and, after
 * the commit, checkpoints and truncates the WAL, so the purged text is
 * gone from the files' bytes -- unless a reader holds an old snapshot
 * (then a later checkpoint finishes it; the report says so).
 *
 * THE DICTIONARY.  When no other process has the database open, the
 * purge and the deletion also delete the strings (paths, referrers,
 * props ...) and attribute tuples nothing refers to any more.  While
 * tallyd runs they are kept (its drain caches their ids) and the report
 * says so; running the command again with tallyd stopped removes them.
 */
#ifndef TALLY_AGG_PURGE_H
#define TALLY_AGG_PURGE_H

#include "aggregator/db.h"
#include "aggregator/db_purge.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *domain;       /* the site                              */
    int64_t     before_day;   /* --before: UTC day number, else -1     */
    const char *path;         /* --path: pathname prefix, else NULL    */
} pg_spec;

typedef struct {
    int64_t site;
    int64_t events_deleted;
    int64_t windows, days_rebuilt;        /* rebuilt windows, their days */
    int64_t first_day, last_day;          /* rebuilt days' range (UTC)   */
    int64_t events_rebuilt;               /* remaining events replayed   */
    int64_t visits_deleted, rollups_deleted;
    int64_t strings_deleted, attrs_deleted;
    long    other_pid;                    /* 0, or a process holding the
                                             database open (dictionary
                                             kept)                      */
    int     wal_kept;                     /* readers kept the WAL from
                                             being checkpointed away     */
} pg_report;

enum pg_rc {
    PG_OK = 0,
    PG_ERROR = -1,     /* database error (logged); nothing changed      */
    PG_NO_SITE = 1,    /* unknown site; nothing changed                 */
    PG_LIVE = 2,       /* would change the live days while another
                          process has the database open; nothing changed */
    PG_NO_RAW = 3      /* a day to rebuild lacks raw events (retention) */
};

/* Purges per s (exactly one of before_day >= 0 or path) on d (DB_RW, no
 * transaction open) in one transaction.  Returns PG_OK with r filled,
 * or another pg_rc with a one-line reason in msg. */
int pg_purge(db *d, const pg_spec *s, pg_report *r, char *msg,
             size_t msglen);

/* Deletes site domain and every row keyed by it in one transaction
 * (really == 0: only counts them into *n, changing nothing).  Returns
 * PG_OK, PG_NO_SITE, PG_LIVE (msg says why) or PG_ERROR.  *other_pid is
 * set as in pg_report (dictionary kept). */
int pg_site_delete(db *d, const char *domain, int really,
                   db_pg_site_rows *n, long *other_pid, char *msg,
                   size_t msglen);

/* "YYYY-MM-DD" of UTC day number day into out (11 bytes). */
void pg_day_str(int64_t day, char out[11]);

/* Parses "YYYY-MM-DD" (a valid calendar date) into a UTC day number.
 * Returns 0 or -1. */
int pg_day_parse(const char *s, int64_t *day);

#endif
