/* tdb.h -- a scratch tallyd database for the C unit tests of the db
 * layer, and the oracle they check it with: one value of plain SQL over a
 * separate read-only SQLite connection.  Header-only (static inline) so a
 * test takes what it uses. */
#ifndef TALLY_TESTS_TDB_H
#define TALLY_TESTS_TDB_H

#include "aggregator/db.h"
#include "tests/check.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The path of the database tdb_open made last (one at a time). */
static char tdb_path[64];

/* Opens a new, empty database under /tmp read-write (the caller closes
 * it with tdb_close, which also removes its files). */
static inline db *
tdb_open(void)
{
    char err[256];
    db *d = NULL;
    strcpy(tdb_path, "/tmp/tally-tdb-XXXXXX");
    int fd = mkstemp(tdb_path);
    CHECK(fd >= 0);
    close(fd);
    unlink(tdb_path);
    CHECK(db_open(tdb_path, DB_RW, &d, err, sizeof err) == 0);
    return d;
}

/* Closes d and removes the database, its WAL and its shared memory. */
static inline void
tdb_close(db *d)
{
    char cmd[256];
    db_close(d);
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", tdb_path,
             tdb_path, tdb_path);
    CHECK(system(cmd) == 0);
}

/* The first column of sql's first row as an integer (-1 when there is
 * no row), read through a fresh read-only connection to path. */
static inline int64_t
tdb_q1(const char *path, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    int64_t v = -1;
    CHECK(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

#endif
