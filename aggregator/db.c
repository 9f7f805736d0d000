/* db.c -- opening, closing, statements and transactions; see db.h. */
#include "aggregator/db_int.h"
#include "aggregator/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The ingest's hot rows are read from the handle's queues through the
 * virtual tables of db_batch.c (tally_queue_*), every queued row of a
 * table by one INSERT ... SELECT.  These statements say OR ROLLBACK: a
 * statement that writes several rows and may ABORT half-way makes SQLite
 * keep a statement journal (a copy of every page it touches, spilled to
 * a temporary file); on any error tallyd rolls the whole transaction
 * back anyway. */

#define DB_TIER_ADD                                                        \
    " visitors_new = visitors_new + excluded.visitors_new,"               \
    " visits = visits + excluded.visits,"                                 \
    " pageviews = pageviews + excluded.pageviews,"                        \
    " events = events + excluded.events,"                                 \
    " bounces = bounces + excluded.bounces,"                              \
    " duration = duration + excluded.duration"
#define DB_TIER_ZERO                                                       \
    " AND visitors_new = 0 AND visits = 0 AND pageviews = 0"              \
    " AND events = 0 AND bounces = 0 AND duration = 0"

/* The SQL of every statement, indexed by enum db_stmt_id.  Constants
 * only: values are always bound. */
static const char *const db_sql[DB_ST_COUNT] = {
    [DB_ST_BEGIN] = "BEGIN IMMEDIATE",
    [DB_ST_COMMIT] = "COMMIT",
    [DB_ST_ROLLBACK] = "ROLLBACK",
    [DB_ST_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [DB_ST_META_SET] = "INSERT INTO meta(k, v) VALUES(?1, ?2) "
                       "ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    [DB_ST_SITE_GET] = "SELECT id FROM sites WHERE domain = ?1",
    [DB_ST_SITE_ADD] = "INSERT INTO sites(domain) VALUES(?1)",
    [DB_ST_STR_GET] = "SELECT id FROM strings WHERE s = ?1",
    [DB_ST_STR_ADD] = "INSERT INTO strings(s) VALUES(?1)",
    [DB_ST_STR_BY_ID] = "SELECT s FROM strings WHERE id = ?1",
    [DB_ST_EVENT2_ADD] =
        "INSERT OR ROLLBACK INTO events(site_id, ts, seq, visitor_id, visit_id,"
        " name_id, pathname_id, hostname_id, attrs_id, props_id, revenue_id, flags)"
        " SELECT site_id, ts, seq, visitor_id, visit_id, name_id, pathname_id,"
        " hostname_id, attrs_id, props_id, revenue_id, flags"
        " FROM tally_queue_events",
    [DB_ST_SEQ_LAST] =
        "SELECT ts, seq FROM events WHERE site_id = ?1"
        " ORDER BY ts DESC, seq DESC LIMIT 1",
    [DB_ST_SEQ_AT] =
        "SELECT MAX(seq) FROM events WHERE site_id = ?1 AND ts = ?2",
    [DB_ST_ATTRS_GET] =
        "SELECT id FROM attrs WHERE source = ?1 AND referrer = ?2"
        " AND channel = ?3 AND utm_medium = ?4 AND utm_source = ?5"
        " AND utm_campaign = ?6 AND utm_content = ?7 AND utm_term = ?8"
        " AND country = ?9 AND browser = ?10 AND browser_version = ?11"
        " AND os = ?12 AND os_version = ?13 AND device = ?14",
    [DB_ST_ATTRS_ADD] =
        "INSERT INTO attrs(source, referrer, channel, utm_medium, utm_source,"
        " utm_campaign, utm_content, utm_term, country, browser,"
        " browser_version, os, os_version, device)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [DB_ST_ATTRS_BY_ID] =
        "SELECT source, referrer, channel, utm_medium, utm_source,"
        " utm_campaign, utm_content, utm_term, country, browser,"
        " browser_version, os, os_version, device FROM attrs WHERE id = ?1",
    /* WHERE 1: an upsert after a SELECT needs a WHERE clause (otherwise
     * ON would be read as a join constraint) */
    [DB_ST_VISIT_PUT] =
        "INSERT OR ROLLBACK INTO visits(id, site_id, visitor_id, start_ts,"
        " end_ts, entry_page_id, exit_page_id, attrs_id, pageviews, events,"
        " bounce) SELECT id, site_id, visitor_id, start_ts, end_ts,"
        " entry_page_id, exit_page_id, attrs_id, pageviews, events, bounce"
        " FROM tally_queue_visits WHERE 1"
        " ON CONFLICT(id) DO UPDATE SET site_id = excluded.site_id,"
        " visitor_id = excluded.visitor_id, start_ts = excluded.start_ts,"
        " end_ts = excluded.end_ts, entry_page_id = excluded.entry_page_id,"
        " exit_page_id = excluded.exit_page_id, attrs_id = excluded.attrs_id,"
        " pageviews = excluded.pageviews, events = excluded.events,"
        " bounce = excluded.bounce",
    [DB_ST_VISIT_GET] =
        "SELECT site_id, visitor_id, start_ts, end_ts, entry_page_id,"
        " exit_page_id, attrs_id, pageviews, events, bounce"
        " FROM visits WHERE id = ?1",
    [DB_ST_ROLLUP_ADD] =
        "INSERT OR ROLLBACK INTO rollup_hourly(site_id, dim, hour, k1, k2,"
        " visitors_hour, visitors_new, visits, pageviews, events, bounces,"
        " duration) SELECT site_id, dim, hour, k1, k2, visitors_hour,"
        " visitors_new, visits, pageviews, events, bounces, duration"
        " FROM tally_queue_rollups WHERE 1"
        " ON CONFLICT(site_id, dim, hour, k1, k2) DO UPDATE SET"
        " visitors_hour = visitors_hour + excluded.visitors_hour,"
        " visitors_new = visitors_new + excluded.visitors_new,"
        " visits = visits + excluded.visits,"
        " pageviews = pageviews + excluded.pageviews,"
        " events = events + excluded.events,"
        " bounces = bounces + excluded.bounces,"
        " duration = duration + excluded.duration",
    [DB_ST_RDAILY_ADD] =
        "INSERT INTO rollup_daily(site_id, dim, day, k1, k2, visitors_new,"
        " visits, pageviews, events, bounces, duration)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT DO UPDATE SET" DB_TIER_ADD,
    [DB_ST_RMONTHLY_ADD] =
        "INSERT INTO rollup_monthly(site_id, dim, month, k1, k2, visitors_new,"
        " visits, pageviews, events, bounces, duration)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT DO UPDATE SET" DB_TIER_ADD,
    [DB_ST_RDAILY_ZERO_DEL] =
        "DELETE FROM rollup_daily WHERE site_id = ?1 AND dim = ?2"
        " AND day = ?3 AND k1 = ?4 AND k2 = ?5" DB_TIER_ZERO,
    [DB_ST_RMONTHLY_ZERO_DEL] =
        "DELETE FROM rollup_monthly WHERE site_id = ?1 AND dim = ?2"
        " AND month = ?3 AND k1 = ?4 AND k2 = ?5" DB_TIER_ZERO,
    [DB_ST_ROLLUP_ZERO_DEL] =
        "DELETE FROM rollup_hourly WHERE site_id = ?1 AND dim = ?2"
        " AND hour = ?3 AND k1 = ?4 AND k2 = ?5 AND visitors_hour = 0"
        " AND visitors_new = 0 AND visits = 0 AND pageviews = 0"
        " AND events = 0 AND bounces = 0 AND duration = 0",
    [DB_ST_SITES_ALL] = "SELECT id FROM sites ORDER BY id",
    [DB_ST_EVENTS_FROM] =
        "SELECT ts, seq, visitor_id, visit_id, name_id, pathname_id,"
        " hostname_id, attrs_id, props_id, revenue_id, flags FROM events"
        " WHERE site_id = ?1 AND ts >= ?2 ORDER BY ts, seq",
    [DB_ST_V1_EXISTS] =
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events_v1'",
    [DB_ST_V1_ALL] =
        "SELECT e.ts, e.visitor_id, st.domain, n.s, p.s, h.s, r.s, u.s, pr.s, rv.s"
        " FROM events_v1 e JOIN sites st ON st.id = e.site_id"
        " JOIN strings n ON n.id = e.name_id"
        " JOIN strings p ON p.id = e.pathname_id"
        " JOIN strings h ON h.id = e.hostname_id"
        " LEFT JOIN strings r ON r.id = e.referrer_id"
        " LEFT JOIN strings u ON u.id = e.ua_id"
        " LEFT JOIN strings pr ON pr.id = e.props_id"
        " LEFT JOIN strings rv ON rv.id = e.revenue_id"
        " ORDER BY e.ts, e.site_id, e.seq",
    [DB_ST_V1_DROP] = "DROP TABLE events_v1",
    [DB_ST_RETAIN_EVENTS] =
        "DELETE FROM events WHERE (site_id, ts, seq) IN ("
        " SELECT site_id, ts, seq FROM events WHERE site_id = ?1 AND ts < ?2"
        " ORDER BY ts LIMIT ?3)",
    [DB_ST_RETAIN_VISITS] =
        "DELETE FROM visits WHERE id IN (SELECT id FROM visits"
        " WHERE end_ts < ?1 LIMIT ?2)",
    [DB_ST_POS_GET] = "SELECT \"offset\", finished FROM spool_pos WHERE segment = ?1",
    [DB_ST_POS_SET] = "INSERT INTO spool_pos(segment, \"offset\", finished)"
                      " VALUES(?1, ?2, ?3) ON CONFLICT(segment) DO UPDATE SET"
                      " \"offset\" = excluded.\"offset\", finished = excluded.finished",
    [DB_ST_POS_DEL] = "DELETE FROM spool_pos WHERE segment = ?1",
    [DB_ST_POS_ALL] = "SELECT segment, \"offset\", finished FROM spool_pos ORDER BY segment",
    [DB_ST_KEY_ADD] = "INSERT INTO api_keys(hash, name, created) VALUES(?1, ?2, ?3)",
    [DB_ST_KEY_FIND] = "SELECT id, hash FROM api_keys WHERE hash = ?1 AND revoked IS NULL",
    [DB_ST_KEY_ALL] = "SELECT id, name, created, revoked FROM api_keys ORDER BY id",
    [DB_ST_KEY_REVOKE] = "UPDATE api_keys SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
    /* from the rollups: visitors are visitors_new summed over the hours
     * of each day (site totals are dim 0; pages dim 1; names dim 3) */
    /* sealed days (db_seal.c), read per day by the Stats API */
    [DB_ST_SEAL_N] =
        "SELECT ev_n, vi_n FROM sealed_days WHERE site_id = ?1 AND day = ?2",
    [DB_ST_SEAL_COLS] =
        "SELECT col, data FROM sealed_cols WHERE site_id = ?1 AND day = ?2"
        " AND part = ?3 AND (?4 >> col) & 1",
    [DB_ST_RSTATS_DAY] =
        "SELECT hour / 24 AS d, SUM(visitors_new), SUM(pageviews),"
        " SUM(events) FROM rollup_hourly WHERE site_id = ?1 AND dim = 0"
        " AND hour >= ?2 AND hour < ?3 GROUP BY d ORDER BY d",
    [DB_ST_RSTATS_PAGE] =
        "SELECT COALESCE(s.s, ''), SUM(r.visitors_new), SUM(r.pageviews),"
        " SUM(r.events) FROM rollup_hourly r LEFT JOIN strings s ON s.id = r.k1"
        " WHERE r.site_id = ?1 AND r.dim = 1 AND r.hour >= ?2 AND r.hour < ?3"
        " GROUP BY r.k1",
    [DB_ST_RSTATS_NAME] =
        "SELECT COALESCE(s.s, ''), SUM(r.visitors_new), SUM(r.pageviews),"
        " SUM(r.events) FROM rollup_hourly r LEFT JOIN strings s ON s.id = r.k1"
        " WHERE r.site_id = ?1 AND r.dim = 3 AND r.hour >= ?2 AND r.hour < ?3"
        " GROUP BY r.k1",
    /* from the raw events, per (day) */
    [DB_ST_STATS_DAY] =
        "SELECT ts / 86400000 AS d, COUNT(DISTINCT visitor_id),"
        " TOTAL(name_id = ?4), COUNT(*) FROM events"
        " WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY d ORDER BY d",
    /* per (key, day) first, so visitors are summed over days */
    [DB_ST_STATS_PAGE] =
        "SELECT COALESCE(s.s, ''), SUM(v), SUM(pv), SUM(c) FROM ("
        "  SELECT pathname_id AS k, COUNT(DISTINCT visitor_id) AS v,"
        "   TOTAL(name_id = ?4) AS pv, COUNT(*) AS c FROM events"
        "  WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3"
        "  GROUP BY pathname_id, ts / 86400000)"
        " LEFT JOIN strings s ON s.id = k GROUP BY k",
    [DB_ST_STATS_NAME] =
        "SELECT COALESCE(s.s, ''), SUM(v), SUM(pv), SUM(c) FROM ("
        "  SELECT name_id AS k, COUNT(DISTINCT visitor_id) AS v,"
        "   TOTAL(name_id = ?4) AS pv, COUNT(*) AS c FROM events"
        "  WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3"
        "  GROUP BY name_id, ts / 86400000)"
        " LEFT JOIN strings s ON s.id = k GROUP BY k",
};

/* Statements of the dictionary tables (strings, sites, attrs): they
 * never read or write the tables the batch queues hold rows for, so they
 * run without writing the queues first (a string or attrs miss in the
 * middle of a batch would otherwise write the queued rows one by one). */
static const unsigned char db_dict_stmt[DB_ST_COUNT] = {
    [DB_ST_SITE_GET] = 1, [DB_ST_SITE_ADD] = 1,
    [DB_ST_STR_GET] = 1, [DB_ST_STR_ADD] = 1, [DB_ST_STR_BY_ID] = 1,
    [DB_ST_ATTRS_GET] = 1, [DB_ST_ATTRS_ADD] = 1, [DB_ST_ATTRS_BY_ID] = 1,
};

sqlite3_stmt *
db_stmt(db *d, enum db_stmt_id id)
{
    if ((d->nevq | d->nviq | d->nruq) && !d->flushing && !db_dict_stmt[id]
        && db_batch_flush(d) != 0)
        return NULL;
    sqlite3_stmt *st = d->st[id];
    if (st == NULL) {
        if (sqlite3_prepare_v3(d->h, db_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &d->st[id], NULL) != SQLITE_OK) {
            db_log_error(d, "prepare");
            return NULL;
        }
        return d->st[id];
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

sqlite3_stmt *
db_hot(db *d, enum db_stmt_id id)
{
    sqlite3_stmt *st = d->st[id];
    if (st == NULL)
        return db_stmt(d, id);
    sqlite3_reset(st);
    return st;
}

void
db_log_error(db *d, const char *what)
{
    log_error("db: %s: %s", what, sqlite3_errmsg(d->h));
}

const char *
db_errmsg(db *d)
{
    return sqlite3_errmsg(d->h);
}

static int
db_exec(db *d, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", sql, msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The database holds raw events, key and session hashes and admin
 * settings: a new file is created 0600 (SQLite copies its mode to the
 * -wal and -shm files); an existing world-writable one is refused and a
 * world-readable one is reported (docs/security.md). */
static int
db_check_file(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0)
        return 0;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return 0;               /* let SQLite report it */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (!S_ISREG(sb.st_mode))
        return 0;
    if (sb.st_mode & S_IWOTH) {
        snprintf(err, errlen, "database %s is world-writable (mode %04o):"
                 " anyone on this machine could change its numbers, keys and"
                 " sessions; refusing to use it (chmod o-w %s)", path,
                 (unsigned)(sb.st_mode & 07777), path);
        return -1;
    }
    if (sb.st_mode & S_IROTH)
        log_warn("db: database %s is world-readable (mode %04o): every user"
                 " on this machine can read its raw events; chmod o-r %s",
                 path, (unsigned)(sb.st_mode & 07777), path);
    return 0;
}

/* Process-wide SQLite settings, before the library initializes (the
 * first open, in the main thread).  Memory statistics take a global
 * mutex on every allocation; tallyd never reads them. */
static void
db_lib_config(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
db_open(const char *path, enum db_mode mode, db **out, char *err,
        size_t errlen)
{
    db_lib_config();
    if (mode == DB_RW && db_check_file(path, err, errlen) != 0)
        return -1;
    db *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->mode = mode;
    int flags = SQLITE_OPEN_NOMUTEX
              | (mode == DB_RW ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                               : SQLITE_OPEN_READONLY);
    if (sqlite3_open_v2(path, &d->h, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 d->h ? sqlite3_errmsg(d->h) : "out of memory");
        db_close(d);
        return -1;
    }
    sqlite3_busy_timeout(d->h, 5000);
    char msg[512];
    if (mode == DB_RW) {
        if (db_batch_register(d, msg, sizeof(msg)) != 0
            || db_exec(d, "PRAGMA journal_mode = WAL", msg, sizeof(msg)) != 0
            || db_exec(d, "PRAGMA synchronous = NORMAL", msg, sizeof(msg)) != 0
            || db_exec(d, "PRAGMA cache_size = -32768", msg, sizeof(msg)) != 0
            || db_schema_migrate(d, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "database %s: %s", path, msg);
            db_close(d);
            return -1;
        }
        d->strings = sc_new(1 << 15, 4u << 20);
        d->sites = sc_new(1 << 10, 256u << 10);
        if (d->strings == NULL || d->sites == NULL) {
            snprintf(err, errlen, "out of memory");
            db_close(d);
            return -1;
        }
    } else {
        int v = db_schema_version(d);
        if (v != DB_SCHEMA_VERSION) {
            snprintf(err, errlen, "database %s: schema version %d, expected %d",
                     path, v, DB_SCHEMA_VERSION);
            db_close(d);
            return -1;
        }
    }
    *out = d;
    return 0;
}

int
db_open_side(const char *path, int (*init)(db *), const char *what,
             db **out, char *err, size_t errlen)
{
    db *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->mode = DB_RW;
    if (sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 d->h ? sqlite3_errmsg(d->h) : "out of memory");
        db_close(d);
        return -1;
    }
    sqlite3_busy_timeout(d->h, 5000);
    if (init(d) != 0) {
        snprintf(err, errlen, "database %s: cannot create the %s tables: %s",
                 path, what, sqlite3_errmsg(d->h));
        db_close(d);
        return -1;
    }
    *out = d;
    return 0;
}

void
db_close(db *d)
{
    if (d == NULL)
        return;
    if (d->in_tx)
        db_rollback(d);
    for (int i = 0; i < DB_ST_COUNT; i++)
        sqlite3_finalize(d->st[i]);
    sqlite3_close(d->h);
    sc_free(d->strings);
    sc_free(d->sites);
    free(d->seal_set);
    free(d);
}

sqlite3_stmt *
db_prep(db *d, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (db_batch_flush(d) != 0)
        return NULL;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        db_log_error(d, what);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int
db_step_ints(db *d, sqlite3_stmt *st, int ncols, int64_t **out, size_t *n,
             const char *what)
{
    int64_t *v = NULL;
    size_t rows = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *p = realloc(v, cap * (size_t)ncols * sizeof(*p));
            if (p == NULL)
                break;
            v = p;
        }
        for (int c = 0; c < ncols; c++)
            v[rows * (size_t)ncols + (size_t)c] = sqlite3_column_int64(st, c);
        rows++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_ROW)
            log_error("db: %s: out of memory", what);
        else
            db_log_error(d, what);
        free(v);
        *out = NULL;
        *n = 0;
        return -1;
    }
    *out = v;
    *n = rows;
    return 0;
}

int
db_step_done(db *d, sqlite3_stmt *st, const char *what)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, what);
        return -1;
    }
    return 0;
}

int
db_begin(db *d)
{
    if (d->in_tx || db_step_done(d, db_stmt(d, DB_ST_BEGIN), "begin") != 0)
        return -1;
    d->in_tx = 1;
    sqlite3_stmt *st = db_stmt(d, DB_ST_META_GET);
    if (st == NULL)
        goto fail;
    sqlite3_bind_text(st, 1, "visit_seq", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_log_error(d, "read visit_seq");
        sqlite3_reset(st);
        goto fail;
    }
    d->next_visit = d->visit_loaded = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    /* the coarse rollups' bounds, under the write lock: another process
     * (tallyd compact) may have moved them since the last transaction */
    if (db_meta_get(d, "rollup_daily_h", &d->tier_daily_h) < 0
        || db_meta_get(d, "rollup_monthly_d", &d->tier_monthly_d) < 0)
        goto fail;
    /* the sealed days, likewise (db_seal.c) */
    int64_t gen = 0;
    if (db_meta_get(d, "seal_gen", &gen) < 0)
        goto fail;
    if (!d->seal_loaded || gen != d->seal_gen) {
        d->seal_gen = gen;
        if (db_seal_reload(d) != 0)
            goto fail;
    }
    return 0;
fail:
    db_rollback(d);
    return -1;
}

int
db_read_begin(db *d)
{
    if (d->in_tx || !sqlite3_get_autocommit(d->h))
        return 0;
    if (sqlite3_exec(d->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        db_log_error(d, "begin read");
        return -1;
    }
    return 1;
}

void
db_read_end(db *d)
{
    if (!sqlite3_get_autocommit(d->h))
        sqlite3_exec(d->h, "COMMIT", NULL, NULL, NULL);
}

int
db_commit(db *d)
{
    if (!d->in_tx)
        return -1;
    if (d->next_visit != d->visit_loaded) {
        sqlite3_stmt *st = db_stmt(d, DB_ST_META_SET);
        if (st == NULL)
            goto fail;
        sqlite3_bind_text(st, 1, "visit_seq", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, d->next_visit);
        if (db_step_done(d, st, "write visit_seq") != 0)
            goto fail;
    }
    if (db_step_done(d, db_stmt(d, DB_ST_COMMIT), "commit") != 0)
        goto fail;
    d->in_tx = 0;
    return 0;
fail:
    db_rollback(d);
    return -1;
}

void
db_rollback(db *d)
{
    db_batch_drop(d);
    if (!sqlite3_get_autocommit(d->h))
        db_step_done(d, db_stmt(d, DB_ST_ROLLBACK), "rollback");
    d->in_tx = 0;
    d->seal_loaded = 0;   /* an unseal may have been undone */
    /* ids handed out inside the transaction no longer exist */
    if (d->strings)
        sc_clear(d->strings);
    if (d->sites)
        sc_clear(d->sites);
}
