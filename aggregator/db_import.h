/*
 * db_import.h -- the tables of `tallyd import` (aggregator/import*.c),
 * created idempotently by db_import_open (CREATE ... IF NOT EXISTS),
 * outside db_schema.c's migration chain:
 *
 *   import_secret(id = 1, key BLOB)      16 random bytes made once per
 *                                        database: the key of the ledger
 *                                        hashes (never leaves the file)
 *   import_ledger(site_id, ts, h)        one row per imported log line:
 *                                        ts = the line's time (ms), h =
 *                                        SipHash-2-4 under the key of
 *                                        (line bytes, occurrence number of
 *                                        identical lines in its file);
 *                                        WITHOUT ROWID, key (site_id, ts,
 *                                        h) so inserts in time order append
 *   import_follow(site_id, path, dev, ino, offset, lineno, hwm_ms)
 *                                        where `import --follow` of path
 *                                        for site is (and the newest event
 *                                        time it stored), written in the
 *                                        transaction of the rows
 *
 * Statements are prepared once per handle (db_imp) and finalized by
 * db_imp_close, which must run before db_close.  Values are always bound.
 */
#ifndef TALLY_AGG_DB_IMPORT_H
#define TALLY_AGG_DB_IMPORT_H

#include "aggregator/db.h"

#include <stdint.h>

#define DB_IMP_KEY_SIZE 16

typedef struct db_imp db_imp;

/* Creates the import tables if missing and the ledger key if none (on a
 * DB_RW handle, outside a transaction), prepares the statements and
 * copies the ledger key into key.  Returns the handle (close with
 * db_imp_close before db_close(d)) or NULL (logged). */
db_imp *db_imp_open(db *d, unsigned char key[DB_IMP_KEY_SIZE]);
void db_imp_close(db_imp *s);

/* Records line (ts, h) of site in the ledger inside the open
 * transaction.  Returns 1 when it is new, 0 when it was there already (a
 * duplicate: the caller stores nothing for it), -1 on error. */
int db_imp_ledger_add(db_imp *s, int64_t site, int64_t ts, uint64_t h);

/* A follower's stored position. */
typedef struct {
    uint64_t dev, ino, offset, lineno;
    int64_t  hwm_ms;        /* newest event time stored by the follower */
} db_imp_pos;

/* Reads the position of (site, path).  Returns 1 found, 0 none, -1. */
int db_imp_follow_get(db_imp *s, int64_t site, const char *path,
                      db_imp_pos *out);

/* Writes the position of (site, path) inside the open transaction.
 * Returns 0 or -1. */
int db_imp_follow_set(db_imp *s, int64_t site, const char *path,
                      const db_imp_pos *p);

#endif
