/* db_web.c -- the dashboard's tables: users, web sessions, share links
 * (see the web section of db.h).  Created idempotently by db_web_init,
 * outside db_schema.c's migration chain.  Statements are constants,
 * prepared per call (these run a few times per HTTP request at most);
 * values are always bound. */
#include "aggregator/db_int.h"
#include "aggregator/crypto.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const web_ddl[] = {
    "CREATE TABLE IF NOT EXISTS web_users("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " pwhash TEXT NOT NULL,"
    " created INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS web_sessions("
    " hash BLOB PRIMARY KEY,"
    " user_id INTEGER NOT NULL,"
    " csrf TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions(user_id)",
    "CREATE TABLE IF NOT EXISTS web_shares("
    " id INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL UNIQUE,"
    " site TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " revoked INTEGER)",
};

/* Prepares sql on d; NULL (logged) on error.  Caller finalizes. */
static sqlite3_stmt *
web_prep(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("db: web: prepare: %s", sqlite3_errmsg(d->h));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Steps st to completion and finalizes it.  Returns the number of rows
 * changed, or -1 (logged). */
static int64_t
web_done(db *d, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("db: web: %s: %s", what, sqlite3_errmsg(d->h));
        return -1;
    }
    return sqlite3_changes(d->h);
}

static int
web_hash_bytes_ok(sqlite3_stmt *st, int col, const unsigned char *hash)
{
    const void *h = sqlite3_column_blob(st, col);
    return h != NULL && sqlite3_column_bytes(st, col) == DB_HASH_SIZE
           && crypto_equal32(h, hash);
}

int
db_web_init(db *d)
{
    for (size_t i = 0; i < sizeof(web_ddl) / sizeof(web_ddl[0]); i++) {
        sqlite3_stmt *st = web_prep(d, web_ddl[i]);
        if (st == NULL || web_done(d, st, "create tables") < 0)
            return -1;
    }
    return 0;
}

int
db_web_open(const char *path, db **out, char *err, size_t errlen)
{
    return db_open_side(path, db_web_init, "web", out, err, errlen);
}

/* ---- users ---- */

int
db_user_add(db *d, const char *name, const char *pwhash, int64_t now,
            int64_t *id)
{
    sqlite3_stmt *st = web_prep(d,
        "INSERT INTO web_users(name, pwhash, created) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(name) DO NOTHING");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int64_t n = web_done(d, st, "add user");
    if (n < 0)
        return -1;
    if (n == 0)
        return 1;
    *id = sqlite3_last_insert_rowid(d->h);
    return 0;
}

int
db_user_find(db *d, const char *name, int64_t *id, char *pwhash, size_t cap)
{
    sqlite3_stmt *st = web_prep(d,
        "SELECT id, pwhash FROM web_users WHERE name = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 1);
        *id = sqlite3_column_int64(st, 0);
        snprintf(pwhash, cap, "%s", h ? h : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        log_error("db: web: find user: %s", sqlite3_errmsg(d->h));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

/* Deletes the sessions of the user named name.  0 or -1. */
static int
web_user_sessions_delete(db *d, const char *name)
{
    sqlite3_stmt *st = web_prep(d,
        "DELETE FROM web_sessions WHERE user_id NOT IN (SELECT id FROM web_users)"
        " OR user_id = (SELECT id FROM web_users WHERE name = ?1)");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return web_done(d, st, "delete sessions") < 0 ? -1 : 0;
}

int
db_user_set_hash(db *d, const char *name, const char *pwhash)
{
    sqlite3_stmt *st = web_prep(d,
        "UPDATE web_users SET pwhash = ?2 WHERE name = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_STATIC);
    int64_t n = web_done(d, st, "set password");
    if (n <= 0)
        return (int)n;
    return web_user_sessions_delete(d, name) == 0 ? 1 : -1;
}

int
db_user_remove(db *d, const char *name)
{
    sqlite3_stmt *st = web_prep(d, "DELETE FROM web_users WHERE name = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t n = web_done(d, st, "remove user");
    if (n <= 0)
        return (int)n;
    /* sessions are looked up joined with web_users, so they are dead
     * already; this only reclaims the rows */
    return web_user_sessions_delete(d, name) == 0 ? 1 : -1;
}

int
db_user_each(db *d, int64_t now, int (*fn)(void *ctx, const db_user_info *u),
             void *ctx)
{
    sqlite3_stmt *st = web_prep(d,
        "SELECT u.id, u.name, u.created, (SELECT COUNT(*) FROM web_sessions s"
        " WHERE s.user_id = u.id AND s.expires > ?1) FROM web_users u"
        " ORDER BY u.name");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        db_user_info u = {
            .id = sqlite3_column_int64(st, 0),
            .name = name ? name : "",
            .created = sqlite3_column_int64(st, 2),
            .sessions = sqlite3_column_int64(st, 3),
        };
        if ((ret = fn(ctx, &u)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        log_error("db: web: list users: %s", sqlite3_errmsg(d->h));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

/* ---- sessions ---- */

int
db_wsession_add(db *d, const unsigned char hash[DB_HASH_SIZE], int64_t user_id,
                const char *csrf, int64_t created, int64_t expires)
{
    sqlite3_stmt *st = web_prep(d,
        "INSERT INTO web_sessions(hash, user_id, csrf, created, expires)"
        " VALUES(?1, ?2, ?3, ?4, ?5)");
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, created);
    sqlite3_bind_int64(st, 5, expires);
    return web_done(d, st, "add session") == 1 ? 0 : -1;
}

int
db_wsession_find(db *d, const unsigned char hash[DB_HASH_SIZE], int64_t now,
                 int64_t *user_id, char csrf[DB_WEB_CSRF_MAX + 1])
{
    sqlite3_stmt *st = web_prep(d,
        "SELECT s.user_id, s.csrf, s.hash FROM web_sessions s"
        " JOIN web_users u ON u.id = s.user_id"
        " WHERE s.hash = ?1 AND s.expires > ?2");
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 1);
        if (c != NULL && strlen(c) <= DB_WEB_CSRF_MAX
            && web_hash_bytes_ok(st, 2, hash)) {
            *user_id = sqlite3_column_int64(st, 0);
            strcpy(csrf, c);
            found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        log_error("db: web: find session: %s", sqlite3_errmsg(d->h));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

int
db_wsession_delete(db *d, const unsigned char hash[DB_HASH_SIZE])
{
    sqlite3_stmt *st = web_prep(d, "DELETE FROM web_sessions WHERE hash = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    return web_done(d, st, "delete session") < 0 ? -1 : 0;
}

int64_t
db_wsession_purge(db *d, int64_t now)
{
    sqlite3_stmt *st = web_prep(d, "DELETE FROM web_sessions WHERE expires <= ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    return web_done(d, st, "purge sessions");
}

/* ---- share links ---- */

int
db_share_add(db *d, const unsigned char hash[DB_HASH_SIZE], const char *site,
             int64_t now, int64_t *id)
{
    sqlite3_stmt *st = web_prep(d,
        "INSERT INTO web_shares(hash, site, created) VALUES(?1, ?2, ?3)");
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (web_done(d, st, "add share link") != 1)
        return -1;
    *id = sqlite3_last_insert_rowid(d->h);
    return 0;
}

int
db_share_find(db *d, const unsigned char hash[DB_HASH_SIZE], int64_t *id,
              char *site, size_t cap)
{
    sqlite3_stmt *st = web_prep(d,
        "SELECT id, site, hash FROM web_shares WHERE hash = ?1"
        " AND revoked IS NULL");
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 1);
        if (s != NULL && strlen(s) < cap && web_hash_bytes_ok(st, 2, hash)) {
            *id = sqlite3_column_int64(st, 0);
            strcpy(site, s);
            found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        log_error("db: web: find share link: %s", sqlite3_errmsg(d->h));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

int
db_share_each(db *d, const char *site,
              int (*fn)(void *ctx, const db_share_info *s), void *ctx)
{
    sqlite3_stmt *st = web_prep(d,
        "SELECT id, site, created, revoked FROM web_shares"
        " WHERE ?1 IS NULL OR site = ?1 ORDER BY id");
    if (st == NULL)
        return -1;
    if (site)
        sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 1);
        db_share_info info = {
            .id = sqlite3_column_int64(st, 0),
            .site = s ? s : "",
            .created = sqlite3_column_int64(st, 2),
            .revoked = sqlite3_column_int64(st, 3),
        };
        if ((ret = fn(ctx, &info)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        log_error("db: web: list share links: %s", sqlite3_errmsg(d->h));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

int
db_share_revoke(db *d, int64_t id, int64_t now)
{
    sqlite3_stmt *st = web_prep(d,
        "UPDATE web_shares SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now > 0 ? now : 1);
    int64_t n = web_done(d, st, "revoke share link");
    return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/* ---- sites ---- */

int
db_site_info_each(db *d, const char *domain,
                  int (*fn)(void *ctx, const char *domain, const char *tz),
                  void *ctx)
{
    sqlite3_stmt *st = web_prep(d,
        "SELECT domain, timezone FROM sites WHERE ?1 IS NULL OR domain = ?1"
        " ORDER BY domain");
    if (st == NULL)
        return -1;
    if (domain)
        sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *dm = (const char *)sqlite3_column_text(st, 0);
        const char *tz = (const char *)sqlite3_column_text(st, 1);
        if ((ret = fn(ctx, dm ? dm : "", tz && *tz ? tz : "UTC")) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        log_error("db: web: list sites: %s", sqlite3_errmsg(d->h));
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}
