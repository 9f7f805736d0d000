/* db_compact.c -- filling rollup_daily and rollup_monthly (schema v3,
 * db_schema.c) one day / one month per transaction; see db.h. */
#include "aggregator/db_int.h"
#include "aggregator/dims.h"
#include "aggregator/tz.h"

#define DBC_M(x) x "visitors_new), " x "visits), " x "pageviews), " \
    x "events), " x "bounces), " x "duration)"

/* One sum statement per (site, dim) key range: the primary keys begin
 * with (site_id, dim, time), so each is a contiguous range scan. */
static const char dbc_day_sql[] =
    "INSERT INTO rollup_daily(site_id, dim, day, k1, k2, visitors_new,"
    " visits, pageviews, events, bounces, duration)"
    " SELECT ?1, ?2, ?3, k1, k2, " DBC_M("SUM(") " FROM rollup_hourly"
    " WHERE site_id = ?1 AND dim = ?2 AND hour >= ?3 * 24"
    " AND hour < ?3 * 24 + 24 GROUP BY k1, k2";
static const char dbc_month_sql[] =
    "INSERT INTO rollup_monthly(site_id, dim, month, k1, k2, visitors_new,"
    " visits, pageviews, events, bounces, duration)"
    " SELECT ?1, ?2, ?3, k1, k2, " DBC_M("SUM(") " FROM rollup_daily"
    " WHERE site_id = ?1 AND dim = ?2 AND day >= ?3 AND day < ?4"
    " GROUP BY k1, k2";

/* The first hour >= from_h holding a site-total row of any site, or -1
 * when there is none (one primary-key seek per site). */
static int64_t
dbc_next_hour(db *d, int64_t from_h)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, "SELECT (SELECT MIN(hour) FROM rollup_hourly"
                           " WHERE site_id = s.id AND dim = 0 AND hour >= ?1)"
                           " AS h FROM sites s WHERE h IS NOT NULL"
                           " ORDER BY h LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
        db_log_error(d, "compact: prepare");
        return -2;
    }
    sqlite3_bind_int64(st, 1, from_h);
    int rc = sqlite3_step(st);
    int64_t h = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0)
              : rc == SQLITE_DONE ? -1 : -2;
    if (h == -2)
        db_log_error(d, "compact: next hour");
    sqlite3_finalize(st);
    return h;
}

static int64_t
dbc_month_start(int64_t day)
{
    int64_t y;
    unsigned m, dd;
    tz_civil_from_days(day, &y, &m, &dd);
    return tz_days_from_civil(y, m, 1);
}

static int64_t
dbc_next_month(int64_t month)
{
    int64_t y;
    unsigned m, dd;
    tz_civil_from_days(month, &y, &m, &dd);
    return m == 12 ? tz_days_from_civil(y + 1, 1, 1) : tz_days_from_civil(y, m + 1, 1);
}

/* Runs sql (?1 site, ?2 dim, ?3 and ?4 bound) for every site and dim. */
static int
dbc_fill(db *d, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *sites, *st;
    if (sqlite3_prepare_v2(d->h, "SELECT id FROM sites ORDER BY id", -1, &sites,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(sites);
        return -1;
    }
    int rc = 0, s;
    while (rc == 0 && (s = sqlite3_step(sites)) == SQLITE_ROW) {
        int64_t site = sqlite3_column_int64(sites, 0);
        for (int dim = 0; dim < DIM_COUNT && rc == 0; dim++) {
            sqlite3_bind_int64(st, 1, site);
            sqlite3_bind_int(st, 2, dim);
            sqlite3_bind_int64(st, 3, a);
            sqlite3_bind_int64(st, 4, b);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(st);
        }
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = -1;
    sqlite3_finalize(st);
    sqlite3_finalize(sites);
    return rc;
}

int
db_compact_bounds(db *d, int64_t *daily_h, int64_t *monthly_d)
{
    if (db_meta_get(d, "rollup_daily_h", daily_h) < 0
        || db_meta_get(d, "rollup_monthly_d", monthly_d) < 0)
        return -1;
    return 0;
}

int
db_compact_step(db *d, int64_t upto_h)
{
    int64_t dh, md;
    upto_h -= upto_h % 24;
    if (db_begin(d) != 0)
        return -1;
    if (db_batch_flush(d) != 0 || db_compact_bounds(d, &dh, &md) != 0)
        goto fail;
    int did = 0;
    if (dh < upto_h) {
        /* skip days without any row at once */
        int64_t nh = dbc_next_hour(d, dh);
        if (nh < -1)
            goto fail;
        int64_t day = nh < 0 || nh >= upto_h ? upto_h / 24 : nh / 24;
        if (day * 24 > dh) {
            if (db_meta_set(d, "rollup_daily_h", day * 24) != 0)
                goto fail;
        } else {
            if (dbc_fill(d, dbc_day_sql, day, 0) != 0) {
                db_log_error(d, "compact: day");
                goto fail;
            }
            if (db_meta_set(d, "rollup_daily_h", day * 24 + 24) != 0)
                goto fail;
        }
        did = 1;
    } else {
        /* a month is summed once all of its days are */
        int64_t m0 = md > 0 ? md : 0;
        if (m0 == 0) {
            int64_t nh = dbc_next_hour(d, 0);
            if (nh < -1)
                goto fail;
            m0 = nh < 0 ? dh / 24 : dbc_month_start(nh / 24);
        }
        int64_t m1 = dbc_next_month(m0);
        if (m1 * 24 <= dh) {
            if (dbc_fill(d, dbc_month_sql, m0, m1) != 0) {
                db_log_error(d, "compact: month");
                goto fail;
            }
            if (db_meta_set(d, "rollup_monthly_d", m1) != 0)
                goto fail;
            did = 1;
        } else if (md == 0 && m0 > 0) {
            /* nothing to sum yet: remember where months start */
            if (db_meta_set(d, "rollup_monthly_d", m0) != 0)
                goto fail;
        }
    }
    if (did || md == 0) {
        int64_t ndh, nmd;
        if (db_compact_bounds(d, &ndh, &nmd) != 0
            || ((ndh != dh || nmd != md) && db_tier_triggers(d, ndh, nmd) != 0))
            goto fail;
    }
    if (db_commit(d) != 0)
        return -1;
    return did;
fail:
    db_rollback(d);
    return -1;
}
