/* db_stats.c -- aggregate queries over raw events for the Stats API. */
#include "aggregator/db_int.h"

#include <stdlib.h>
#include <string.h>

int
db_site_find(db *d, const char *domain, int64_t *id)
{
    sqlite3_stmt *st = db_stmt(d, DB_ST_SITE_GET);
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        db_log_error(d, "find site");
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

void
db_stat_rows_free(db_stat_row *rows, size_t n)
{
    if (rows == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(rows[i].label);
    free(rows);
}

/* Runs one stats statement and collects its rows (see db_stats). */
static int
db_stats_run(db *d, sqlite3_stmt *st, enum db_group g, db_stat_row **rows,
             size_t *n)
{

    db_stat_row *out = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            db_stat_row *p = realloc(out, ncap * sizeof(*p));
            if (p == NULL)
                goto fail;
            out = p;
            cap = ncap;
        }
        db_stat_row *r = &out[cnt];
        memset(r, 0, sizeof(*r));
        if (g == DB_GROUP_DAY) {
            r->day = sqlite3_column_int64(st, 0);
        } else {
            const char *s = (const char *)sqlite3_column_text(st, 0);
            r->label = strdup(s ? s : "");
            if (r->label == NULL)
                goto fail;
        }
        cnt++;
        r->visitors = (uint64_t)sqlite3_column_int64(st, 1);
        r->pageviews = (uint64_t)sqlite3_column_int64(st, 2);
        r->events = (uint64_t)sqlite3_column_int64(st, 3);
    }
    if (rc != SQLITE_DONE) {
        db_log_error(d, "stats query");
        goto fail;
    }
    sqlite3_reset(st);
    *rows = out;
    *n = cnt;
    return 0;
fail:
    sqlite3_reset(st);
    db_stat_rows_free(out, cnt);
    return -1;
}

int
db_stats(db *d, int64_t site_id, int64_t from_ms, int64_t to_ms,
         enum db_group g, db_stat_row **rows, size_t *n)
{
    static const enum db_stmt_id ids[] = {
        [DB_GROUP_DAY] = DB_ST_RSTATS_DAY,
        [DB_GROUP_PAGE] = DB_ST_RSTATS_PAGE,
        [DB_GROUP_NAME] = DB_ST_RSTATS_NAME,
    };
    *rows = NULL;
    *n = 0;
    if ((unsigned)g > DB_GROUP_NAME)
        return -1;
    sqlite3_stmt *st = db_stmt(d, ids[g]);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site_id);
    sqlite3_bind_int64(st, 2, from_ms / 3600000);
    sqlite3_bind_int64(st, 3, to_ms / 3600000);
    return db_stats_run(d, st, g, rows, n);
}

int
db_stats_raw(db *d, int64_t site_id, int64_t from_ms, int64_t to_ms,
             enum db_group g, db_stat_row **rows, size_t *n)
{
    static const enum db_stmt_id ids[] = {
        [DB_GROUP_DAY] = DB_ST_STATS_DAY,
        [DB_GROUP_PAGE] = DB_ST_STATS_PAGE,
        [DB_GROUP_NAME] = DB_ST_STATS_NAME,
    };
    *rows = NULL;
    *n = 0;
    if ((unsigned)g > DB_GROUP_NAME)
        return -1;
    int64_t pv = db_pageview_id(d);
    if (pv < 0)
        return -1;
    sqlite3_stmt *st = db_stmt(d, ids[g]);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site_id);
    sqlite3_bind_int64(st, 2, from_ms);
    sqlite3_bind_int64(st, 3, to_ms);
    sqlite3_bind_int64(st, 4, pv ? pv : -1);
    return db_stats_run(d, st, g, rows, n);
}
