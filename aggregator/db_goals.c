/* db_goals.c -- the goals and key_sites tables, site add/remove; see
 * goals.h. */
#include "aggregator/db_int.h"
#include "aggregator/db_seal.h"
#include "aggregator/goals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
db_goals_init(db *d)
{
    return sqlite3_exec(d->h,
        "CREATE TABLE IF NOT EXISTS goals("
        "  id INTEGER PRIMARY KEY,"
        "  site_id INTEGER NOT NULL,"
        "  kind INTEGER NOT NULL,"
        "  value TEXT NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  UNIQUE(site_id, kind, value));"
        "CREATE TABLE IF NOT EXISTS key_sites("
        "  key_id INTEGER NOT NULL,"
        "  site_id INTEGER NOT NULL,"
        "  PRIMARY KEY(key_id, site_id)) WITHOUT ROWID;",
        NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int
db_goals_open(const char *path, db **out, char *err, size_t errlen)
{
    return db_open_side(path, db_goals_init, "goals", out, err, errlen);
}

/* Prepares sql; NULL with the error logged. */
static sqlite3_stmt *
dbg_prep(db *d, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        db_log_error(d, "prepare");
        return NULL;
    }
    return st;
}

/* Steps a statement expecting DONE, finalizes it; changes or -1. */
static int64_t
dbg_done(db *d, sqlite3_stmt *st, const char *what)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, what);
        return -1;
    }
    return sqlite3_changes64(d->h);
}

int
db_site_upsert(db *d, const char *domain, const char *tz)
{
    sqlite3_stmt *st = dbg_prep(d, "UPDATE sites SET timezone = ?2 WHERE domain = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tz, -1, SQLITE_STATIC);
    int64_t n = dbg_done(d, st, "update site");
    if (n != 0)
        return n < 0 ? -1 : 0;
    st = dbg_prep(d, "INSERT INTO sites(domain, timezone) VALUES(?1, ?2)");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tz, -1, SQLITE_STATIC);
    return dbg_done(d, st, "add site") == 1 ? 1 : -1;
}

int
db_site_delete_in_tx(db *d, const char *domain)
{
    int64_t id;
    int found = db_site_find(d, domain, &id);
    if (found <= 0)
        return found;
    if (db_seal_drop(d, id, INT64_MIN, INT64_MAX, NULL) < 0)
        return -1;
    static const char *const del[] = {
        "DELETE FROM events WHERE site_id = ?1",
        "DELETE FROM visits WHERE site_id = ?1",
        "DELETE FROM rollup_hourly WHERE site_id = ?1",
        "DELETE FROM goals WHERE site_id = ?1",
        "DELETE FROM key_sites WHERE site_id = ?1",
        "DELETE FROM sites WHERE id = ?1",
    };
    for (size_t i = 0; i < sizeof(del) / sizeof(del[0]); i++) {
        sqlite3_stmt *st = dbg_prep(d, del[i]);
        if (st)
            sqlite3_bind_int64(st, 1, id);
        if (dbg_done(d, st, "delete site") < 0)
            return -1;
    }
    /* ids cached by this handle may name the deleted site */
    if (d->sites)
        sc_clear(d->sites);
    return 1;
}

int
db_site_delete(db *d, const char *domain)
{
    if (sqlite3_exec(d->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        db_log_error(d, "begin");
        return -1;
    }
    int r = db_site_delete_in_tx(d, domain);
    if (r <= 0) {
        sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    if (sqlite3_exec(d->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_log_error(d, "commit");
        sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 1;
}

int
db_sites_list(db *d, int (*fn)(void *ctx, int64_t id, const char *domain,
                               const char *tz), void *ctx)
{
    sqlite3_stmt *st = dbg_prep(d, "SELECT id, domain, timezone FROM sites ORDER BY domain");
    if (st == NULL)
        return -1;
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out = fn(ctx, sqlite3_column_int64(st, 0),
                 (const char *)sqlite3_column_text(st, 1),
                 (const char *)sqlite3_column_text(st, 2));
        if (out != 0)
            break;
    }
    if (out == 0 && rc != SQLITE_DONE) {
        db_log_error(d, "list sites");
        out = -1;
    }
    sqlite3_finalize(st);
    return out;
}

int
db_goal_add(db *d, int64_t site_id, enum goal_kind kind, const char *value,
            int64_t now, int64_t *id)
{
    sqlite3_stmt *st = dbg_prep(d, "INSERT INTO goals(site_id, kind, value, created)"
                                " VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site_id);
    sqlite3_bind_int(st, 2, kind);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    int64_t n = dbg_done(d, st, "add goal");
    if (n < 0)
        return -1;
    st = dbg_prep(d, "SELECT id FROM goals WHERE site_id = ?1 AND kind = ?2 AND value = ?3");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site_id);
    sqlite3_bind_int(st, 2, kind);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? (n == 1) : -1;
}

int
db_goal_remove(db *d, int64_t site_id, int64_t id)
{
    sqlite3_stmt *st = dbg_prep(d, "DELETE FROM goals WHERE site_id = ?1 AND id = ?2");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site_id);
    sqlite3_bind_int64(st, 2, id);
    int64_t n = dbg_done(d, st, "remove goal");
    return n < 0 ? -1 : n > 0;
}

int
db_goal_each(db *d, int64_t site_id,
             int (*fn)(void *ctx, int64_t id, int kind, const char *value),
             void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, "SELECT id, kind, value FROM goals WHERE site_id = ?1"
                           " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return strstr(sqlite3_errmsg(d->h), "no such table") ? 0 : -1;
    sqlite3_bind_int64(st, 1, site_id);
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                 (const char *)sqlite3_column_text(st, 2));
        if (out != 0)
            break;
    }
    if (out == 0 && rc != SQLITE_DONE) {
        db_log_error(d, "list goals");
        out = -1;
    }
    sqlite3_finalize(st);
    return out;
}

int
db_key_site_add(db *d, int64_t key_id, int64_t site_id)
{
    sqlite3_stmt *st = dbg_prep(d, "INSERT OR IGNORE INTO key_sites(key_id, site_id)"
                                " VALUES(?1, ?2)");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_int64(st, 2, site_id);
    return dbg_done(d, st, "scope key") < 0 ? -1 : 0;
}

int
db_key_site_allowed(db *d, int64_t key_id, int64_t site_id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, "SELECT COUNT(*), TOTAL(site_id = ?2) FROM key_sites"
                           " WHERE key_id = ?1", -1, &st, NULL) != SQLITE_OK)
        return strstr(sqlite3_errmsg(d->h), "no such table") ? 1 : -1;
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_int64(st, 2, site_id);
    int out = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        out = sqlite3_column_int64(st, 0) == 0 || sqlite3_column_double(st, 1) > 0;
    sqlite3_finalize(st);
    return out;
}
