/* db_ops.c -- operations: raw-event retention, online backup, size. */
#include "aggregator/db_int.h"
#include "aggregator/db_seal.h"

#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    db     *d;
    int64_t before;
    int     limit;
    int64_t deleted;
} db_retain_ctx;

static int
db_retain_site(void *ctx, int64_t site)
{
    db_retain_ctx *c = ctx;
    if (c->deleted >= c->limit)
        return 0;
    sqlite3_stmt *st = db_stmt(c->d, DB_ST_RETAIN_EVENTS);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, c->before);
    sqlite3_bind_int64(st, 3, c->limit - c->deleted);
    if (db_step_done(c->d, st, "retention: delete events") != 0)
        return -1;
    c->deleted += sqlite3_changes(c->d->h);
    /* whole sealed days before the cutoff (their visits ended in them);
     * the cutoff is a day boundary (pipeline_retain) */
    int64_t v = 0;
    int64_t n = db_seal_drop(c->d, site, INT64_MIN,
                             c->before / DBS_DAY_MS - (c->before % DBS_DAY_MS != 0),
                             &v);
    if (n < 0)
        return -1;
    c->deleted += n + v;
    return 0;
}

int64_t
db_retain_batch(db *d, int64_t before_ms, int limit)
{
    if (d->in_tx || db_begin(d) != 0)
        return -1;
    db_retain_ctx c = { .d = d, .before = before_ms, .limit = limit };
    if (db_sites_each(d, db_retain_site, &c) != 0)
        goto fail;
    sqlite3_stmt *st = db_stmt(d, DB_ST_RETAIN_VISITS);
    if (st == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, before_ms);
    sqlite3_bind_int64(st, 2, limit);
    if (db_step_done(d, st, "retention: delete visits") != 0)
        goto fail;
    c.deleted += sqlite3_changes(d->h);
    if (db_commit(d) != 0)
        return -1;
    return c.deleted;
fail:
    db_rollback(d);
    return -1;
}

int
db_backup(const char *src, const char *dst, char *err, size_t errlen)
{
    sqlite3 *from = NULL, *to = NULL;
    int rc = -1;
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", src,
                 from ? sqlite3_errmsg(from) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(from, 5000);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", dst,
                 to ? sqlite3_errmsg(to) : "out of memory");
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (b == NULL) {
        snprintf(err, errlen, "backup: %s", sqlite3_errmsg(to));
        goto out;
    }
    /* 1024 pages per step, so the writer is never locked out for long;
     * a step after a concurrent write restarts the copy */
    int s;
    do {
        s = sqlite3_backup_step(b, 1024);
        if (s == SQLITE_BUSY || s == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (s == SQLITE_OK || s == SQLITE_BUSY || s == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (s != SQLITE_DONE) {
        snprintf(err, errlen, "backup failed: %s", sqlite3_errstr(s));
        goto out;
    }
    rc = 0;
out:
    sqlite3_close(from);
    sqlite3_close(to);
    return rc;
}

int64_t
db_size_bytes(db *d)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(d->h, "SELECT page_count * page_size FROM"
                           " pragma_page_count(), pragma_page_size()",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}
