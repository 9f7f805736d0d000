/* db_streams.c -- see db_streams.h.  Statements are constants, prepared
 * per call (a few per committed transaction); values are always bound. */
#include "aggregator/db_streams.h"
#include "aggregator/db_int.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3_stmt *
streams_prep(db *d, const char *sql)
{
    return db_prep(d, sql, "source_pos: prepare");
}

int
db_streams_init(db *d)
{
    sqlite3_stmt *st = streams_prep(d,
        "CREATE TABLE IF NOT EXISTS source_pos("
        " stream TEXT PRIMARY KEY,"
        " last_id TEXT NOT NULL,"
        " applied INTEGER NOT NULL,"
        " ahead TEXT NOT NULL DEFAULT '') WITHOUT ROWID");
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("db: create source_pos: %s", sqlite3_errmsg(d->h));
        return -1;
    }
    return 0;
}

int
db_streams_get(db *d, const char *stream, char *id, size_t cap,
               uint64_t *applied, char **ahead)
{
    snprintf(id, cap, "0-0");
    *applied = 0;
    *ahead = NULL;
    sqlite3_stmt *st = streams_prep(d,
        "SELECT last_id, applied, ahead FROM source_pos WHERE stream = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(id, cap, "%s", v ? v : "0-0");
        *applied = (uint64_t)sqlite3_column_int64(st, 1);
        const char *a = (const char *)sqlite3_column_text(st, 2);
        *ahead = strdup(a ? a : "");
        found = *ahead ? 1 : -1;
    } else if (rc != SQLITE_DONE) {
        log_error("db: read source_pos: %s", sqlite3_errmsg(d->h));
        found = -1;
    }
    sqlite3_finalize(st);
    if (found == 0 && (*ahead = strdup("")) == NULL)
        found = -1;
    return found;
}

int
db_streams_set(db *d, const char *stream, const char *id, uint64_t applied,
               const char *ahead)
{
    sqlite3_stmt *st = streams_prep(d,
        "INSERT OR REPLACE INTO source_pos(stream, last_id, applied, ahead)"
        " VALUES (?1, ?2, ?3, ?4)");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)applied);
    sqlite3_bind_text(st, 4, ahead ? ahead : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("db: write source_pos: %s", sqlite3_errmsg(d->h));
        return -1;
    }
    return 0;
}

int
db_streams_each(db *d,
                int (*fn)(void *ctx, const char *stream, const char *id,
                          uint64_t applied),
                void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->h, "SELECT stream, last_id, applied FROM"
                           " source_pos ORDER BY stream", -1, &st, NULL)
        != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;                      /* no table: no rows */
    }
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(ctx, (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1),
                 (uint64_t)sqlite3_column_int64(st, 2));
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        log_error("db: list source_pos: %s", sqlite3_errmsg(d->h));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}
