/* db_ctl.c -- see db_ctl.h.  Statements are constants prepared per call
 * (admin changes are rare); values are always bound. */
#include "aggregator/db_ctl.h"
#include "aggregator/db_int.h"
#include "aggregator/goals.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <string.h>

#define CTL_KEEP_MS (7LL * 86400 * 1000)

static sqlite3_stmt *
ctl_prep(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("db: ctl: prepare: %s", sqlite3_errmsg(d->h));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Steps st to completion, finalizes it.  Returns 0 or -1 (logged). */
static int
ctl_done(db *d, sqlite3_stmt *st, const char *what)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("db: ctl: %s: %s", what, sqlite3_errmsg(d->h));
        return -1;
    }
    return 0;
}

static int
ctl_exec(db *d, const char *sql)
{
    return ctl_done(d, ctl_prep(d, sql), sql);
}

int
db_ctl_init(db *d)
{
    if (db_goals_init(d) != 0 || db_web_init(d) != 0)
        return -1;
    return ctl_exec(d, "CREATE TABLE IF NOT EXISTS ctl_applied("
                       " ms INTEGER NOT NULL, seq INTEGER NOT NULL,"
                       " status INTEGER NOT NULL, obj INTEGER NOT NULL,"
                       " PRIMARY KEY(ms, seq)) WITHOUT ROWID");
}

/* 1 when api key id exists, 0 not, -1. */
static int
ctl_key_exists(db *d, int64_t id)
{
    sqlite3_stmt *st = ctl_prep(d, "SELECT 1 FROM api_keys WHERE id = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Found/not found/error of a db_* call returning 1, 0, -1. */
static int
ctl_found(int r)
{
    return r < 0 ? -1 : r ? CTL_DONE : CTL_NOTFOUND;
}

/* The command itself.  Returns a status or -1. */
static int
ctl_run(db *d, const ctl_cmd *c, int64_t *obj)
{
    int64_t sid = 0;
    int r;
    char err[128];
    switch (c->verb) {
    case CTL_SITE_ADD:
        r = db_site_upsert(d, c->site, c->tz);
        return r < 0 ? -1 : r ? CTL_DONE : CTL_EXISTS;
    case CTL_SITE_REMOVE:
        return ctl_found(db_site_delete_in_tx(d, c->site));
    case CTL_GOAL_ADD:
        if (goal_validate((enum goal_kind)c->kind, c->value, err, sizeof(err)) != 0)
            return CTL_INVALID;
        if ((r = db_site_find(d, c->site, &sid)) <= 0)
            return r < 0 ? -1 : CTL_NOTFOUND;
        r = db_goal_add(d, sid, (enum goal_kind)c->kind, c->value, c->t, obj);
        return r < 0 ? -1 : r ? CTL_DONE : CTL_EXISTS;
    case CTL_GOAL_REMOVE:
        if ((r = db_site_find(d, c->site, &sid)) <= 0)
            return r < 0 ? -1 : CTL_NOTFOUND;
        return ctl_found(db_goal_remove(d, sid, c->id));
    case CTL_KEY_ADD: {
        int64_t sids[CTL_SITES_MAX];
        for (size_t i = 0; i < c->nsites; i++)
            if ((r = db_site_find(d, c->sites[i], &sids[i])) <= 0)
                return r < 0 ? -1 : CTL_NOTFOUND;
        if (db_key_add(d, c->hash, c->name, c->t, obj) != 0)
            return -1;
        for (size_t i = 0; i < c->nsites; i++)
            if (db_key_site_add(d, *obj, sids[i]) != 0)
                return -1;
        return CTL_DONE;
    }
    case CTL_KEY_REVOKE:
        return ctl_found(db_key_revoke(d, c->id, c->t));
    case CTL_KEY_SCOPE:
        if ((r = db_site_find(d, c->site, &sid)) <= 0
            || (r = ctl_key_exists(d, c->id)) <= 0)
            return r < 0 ? -1 : CTL_NOTFOUND;
        return db_key_site_add(d, c->id, sid) == 0 ? CTL_DONE : -1;
    case CTL_USER_ADD:
        r = db_user_add(d, c->name, c->pwhash, c->t, obj);
        return r < 0 ? -1 : r ? CTL_EXISTS : CTL_DONE;
    case CTL_USER_PASSWD:
        return ctl_found(db_user_set_hash(d, c->name, c->pwhash));
    case CTL_USER_REMOVE:
        return ctl_found(db_user_remove(d, c->name));
    case CTL_SHARE_ADD:
        return db_share_add(d, c->hash, c->site, c->t, obj) == 0 ? CTL_DONE : -1;
    case CTL_SHARE_REVOKE:
        return ctl_found(db_share_revoke(d, c->id, c->t));
    default:
        return CTL_INVALID;
    }
}

int
db_ctl_apply(db *d, uint64_t ms, uint64_t seq, const ctl_cmd *c, int64_t *obj)
{
    *obj = 0;
    int status = CTL_INVALID;
    if (c != NULL) {
        if (ctl_exec(d, "SAVEPOINT ctl_entry") != 0)
            return -1;
        status = ctl_run(d, c, obj);
        int code = sqlite3_extended_errcode(d->h) & 0xff;
        if (status < 0 && code != SQLITE_CONSTRAINT) {
            ctl_exec(d, "ROLLBACK TO ctl_entry");
            ctl_exec(d, "RELEASE ctl_entry");
            return -1;
        }
        if (status < 0 || status == CTL_INVALID) {
            /* the tables refuse it: the same on every replica */
            *obj = 0;
            status = CTL_INVALID;
            if (ctl_exec(d, "ROLLBACK TO ctl_entry") != 0)
                return -1;
        }
        if (ctl_exec(d, "RELEASE ctl_entry") != 0)
            return -1;
    }
    sqlite3_stmt *st = ctl_prep(d, "INSERT OR REPLACE INTO ctl_applied(ms, seq,"
                                " status, obj) VALUES(?1, ?2, ?3, ?4)");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)ms);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    sqlite3_bind_int(st, 3, status);
    sqlite3_bind_int64(st, 4, *obj);
    if (ctl_done(d, st, "record outcome") != 0)
        return -1;
    st = ctl_prep(d, "DELETE FROM ctl_applied WHERE ms < ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)ms - CTL_KEEP_MS);
    if (ctl_done(d, st, "prune outcomes") != 0)
        return -1;
    return status;
}

int
db_ctl_result(db *d, uint64_t ms, uint64_t seq, int *status, int64_t *obj)
{
    sqlite3_stmt *st = ctl_prep(d, "SELECT status, obj FROM ctl_applied"
                                " WHERE ms = ?1 AND seq = ?2");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)ms);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *status = sqlite3_column_int(st, 0);
        *obj = sqlite3_column_int64(st, 1);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        log_error("db: ctl: read outcome: %s", sqlite3_errmsg(d->h));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}
