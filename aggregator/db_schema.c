/*
 * db_schema.c -- schema creation and migration, keyed on PRAGMA
 * user_version.  db_migrations[v] takes a database from version v to
 * v + 1; each step runs in its own transaction together with the
 * user_version bump, so a crash leaves either the old or the new schema.
 * To change the schema, append a step; never edit a released one.
 */
#include "aggregator/db_int.h"

#include <stdio.h>

/* The trigger that takes a deleted rollup_hourly row (purge, site
 * deletion, a row summed to zero) back out of the coarse rows above it:
 * rollup_daily when its hour is below the daily bound, rollup_monthly
 * when its day is also below the monthly bound; a coarse row whose sums
 * all reach 0 is deleted, as in rollup_hourly.  Inserts and updates of
 * hourly rows come only from the ingest, which adds the same deltas to
 * the coarse rows itself (db_batch.c): a trigger per upsert would cost
 * the ingest about 8% of its instructions.  The bounds are constants in
 * the trigger (copies of meta rollup_daily_h / rollup_monthly_d);
 * db_tier_triggers() recreates it whenever compaction moves them. */
#define TALLY_TIER_SUB(to, tcol, key)                                      \
    " UPDATE " to " SET visitors_new = visitors_new - OLD.visitors_new,"  \
    " visits = visits - OLD.visits, pageviews = pageviews - OLD.pageviews," \
    " events = events - OLD.events, bounces = bounces - OLD.bounces,"     \
    " duration = duration - OLD.duration WHERE site_id = OLD.site_id"     \
    " AND dim = OLD.dim AND " tcol " = " key " AND k1 = OLD.k1"           \
    " AND k2 = OLD.k2;"                                                   \
    " DELETE FROM " to " WHERE site_id = OLD.site_id AND dim = OLD.dim"   \
    " AND " tcol " = " key " AND k1 = OLD.k1 AND k2 = OLD.k2"             \
    " AND visitors_new = 0 AND visits = 0 AND pageviews = 0"              \
    " AND events = 0 AND bounces = 0 AND duration = 0;"
#define TALLY_MONTH_OF(day)                                                \
    "CAST(unixepoch((" day ") * 86400, 'unixepoch', 'start of month')"     \
    " / 86400 AS INTEGER)"
#define TALLY_TIER_TRIGGER(dbound, mbound)                                 \
    "CREATE TRIGGER rollup_tiers_del AFTER DELETE ON rollup_hourly"       \
    " WHEN OLD.hour < " dbound " BEGIN"                                   \
    TALLY_TIER_SUB("rollup_daily", "day", "OLD.hour / 24")                \
    " UPDATE rollup_monthly SET visitors_new = visitors_new"              \
    " - OLD.visitors_new, visits = visits - OLD.visits,"                  \
    " pageviews = pageviews - OLD.pageviews, events = events - OLD.events," \
    " bounces = bounces - OLD.bounces, duration = duration - OLD.duration" \
    " WHERE OLD.hour / 24 < " mbound " AND site_id = OLD.site_id"         \
    " AND dim = OLD.dim AND month = " TALLY_MONTH_OF("OLD.hour / 24")     \
    " AND k1 = OLD.k1 AND k2 = OLD.k2;"                                   \
    " DELETE FROM rollup_monthly WHERE OLD.hour / 24 < " mbound           \
    " AND site_id = OLD.site_id AND dim = OLD.dim"                        \
    " AND month = " TALLY_MONTH_OF("OLD.hour / 24")                       \
    " AND k1 = OLD.k1 AND k2 = OLD.k2 AND visitors_new = 0 AND visits = 0" \
    " AND pageviews = 0 AND events = 0 AND bounces = 0 AND duration = 0;" \
    " END;"

static const char *const db_migrations[] = {
    /* 0 -> 1: the foundation schema. */
    "CREATE TABLE sites("
    "  id INTEGER PRIMARY KEY,"
    "  domain TEXT NOT NULL UNIQUE,"
    "  timezone TEXT NOT NULL DEFAULT 'UTC');"
    /* dictionary of repeated strings; events refer to it by id */
    "CREATE TABLE strings("
    "  id INTEGER PRIMARY KEY,"
    "  s TEXT NOT NULL UNIQUE);"
    /* raw events, clustered on (site_id, ts, seq).  seq is a counter
     * (meta 'event_seq') that makes the key unique; ts is unix ms (UTC).
     * Absent optional strings are NULL (0 bytes in the record). */
    "CREATE TABLE events("
    "  site_id INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  visitor_id INTEGER NOT NULL,"
    "  name_id INTEGER NOT NULL,"
    "  pathname_id INTEGER NOT NULL,"
    "  hostname_id INTEGER NOT NULL,"
    "  referrer_id INTEGER,"
    "  ua_id INTEGER,"
    "  props_id INTEGER,"
    "  revenue_id INTEGER,"
    "  PRIMARY KEY(site_id, ts, seq)) WITHOUT ROWID;"
    "CREATE TABLE spool_pos("
    "  segment TEXT PRIMARY KEY,"
    "  \"offset\" INTEGER NOT NULL,"
    "  finished INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE api_keys("
    "  id INTEGER PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  revoked INTEGER);"
    "CREATE TABLE meta("
    "  k TEXT PRIMARY KEY,"
    "  v INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(k, v) VALUES('event_seq', 0);",

    /* 1 -> 2: enriched raw events, visits, hourly rollups (docs/storage.md).
     * The v1 events are kept as events_v1 and converted by migrate_v1.c
     * (through the same ingest as spool events) before the drain starts. */
    "ALTER TABLE events RENAME TO events_v1;"
    "CREATE TABLE attrs("
    "  id INTEGER PRIMARY KEY,"
    "  source INTEGER NOT NULL, referrer INTEGER NOT NULL,"
    "  channel INTEGER NOT NULL, utm_medium INTEGER NOT NULL,"
    "  utm_source INTEGER NOT NULL, utm_campaign INTEGER NOT NULL,"
    "  utm_content INTEGER NOT NULL, utm_term INTEGER NOT NULL,"
    "  country INTEGER NOT NULL, browser INTEGER NOT NULL,"
    "  browser_version INTEGER NOT NULL, os INTEGER NOT NULL,"
    "  os_version INTEGER NOT NULL, device INTEGER NOT NULL,"
    "  UNIQUE(source, referrer, channel, utm_medium, utm_source,"
    "         utm_campaign, utm_content, utm_term, country, browser,"
    "         browser_version, os, os_version, device));"
    "CREATE TABLE events("
    "  site_id INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  visitor_id INTEGER NOT NULL,"
    "  visit_id INTEGER NOT NULL,"
    "  name_id INTEGER NOT NULL,"
    "  pathname_id INTEGER NOT NULL,"
    "  hostname_id INTEGER NOT NULL,"
    "  attrs_id INTEGER NOT NULL,"
    "  props_id INTEGER NOT NULL,"
    "  revenue_id INTEGER NOT NULL,"
    "  flags INTEGER NOT NULL,"
    "  PRIMARY KEY(site_id, ts, seq)) WITHOUT ROWID;"
    "CREATE TABLE visits("
    "  id INTEGER PRIMARY KEY,"
    "  site_id INTEGER NOT NULL,"
    "  visitor_id INTEGER NOT NULL,"
    "  start_ts INTEGER NOT NULL,"
    "  end_ts INTEGER NOT NULL,"
    "  entry_page_id INTEGER NOT NULL,"
    "  exit_page_id INTEGER NOT NULL,"
    "  attrs_id INTEGER NOT NULL,"
    "  pageviews INTEGER NOT NULL,"
    "  events INTEGER NOT NULL,"
    "  bounce INTEGER NOT NULL);"
    "CREATE TABLE rollup_hourly("
    "  site_id INTEGER NOT NULL,"
    "  dim INTEGER NOT NULL,"
    "  hour INTEGER NOT NULL,"
    "  k1 INTEGER NOT NULL,"
    "  k2 INTEGER NOT NULL,"
    "  visitors_hour INTEGER NOT NULL,"
    "  visitors_new INTEGER NOT NULL,"
    "  visits INTEGER NOT NULL,"
    "  pageviews INTEGER NOT NULL,"
    "  events INTEGER NOT NULL,"
    "  bounces INTEGER NOT NULL,"
    "  duration INTEGER NOT NULL,"
    "  PRIMARY KEY(site_id, dim, hour, k1, k2)) WITHOUT ROWID;"
    "DELETE FROM meta WHERE k = 'event_seq';"
    "INSERT INTO meta(k, v) VALUES('visit_seq', 1);"
    "INSERT INTO meta(k, v) VALUES('hwm_ms', 0);",

    /* 2 -> 3: daily and monthly rollups (docs/storage.md), the sums of
     * rollup_hourly over whole UTC days / months, for the days before
     * meta 'rollup_daily_h' (an hour, a day boundary) and the months
     * before meta 'rollup_monthly_d' (the first day of a month).
     * compact.c moves those bounds forward, filling the rows; the
     * triggers carry every later change of an hourly row below a bound
     * (late events, purges, deletions) into the coarser rows in the same
     * transaction, so the invariant holds whoever writes rollup_hourly.
     * A month is keyed by its first day (days since the epoch). */
    "CREATE TABLE rollup_daily("
    "  site_id INTEGER NOT NULL, dim INTEGER NOT NULL, day INTEGER NOT NULL,"
    "  k1 INTEGER NOT NULL, k2 INTEGER NOT NULL,"
    "  visitors_new INTEGER NOT NULL, visits INTEGER NOT NULL,"
    "  pageviews INTEGER NOT NULL, events INTEGER NOT NULL,"
    "  bounces INTEGER NOT NULL, duration INTEGER NOT NULL,"
    "  PRIMARY KEY(site_id, dim, day, k1, k2)) WITHOUT ROWID;"
    "CREATE TABLE rollup_monthly("
    "  site_id INTEGER NOT NULL, dim INTEGER NOT NULL, month INTEGER NOT NULL,"
    "  k1 INTEGER NOT NULL, k2 INTEGER NOT NULL,"
    "  visitors_new INTEGER NOT NULL, visits INTEGER NOT NULL,"
    "  pageviews INTEGER NOT NULL, events INTEGER NOT NULL,"
    "  bounces INTEGER NOT NULL, duration INTEGER NOT NULL,"
    "  PRIMARY KEY(site_id, dim, month, k1, k2)) WITHOUT ROWID;"
    "INSERT INTO meta(k, v) VALUES('rollup_daily_h', 0);"
    "INSERT INTO meta(k, v) VALUES('rollup_monthly_d', 0);"
    TALLY_TIER_TRIGGER("0", "0"),

    /* 3 -> 4: sealed days (db_seal.h, docs/storage.md): a finished
     * (site, UTC day)'s raw events and visits as two column blocks
     * instead of rows; meta seal_gen counts changes of the set. */
    "CREATE TABLE sealed_days("
    "  site_id INTEGER NOT NULL, day INTEGER NOT NULL,"
    "  ev_n INTEGER NOT NULL, ev_last_ts INTEGER NOT NULL,"
    "  ev_last_seq INTEGER NOT NULL, vi_n INTEGER NOT NULL,"
    "  vi_min_id INTEGER NOT NULL, vi_max_id INTEGER NOT NULL,"
    "  PRIMARY KEY(site_id, day));"
    "CREATE TABLE sealed_cols("
    "  site_id INTEGER NOT NULL, day INTEGER NOT NULL,"
    "  part INTEGER NOT NULL, col INTEGER NOT NULL, data BLOB NOT NULL,"
    "  PRIMARY KEY(site_id, day, part, col));"
    "INSERT INTO meta(k, v) VALUES('seal_gen', 0);",
};

int
db_tier_triggers(db *d, int64_t daily_h, int64_t monthly_d)
{
    char sql[4096];
    int n = snprintf(sql, sizeof sql, "DROP TRIGGER IF EXISTS rollup_tiers_del;"
                     TALLY_TIER_TRIGGER("%lld", "%lld"), (long long)daily_h,
                     (long long)monthly_d, (long long)monthly_d);
    if (n < 0 || (size_t)n >= sizeof sql)
        return -1;
    if (sqlite3_exec(d->h, sql, NULL, NULL, NULL) != SQLITE_OK) {
        db_log_error(d, "recreate rollup trigger");
        return -1;
    }
    d->tier_daily_h = daily_h;
    d->tier_monthly_d = monthly_d;
    return 0;
}

#define DB_NMIGRATIONS ((int)(sizeof(db_migrations) / sizeof(db_migrations[0])))

_Static_assert(DB_NMIGRATIONS == DB_SCHEMA_VERSION,
               "one migration step per schema version");

int
db_schema_version(db *d)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

int
db_schema_migrate(db *d, char *err, size_t errlen)
{
    for (;;) {
        /* the version is read inside the write transaction, so two
         * processes migrating at once cannot both apply a step */
        if (sqlite3_exec(d->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot lock database: %s", sqlite3_errmsg(d->h));
            return -1;
        }
        int v = db_schema_version(d);
        if (v < 0 || v > DB_SCHEMA_VERSION) {
            sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
            snprintf(err, errlen, v < 0 ? "cannot read schema version"
                     : "database schema version %d is newer than this tallyd (%d)",
                     v, DB_SCHEMA_VERSION);
            return -1;
        }
        if (v == DB_SCHEMA_VERSION)
            return sqlite3_exec(d->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;

        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(d->h, db_migrations[v], NULL, NULL, NULL) != SQLITE_OK
            || sqlite3_exec(d->h, bump, NULL, NULL, NULL) != SQLITE_OK
            || sqlite3_exec(d->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "schema migration %d -> %d failed: %s", v,
                     v + 1, sqlite3_errmsg(d->h));
            sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
}
