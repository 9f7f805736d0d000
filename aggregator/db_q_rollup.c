/* db_q_rollup.c -- the rollup path of the Stats API executor: rows of
 * rollup_hourly, rollup_daily or rollup_monthly with their time bucket;
 * see db_q.h. */
#include "aggregator/db_q_int.h"

#include <string.h>

/* the rollup column holding the value of col under dim, or NULL */
static const char *
dbq_rollup_col(int dim, int col)
{
    static const struct { int dim, col; const char *expr; } map[] = {
        { DIM_PAGE, DBQ_PAGE, "k1" }, { DIM_HOSTNAME, DBQ_HOST, "k1" },
        { DIM_NAME, DBQ_NAME, "k1" }, { DIM_ENTRY_PAGE, DBQ_ENTRY, "k1" },
        { DIM_EXIT_PAGE, DBQ_EXIT, "k1" },
        { DIM_SOURCE, DBQ_ATTR0 + ATTR_SOURCE, "k1" },
        { DIM_REFERRER, DBQ_ATTR0 + ATTR_REFERRER, "k1" },
        { DIM_CHANNEL, DBQ_ATTR0 + ATTR_CHANNEL, "k1" },
        { DIM_UTM_MEDIUM, DBQ_ATTR0 + ATTR_UTM_MEDIUM, "k1" },
        { DIM_UTM_SOURCE, DBQ_ATTR0 + ATTR_UTM_SOURCE, "k1" },
        { DIM_UTM_CAMPAIGN, DBQ_ATTR0 + ATTR_UTM_CAMPAIGN, "k1" },
        { DIM_UTM_CONTENT, DBQ_ATTR0 + ATTR_UTM_CONTENT, "k1" },
        { DIM_UTM_TERM, DBQ_ATTR0 + ATTR_UTM_TERM, "k1" },
        { DIM_COUNTRY, DBQ_ATTR0 + ATTR_COUNTRY, "k1" },
        { DIM_BROWSER, DBQ_ATTR0 + ATTR_BROWSER, "k1" },
        { DIM_BROWSER_VERSION, DBQ_ATTR0 + ATTR_BROWSER, "k1" },
        { DIM_BROWSER_VERSION, DBQ_ATTR0 + ATTR_BROWSER_VERSION, "k2" },
        { DIM_OS, DBQ_ATTR0 + ATTR_OS, "k1" },
        { DIM_OS_VERSION, DBQ_ATTR0 + ATTR_OS, "k1" },
        { DIM_OS_VERSION, DBQ_ATTR0 + ATTR_OS_VERSION, "k2" },
        { DIM_DEVICE, DBQ_ATTR0 + ATTR_DEVICE, "k1" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].dim == dim && map[i].col == col)
            return map[i].expr;
    return NULL;
}

typedef struct {
    int (*fn)(void *, const dbq_rollup_row *);
    void *ctx;
} dbq_ru_ctx;

static int
dbq_rollup_row_cb(dbq_ru_ctx *c, sqlite3_stmt *st)
{
    dbq_rollup_row r;
    r.b = sqlite3_column_int64(st, 0);
    r.k1 = sqlite3_column_int64(st, 1);
    r.k2 = sqlite3_column_int64(st, 2);
    for (int i = 0; i < M_COUNT; i++)
        r.m[i] = sqlite3_column_int64(st, 3 + i);
    return c->fn(c->ctx, &r);
}

int
dbq_rollup(db *d, const dbq_rollup_req *r,
           int (*fn)(void *ctx, const dbq_rollup_row *row), void *ctx)
{
    static const char *const tables[] = { "rollup_hourly", "rollup_daily",
                                          "rollup_monthly" };
    static const char *const tcols[] = { "hour", "day", "month" };
    int t = r->tier;
    if (t < DBQ_T_HOUR || t > DBQ_T_MONTH
        || (t != DBQ_T_HOUR && (r->h0 % 24 || r->h1 % 24))
        || (t == DBQ_T_DAY && r->bucket != DBQ_B_NONE
            && !(r->bucket == DBQ_B_DAY && r->off_h == 0))
        || (t == DBQ_T_MONTH && r->bucket != DBQ_B_NONE))
        return -1;
    int64_t lo = t == DBQ_T_HOUR ? r->h0 : r->h0 / 24;
    int64_t hi = t == DBQ_T_HOUR ? r->h1 : r->h1 / 24;
    dbq_sql q = { 0 };
    dbq_cat(&q, "SELECT ");
    if (r->bucket == DBQ_B_HOUR) {
        dbq_cat(&q, "hour");
    } else if (r->bucket == DBQ_B_DAY && t == DBQ_T_DAY) {
        dbq_cat(&q, "day");
    } else if (r->bucket == DBQ_B_DAY) {
        dbq_cat(&q, "(hour + ");
        dbq_int(&q, r->off_h);
        dbq_cat(&q, ") / 24");
    } else {
        dbq_cat(&q, "0");
    }
    /* no GROUP BY: SQLite would sort; the caller sums in a hash table */
    dbq_cat(&q, " AS b, k1, k2, ");
    dbq_cat(&q, t == DBQ_T_HOUR ? "visitors_hour" : "0");
    dbq_cat(&q, ", visitors_new, visits, pageviews, events, bounces, duration"
                " FROM ");
    dbq_cat(&q, tables[t]);
    dbq_cat(&q, " WHERE site_id = ");
    dbq_int(&q, r->site);
    dbq_cat(&q, " AND dim = ");
    dbq_int(&q, r->dim);
    dbq_cat(&q, " AND ");
    dbq_cat(&q, tcols[t]);
    dbq_cat(&q, " >= ");
    dbq_int(&q, lo);
    dbq_cat(&q, " AND ");
    dbq_cat(&q, tcols[t]);
    dbq_cat(&q, " < ");
    dbq_int(&q, hi);
    if (r->pred) {
        dbq_scope sc;
        memset(&sc, 0, sizeof(sc));
        for (int c = 0; c < DBQ_NCOLS; c++)
            sc.col[c] = dbq_rollup_col(r->dim, c);
        dbq_cat(&q, " AND ");
        if (dbq_pred_sql(&q, r->pred, &sc, r->site, 0, 0, 0) != 0) {
            dbq_sql_free(&q);
            return -1;
        }
    }
    dbq_register(d, r->m);
    sqlite3_stmt *st = dbq_prepare(d, &q);
    int rc = -1;
    if (st) {
        int s;
        dbq_ru_ctx c = { fn, ctx };
        rc = 0;
        while ((s = sqlite3_step(st)) == SQLITE_ROW)
            if ((rc = dbq_rollup_row_cb(&c, st)) != 0)
                break;
        if (rc == 0 && s != SQLITE_DONE) {
            db_log_error(d, "rollup query");
            rc = -1;
        }
        sqlite3_finalize(st);
    }
    dbq_register(d, NULL);
    dbq_sql_free(&q);
    return rc;
}
