/* db_pos.c -- the drain's position per spool segment. */
#include "aggregator/db_int.h"

int
db_pos_get(db *d, const char *segment, uint64_t *offset, int *finished)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_POS_GET);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *offset = (uint64_t)sqlite3_column_int64(st, 0);
        *finished = sqlite3_column_int(st, 1);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        db_log_error(d, "read spool_pos");
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

int
db_pos_set(db *d, const char *segment, uint64_t offset, int finished)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_POS_SET);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)offset);
    sqlite3_bind_int(st, 3, finished ? 1 : 0);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "write spool_pos");
        return -1;
    }
    return 0;
}

int
db_pos_delete(db *d, const char *segment)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_POS_DEL);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "delete spool_pos");
        return -1;
    }
    return 0;
}

int
db_pos_each(db *d, db_pos_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_POS_ALL);
    if (st == NULL)
        return -1;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(ctx, (const char *)sqlite3_column_text(st, 0),
                 (uint64_t)sqlite3_column_int64(st, 1),
                 sqlite3_column_int(st, 2));
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        db_log_error(d, "list spool_pos");
        ret = -1;
    }
    sqlite3_reset(st);
    return ret;
}
