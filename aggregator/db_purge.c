/* db_purge.c -- see db_purge.h. */
#include "aggregator/db_int.h"
#include "aggregator/db_purge.h"
#include "aggregator/db_seal.h"
#include "aggregator/dims.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PG_DAY_MS 86400000LL

/* The pathnames that start with ?2 (bytes: substr on a BLOB cast). */
#define PG_PATH_IDS \
    "(SELECT id FROM strings" \
    " WHERE substr(CAST(s AS BLOB), 1, length(CAST(?2 AS BLOB)))" \
    " = CAST(?2 AS BLOB))"

/* Prepares sql (a constant) on d; NULL (logged) on error. */
static sqlite3_stmt *
pg_prep(db *d, const char *sql)
{
    return db_prep(d, sql, "purge: prepare");
}

/* Steps st to the end, finalizes it.  Returns sqlite3_changes or -1. */
static int64_t
pg_run(db *d, sqlite3_stmt *st, const char *what)
{
    if (st == NULL)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, what);
        return -1;
    }
    return sqlite3_changes(d->h);
}

/* Steps st once for a single integer (NULL = 0), finalizes it. */
static int64_t
pg_int(db *d, sqlite3_stmt *st, const char *what)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        db_log_error(d, what);
    return v;
}

/* 1 when table name exists in the main schema, 0 if not, -1. */
static int
pg_table_exists(db *d, const char *name)
{
    sqlite3_stmt *st = pg_prep(d, "SELECT COUNT(*) FROM main.sqlite_master"
                                  " WHERE type = 'table' AND name = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t n = pg_int(d, st, "purge: schema");
    return n < 0 ? -1 : n > 0;
}

/* ---- a whole site ---- */

/* One table keyed by the site: its name, then the count and delete
 * statements (?1 = site id, ?2 = domain). */
typedef struct {
    const char *table;
    const char *count, *del;
    size_t      off;            /* of its counter in db_pg_site_rows */
} pg_site_table;

#define PG_T(t, col, bind, field)                                         \
    { t, "SELECT COUNT(*) FROM " t " WHERE " col " = " bind,             \
      "DELETE FROM " t " WHERE " col " = " bind,                         \
      offsetof(db_pg_site_rows, field) }

static const pg_site_table pg_site_tables[] = {
    PG_T("events", "site_id", "?1", events),
    PG_T("visits", "site_id", "?1", visits),
    PG_T("rollup_hourly", "site_id", "?1", rollups),
    PG_T("goals", "site_id", "?1", goals),
    PG_T("key_sites", "site_id", "?1", key_sites),
    PG_T("web_shares", "site", "?2", shares),
    PG_T("import_ledger", "site_id", "?1", import_ledger),
    PG_T("import_follow", "site_id", "?1", import_follow),
};

int
db_pg_site_rows_do(db *d, int64_t site, const char *domain, int del,
                   db_pg_site_rows *n)
{
    memset(n, 0, sizeof(*n));
    for (size_t i = 0; i < sizeof(pg_site_tables) / sizeof(pg_site_tables[0]); i++) {
        const pg_site_table *t = &pg_site_tables[i];
        int have = pg_table_exists(d, t->table);
        if (have < 0)
            return -1;
        if (!have)
            continue;
        sqlite3_stmt *st = pg_prep(d, del ? t->del : t->count);
        if (st == NULL)
            return -1;
        /* ?2 only in web_shares' statements */
        if (sqlite3_bind_parameter_count(st) >= 2)
            sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, 1, site);
        int64_t v = del ? pg_run(d, st, "sites delete")
                        : pg_int(d, st, "sites delete: count");
        if (v < 0)
            return -1;
        *(int64_t *)((char *)n + t->off) = v;
    }
    /* the events of its sealed days (db_seal.h) */
    int64_t sv = 0;
    int64_t se = del ? db_seal_drop(d, site, INT64_MIN, INT64_MAX, &sv)
                     : db_seal_count(d, site, INT64_MIN, INT64_MAX, &sv);
    if (se < 0)
        return -1;
    n->events += se;
    n->visits += sv;
    if (del) {
        sqlite3_stmt *st = pg_prep(d, "DELETE FROM sites WHERE id = ?1");
        if (st == NULL)
            return -1;
        sqlite3_bind_int64(st, 1, site);
        if (pg_run(d, st, "sites delete: site row") < 0)
            return -1;
    }
    return 0;
}

/* ---- counts and bounds ---- */

int64_t
db_pg_events_count(db *d, int64_t site, int64_t lo, int64_t hi)
{
    sqlite3_stmt *st = pg_prep(d, "SELECT COUNT(*) FROM events"
                                  " WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    return pg_int(d, st, "purge: count events");
}

int64_t
db_pg_rollup_events(db *d, int64_t site, int64_t hour_lo, int64_t hour_hi)
{
    sqlite3_stmt *st = pg_prep(d, "SELECT COALESCE(SUM(events), 0)"
                                  " FROM rollup_hourly WHERE site_id = ?1"
                                  " AND dim = 0 AND hour >= ?2 AND hour < ?3");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, hour_lo);
    sqlite3_bind_int64(st, 3, hour_hi);
    return pg_int(d, st, "purge: count rollup events");
}

int64_t
db_pg_site_newest(db *d, int64_t site)
{
    sqlite3_stmt *st = pg_prep(d,
        "SELECT MAX(COALESCE((SELECT MAX(ts) FROM events WHERE site_id = ?1), 0),"
        " COALESCE((SELECT MAX(end_ts) FROM visits WHERE site_id = ?1), 0),"
        " COALESCE((SELECT MAX(hour) * 3600000 FROM rollup_hourly"
        "           WHERE site_id = ?1 AND dim = 0), 0))");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    return pg_int(d, st, "purge: newest");
}

int
db_pg_path_days(db *d, int64_t site, const char *prefix, int64_t **days,
                size_t *n)
{
    *days = NULL;
    *n = 0;
    sqlite3_stmt *st = pg_prep(d, "SELECT DISTINCT ts / 86400000 FROM events"
                                  " WHERE site_id = ?1 AND pathname_id IN "
                                  PG_PATH_IDS " ORDER BY 1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *p = realloc(*days, cap * sizeof(*p));
            if (p == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            *days = p;
        }
        (*days)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "purge: days of path");
        free(*days);
        *days = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int
db_pg_crossing(db *d, int64_t site, int64_t t, int64_t *min_start,
               int64_t *max_end)
{
    sqlite3_stmt *st = pg_prep(d, "SELECT COUNT(*), MIN(start_ts), MAX(end_ts)"
                                  " FROM visits WHERE site_id = ?1"
                                  " AND start_ts < ?2 AND end_ts >= ?2");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, t);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        *min_start = sqlite3_column_int64(st, 1);
        *max_end = sqlite3_column_int64(st, 2);
        found = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        db_log_error(d, "purge: visits across a day boundary");
        return -1;
    }
    return found;
}

/* ---- deletes ---- */

int64_t
db_pg_events_delete_before(db *d, int64_t site, int64_t t)
{
    sqlite3_stmt *st = pg_prep(d, "DELETE FROM events WHERE site_id = ?1"
                                  " AND ts < ?2");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, t);
    return pg_run(d, st, "purge: delete events");
}

int64_t
db_pg_events_delete_path(db *d, int64_t site, const char *prefix)
{
    sqlite3_stmt *st = pg_prep(d, "DELETE FROM events WHERE site_id = ?1"
                                  " AND pathname_id IN " PG_PATH_IDS);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    return pg_run(d, st, "purge: delete events of path");
}

int64_t
db_pg_events_count_path(db *d, int64_t site, const char *prefix)
{
    sqlite3_stmt *st = pg_prep(d, "SELECT COUNT(*) FROM events WHERE site_id = ?1"
                                  " AND pathname_id IN " PG_PATH_IDS);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    return pg_int(d, st, "purge: count events of path");
}

int64_t
db_pg_visits_delete(db *d, int64_t site, int64_t lo, int64_t hi)
{
    sqlite3_stmt *st = pg_prep(d, "DELETE FROM visits WHERE site_id = ?1"
                                  " AND start_ts >= ?2 AND start_ts < ?3");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    return pg_run(d, st, "purge: delete visits");
}

int64_t
db_pg_rollups_delete(db *d, int64_t site, int64_t hour_lo, int64_t hour_hi)
{
    int64_t total = 0;
    /* one key range per dim: the primary key is (site, dim, hour, ..) */
    for (int dim = 0; dim < DIM_COUNT; dim++) {
        sqlite3_stmt *st = pg_prep(d, "DELETE FROM rollup_hourly WHERE site_id = ?1"
                                      " AND dim = ?2 AND hour >= ?3 AND hour < ?4");
        if (st == NULL)
            return -1;
        sqlite3_bind_int64(st, 1, site);
        sqlite3_bind_int(st, 2, dim);
        sqlite3_bind_int64(st, 3, hour_lo);
        sqlite3_bind_int64(st, 4, hour_hi);
        int64_t n = pg_run(d, st, "purge: delete rollups");
        if (n < 0)
            return -1;
        total += n;
    }
    return total;
}

/* ---- reading and relinking events ---- */

int64_t
db_pg_events_read(db *d, int64_t site, int64_t lo, int64_t hi, int64_t *ts,
                  int64_t *seq, db_event2 *out, size_t cap)
{
    sqlite3_stmt *st = pg_prep(d,
        "SELECT ts, seq, visitor_id, visit_id, name_id, pathname_id,"
        " hostname_id, attrs_id, props_id, revenue_id, flags FROM events"
        " WHERE site_id = ?1 AND (ts, seq) > (?2, ?3) AND ts >= ?4 AND ts < ?5"
        " ORDER BY ts, seq LIMIT ?6");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, *ts);
    sqlite3_bind_int64(st, 3, *seq);
    sqlite3_bind_int64(st, 4, lo);
    sqlite3_bind_int64(st, 5, hi);
    sqlite3_bind_int64(st, 6, (int64_t)cap);
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_event2_read(st, site, &out[n]);
        *ts = out[n].ts;
        *seq = out[n].seq;
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, "purge: read events");
        return -1;
    }
    return n;
}

int
db_pg_event_set_visit(db *d, int64_t site, int64_t ts, int64_t seq,
                      int64_t visit_id)
{
    sqlite3_stmt *st = pg_prep(d, "UPDATE events SET visit_id = ?4"
                                  " WHERE site_id = ?1 AND ts = ?2 AND seq = ?3");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_int64(st, 3, seq);
    sqlite3_bind_int64(st, 4, visit_id);
    return pg_run(d, st, "purge: relink event") == 1 ? 0 : -1;
}

/* ---- the dictionary ---- */

static const char *const pg_gc_attrs[] = {
    "CREATE TEMP TABLE IF NOT EXISTS pg_used(id INTEGER PRIMARY KEY)",
    "DELETE FROM temp.pg_used",
    "INSERT OR IGNORE INTO temp.pg_used SELECT attrs_id FROM main.events",
    "INSERT OR IGNORE INTO temp.pg_used SELECT attrs_id FROM main.visits",
};

static const char *const pg_gc_strings[] = {
    "DELETE FROM temp.pg_used",
    "INSERT OR IGNORE INTO temp.pg_used SELECT name_id FROM main.events",
    "INSERT OR IGNORE INTO temp.pg_used SELECT pathname_id FROM main.events",
    "INSERT OR IGNORE INTO temp.pg_used SELECT hostname_id FROM main.events",
    "INSERT OR IGNORE INTO temp.pg_used SELECT props_id FROM main.events",
    "INSERT OR IGNORE INTO temp.pg_used SELECT revenue_id FROM main.events",
    "INSERT OR IGNORE INTO temp.pg_used SELECT entry_page_id FROM main.visits",
    "INSERT OR IGNORE INTO temp.pg_used SELECT exit_page_id FROM main.visits",
    "INSERT OR IGNORE INTO temp.pg_used SELECT k1 FROM main.rollup_hourly",
    "INSERT OR IGNORE INTO temp.pg_used SELECT k2 FROM main.rollup_hourly",
    "INSERT OR IGNORE INTO temp.pg_used"
    " SELECT source FROM main.attrs UNION SELECT referrer FROM main.attrs"
    " UNION SELECT channel FROM main.attrs UNION SELECT utm_medium FROM main.attrs"
    " UNION SELECT utm_source FROM main.attrs UNION SELECT utm_campaign FROM main.attrs"
    " UNION SELECT utm_content FROM main.attrs UNION SELECT utm_term FROM main.attrs"
    " UNION SELECT country FROM main.attrs UNION SELECT browser FROM main.attrs"
    " UNION SELECT browser_version FROM main.attrs UNION SELECT os FROM main.attrs"
    " UNION SELECT os_version FROM main.attrs UNION SELECT device FROM main.attrs",
};

static int
pg_exec_all(db *d, const char *const *sql, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pg_run(d, pg_prep(d, sql[i]), "purge: dictionary") < 0)
            return -1;
    return 0;
}

int64_t
db_pg_dict_gc(db *d, int64_t *nattrs)
{
    *nattrs = 0;
    if (pg_exec_all(d, pg_gc_attrs, sizeof(pg_gc_attrs) / sizeof(pg_gc_attrs[0])) != 0)
        return -1;
    int64_t a = pg_run(d, pg_prep(d, "DELETE FROM main.attrs WHERE id NOT IN"
                                     " (SELECT id FROM temp.pg_used)"),
                       "purge: attrs");
    if (a < 0
        || pg_exec_all(d, pg_gc_strings, sizeof(pg_gc_strings) / sizeof(pg_gc_strings[0])) != 0)
        return -1;
    int64_t s = pg_run(d, pg_prep(d, "DELETE FROM main.strings WHERE id NOT IN"
                                     " (SELECT id FROM temp.pg_used)"),
                       "purge: strings");
    if (s < 0 || pg_run(d, pg_prep(d, "DELETE FROM temp.pg_used"),
                        "purge: dictionary") < 0)
        return -1;
    *nattrs = a;
    return s;
}

/* ---- wiping ---- */

int
db_pg_secure_delete(db *d)
{
    return pg_run(d, pg_prep(d, "PRAGMA secure_delete = ON"),
                  "purge: secure_delete") < 0 ? -1 : 0;
}

int
db_pg_checkpoint(db *d)
{
    sqlite3_stmt *st = pg_prep(d, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    int busy = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW && busy == 0 ? 0 : 1;
}

/* ---- other processes ---- */

#define PG_SHM_DMS 128   /* SQLite's unix VFS: UNIX_SHM_BASE + 8 locks */

int
db_pg_other_process(db *d, long *pid)
{
    const char *path = sqlite3_db_filename(d->h, "main");
    char shm[PATH_MAX];
    if (path == NULL || path[0] == '\0'
        || snprintf(shm, sizeof(shm), "%s-shm", path) >= (int)sizeof(shm))
        return -1;
    /* never closed: closing any descriptor of a file drops every POSIX
     * lock this process holds on it -- SQLite's own included */
    static int fd = -1;
    if (fd < 0)
        fd = open(shm, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
                        .l_start = PG_SHM_DMS, .l_len = 1 };
    if (fcntl(fd, F_GETLK, &fl) != 0)
        return -1;
    if (fl.l_type == F_UNLCK)
        return 0;
    *pid = (long)fl.l_pid;
    return 1;
}
