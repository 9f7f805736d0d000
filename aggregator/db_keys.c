/* db_keys.c -- API key hashes.  The key itself is never stored. */
#include "aggregator/db_int.h"
#include "aggregator/crypto.h"

int
db_key_add(db *d, const unsigned char hash[DB_HASH_SIZE], const char *name,
           int64_t created, int64_t *id)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_KEY_ADD);
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, created);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "insert api key");
        return -1;
    }
    *id = sqlite3_last_insert_rowid(d->h);
    return 0;
}

int
db_key_find(db *d, const unsigned char hash[DB_HASH_SIZE], int64_t *id)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_KEY_FIND);
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, hash, DB_HASH_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        /* the index lookup found it; compare again in constant time so
         * that nothing but "equal" is ever accepted */
        const void *h = sqlite3_column_blob(st, 1);
        if (h != NULL && sqlite3_column_bytes(st, 1) == DB_HASH_SIZE
            && crypto_equal32(h, hash)) {
            if (id)
                *id = sqlite3_column_int64(st, 0);
            found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        db_log_error(d, "find api key");
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

int
db_key_each(db *d, int (*fn)(void *ctx, const db_key_info *k), void *ctx)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_KEY_ALL);
    if (st == NULL)
        return -1;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_key_info k = {
            .id = sqlite3_column_int64(st, 0),
            .name = (const char *)sqlite3_column_text(st, 1),
            .created = sqlite3_column_int64(st, 2),
            .revoked = sqlite3_column_int64(st, 3),
        };
        if (k.name == NULL)
            k.name = "";
        if ((ret = fn(ctx, &k)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        db_log_error(d, "list api keys");
        ret = -1;
    }
    sqlite3_reset(st);
    return ret;
}

int
db_key_revoke(db *d, int64_t id, int64_t now)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_KEY_REVOKE);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now > 0 ? now : 1);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "revoke api key");
        return -1;
    }
    return sqlite3_changes(d->h) > 0 ? 1 : 0;
}
