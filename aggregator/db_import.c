/* db_import.c -- the import tables (see db_import.h).  Created
 * idempotently, outside db_schema.c's migration chain. */
#include "aggregator/db_import.h"
#include "aggregator/crypto.h"
#include "aggregator/db_int.h"
#include "aggregator/log.h"

#include <stdlib.h>
#include <string.h>

static const char *const imp_ddl[] = {
    "CREATE TABLE IF NOT EXISTS import_secret("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " key BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS import_ledger("
    " site_id INTEGER NOT NULL,"
    " ts INTEGER NOT NULL,"
    " h INTEGER NOT NULL,"
    " PRIMARY KEY (site_id, ts, h)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS import_follow("
    " site_id INTEGER NOT NULL,"
    " path TEXT NOT NULL,"
    " dev INTEGER NOT NULL,"
    " ino INTEGER NOT NULL,"
    " offset INTEGER NOT NULL,"
    " lineno INTEGER NOT NULL,"
    " hwm_ms INTEGER NOT NULL,"
    " PRIMARY KEY (site_id, path)) WITHOUT ROWID",
};

enum {
    IMP_ST_KEY_ADD, IMP_ST_KEY_GET, IMP_ST_LEDGER_ADD, IMP_ST_FOLLOW_GET,
    IMP_ST_FOLLOW_SET, IMP_ST_COUNT
};

static const char *const imp_sql[IMP_ST_COUNT] = {
    [IMP_ST_KEY_ADD] = "INSERT OR IGNORE INTO import_secret(id, key) VALUES (1, ?)",
    [IMP_ST_KEY_GET] = "SELECT key FROM import_secret WHERE id = 1",
    [IMP_ST_LEDGER_ADD] =
        "INSERT OR IGNORE INTO import_ledger(site_id, ts, h) VALUES (?, ?, ?)",
    [IMP_ST_FOLLOW_GET] =
        "SELECT dev, ino, offset, lineno, hwm_ms FROM import_follow"
        " WHERE site_id = ? AND path = ?",
    [IMP_ST_FOLLOW_SET] =
        "INSERT OR REPLACE INTO import_follow(site_id, path, dev, ino, offset,"
        " lineno, hwm_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
};

struct db_imp {
    db           *d;
    sqlite3_stmt *st[IMP_ST_COUNT];
};

static int
imp_exec(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (db_batch_flush(d) != 0)
        return -1;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("db: import tables: %s", sqlite3_errmsg(d->h));
        return -1;
    }
    return 0;
}

void
db_imp_close(db_imp *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < IMP_ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    free(s);
}

/* Steps st expecting SQLITE_DONE and resets it.  0 or -1 (logged). */
static int
imp_done(db_imp *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_error("db: import: %s: %s", what, sqlite3_errmsg(s->d->h));
        return -1;
    }
    return 0;
}

db_imp *
db_imp_open(db *d, unsigned char key[DB_IMP_KEY_SIZE])
{
    for (size_t i = 0; i < sizeof(imp_ddl) / sizeof(imp_ddl[0]); i++)
        if (imp_exec(d, imp_ddl[i]) != 0)
            return NULL;
    db_imp *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->d = d;
    for (int i = 0; i < IMP_ST_COUNT; i++) {
        if (sqlite3_prepare_v3(d->h, imp_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK) {
            log_error("db: import: prepare: %s", sqlite3_errmsg(d->h));
            db_imp_close(s);
            return NULL;
        }
    }
    unsigned char fresh[DB_IMP_KEY_SIZE];
    crypto_random(fresh, sizeof(fresh));
    sqlite3_stmt *st = s->st[IMP_ST_KEY_ADD];
    sqlite3_bind_blob(st, 1, fresh, sizeof(fresh), SQLITE_TRANSIENT);
    crypto_wipe(fresh, sizeof(fresh));
    if (imp_done(s, st, "store ledger key") != 0) {
        db_imp_close(s);
        return NULL;
    }
    st = s->st[IMP_ST_KEY_GET];
    int rc = sqlite3_step(st);
    int ok = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == DB_IMP_KEY_SIZE;
    if (ok)
        memcpy(key, sqlite3_column_blob(st, 0), DB_IMP_KEY_SIZE);
    sqlite3_reset(st);
    if (!ok) {
        log_error("db: import: the ledger key in import_secret is missing or"
                  " not %d bytes", DB_IMP_KEY_SIZE);
        db_imp_close(s);
        return NULL;
    }
    return s;
}

int
db_imp_ledger_add(db_imp *s, int64_t site, int64_t ts, uint64_t h)
{
    sqlite3_stmt *st = s->st[IMP_ST_LEDGER_ADD];
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_int64(st, 3, (int64_t)h);
    if (imp_done(s, st, "ledger") != 0)
        return -1;
    return sqlite3_changes(s->d->h) > 0;
}

int
db_imp_follow_get(db_imp *s, int64_t site, const char *path, db_imp_pos *out)
{
    sqlite3_stmt *st = s->st[IMP_ST_FOLLOW_GET];
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    memset(out, 0, sizeof(*out));
    if (rc == SQLITE_ROW) {
        out->dev = (uint64_t)sqlite3_column_int64(st, 0);
        out->ino = (uint64_t)sqlite3_column_int64(st, 1);
        out->offset = (uint64_t)sqlite3_column_int64(st, 2);
        out->lineno = (uint64_t)sqlite3_column_int64(st, 3);
        out->hwm_ms = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_error("db: import: read follow position: %s", sqlite3_errmsg(s->d->h));
        return -1;
    }
    return rc == SQLITE_ROW;
}

int
db_imp_follow_set(db_imp *s, int64_t site, const char *path,
                  const db_imp_pos *p)
{
    sqlite3_stmt *st = s->st[IMP_ST_FOLLOW_SET];
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (int64_t)p->dev);
    sqlite3_bind_int64(st, 4, (int64_t)p->ino);
    sqlite3_bind_int64(st, 5, (int64_t)p->offset);
    sqlite3_bind_int64(st, 6, (int64_t)p->lineno);
    sqlite3_bind_int64(st, 7, p->hwm_ms);
    return imp_done(s, st, "write follow position");
}
