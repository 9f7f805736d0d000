/* db_seal.c -- sealing and unsealing days; see db_seal.h. */
#include "aggregator/colblock.h"
#include "aggregator/db_int.h"
#include "aggregator/db_seal.h"
#include "aggregator/log.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DBS_VISIT_MARGIN_MS 3600000LL   /* visits ended this long ago */

/* Prepares a constant statement (after writing the queued rows, so it
 * sees them).  NULL (logged) on error. */
static sqlite3_stmt *
dbs_prep(db *d, const char *sql)
{
    return db_prep(d, sql, "seal: prepare");
}

/* The sealed days of site ?1 in [?2, ?3). */
#define DBS_DAYS_IN " FROM sealed_days WHERE site_id = ?1 AND day >= ?2 AND day < ?3"

/* Prepares sql and binds ?1 = site, ?2 = lo, ?3 = hi. */
static sqlite3_stmt *
dbs_prep3(db *d, const char *sql, int64_t site, int64_t lo, int64_t hi)
{
    sqlite3_stmt *st = dbs_prep(d, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, site);
        sqlite3_bind_int64(st, 2, lo);
        sqlite3_bind_int64(st, 3, hi);
    }
    return st;
}

/* Finalizes st; -1 (logged as what) unless the last step gave rc_ok. */
static int
dbs_end(db *d, sqlite3_stmt *st, int rc, const char *what)
{
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_log_error(d, what);
        return -1;
    }
    return 0;
}

/* ---- the in-memory set of sealed (site, day)s (RW handles) ---- */

static int
dbs_cmp(int64_t s1, int64_t d1, int64_t s2, int64_t d2)
{
    return s1 != s2 ? (s1 < s2 ? -1 : 1) : d1 != d2 ? (d1 < d2 ? -1 : 1) : 0;
}

/* Index of (site, day) in the set, or of where it would go (*found 0). */
static size_t
dbs_find(const db *d, int64_t site, int64_t day, int *found)
{
    size_t lo = 0, hi = d->seal_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = dbs_cmp(d->seal_set[2 * mid], d->seal_set[2 * mid + 1], site,
                        day);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static int
dbs_set_add(db *d, int64_t site, int64_t day)
{
    int found;
    size_t i = dbs_find(d, site, day, &found);
    if (found)
        return 0;
    if (d->seal_n == d->seal_cap) {
        size_t c = d->seal_cap ? d->seal_cap * 2 : 64;
        int64_t *p = realloc(d->seal_set, c * 2 * sizeof(*p));
        if (p == NULL)
            return -1;
        d->seal_set = p;
        d->seal_cap = c;
    }
    memmove(&d->seal_set[2 * i + 2], &d->seal_set[2 * i],
            (d->seal_n - i) * 2 * sizeof(int64_t));
    d->seal_set[2 * i] = site;
    d->seal_set[2 * i + 1] = day;
    d->seal_n++;
    if (day > d->seal_max_day)
        d->seal_max_day = day;
    return 0;
}

static void
dbs_set_del(db *d, int64_t site, int64_t day)
{
    int found;
    size_t i = dbs_find(d, site, day, &found);
    if (!found)
        return;
    memmove(&d->seal_set[2 * i], &d->seal_set[2 * i + 2],
            (d->seal_n - i - 1) * 2 * sizeof(int64_t));
    d->seal_n--;
}

int
db_seal_reload(db *d)
{
    d->seal_n = 0;
    d->seal_max_day = INT64_MIN;
    sqlite3_stmt *st = dbs_prep(d, "SELECT site_id, day FROM sealed_days"
                                   " ORDER BY site_id, day");
    if (st == NULL)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (dbs_set_add(d, sqlite3_column_int64(st, 0),
                        sqlite3_column_int64(st, 1)) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
    if (dbs_end(d, st, rc, "seal: read sealed days") != 0)
        return -1;
    d->seal_loaded = 1;
    return 0;
}

/* Marks the set changed for every other handle (meta seal_gen). */
static int
dbs_bump(db *d)
{
    if (db_meta_set(d, "seal_gen", ++d->seal_gen) != 0)
        return -1;
    return 0;
}

int
db_seal_is(const db *d, int64_t site, int64_t day)
{
    int found = 0;
    if (d->seal_n && day <= d->seal_max_day)
        dbs_find(d, site, day, &found);
    return found;
}

int
db_seal_touch(db *d, int64_t site, int64_t day_lo, int64_t day_hi)
{
    if (d->seal_n == 0 || day_lo > d->seal_max_day)
        return 0;
    for (int64_t day = day_lo; day <= day_hi && day <= d->seal_max_day; day++)
        if (db_seal_is(d, site, day) && db_seal_unseal(d, site, day) < 0)
            return -1;
    return 0;
}

/* ---- sealing ---- */

/* Growable int64 columns. */
typedef struct {
    int64_t *c[DBS_NCOLS];
    size_t   n, cap, ncols;
} dbs_cols;

static int
dbs_cols_push(dbs_cols *x, const int64_t *v)
{
    if (x->n == x->cap) {
        size_t c = x->cap ? x->cap * 2 : 1024;
        for (size_t i = 0; i < x->ncols; i++) {
            int64_t *p = realloc(x->c[i], c * sizeof(int64_t));
            if (p == NULL)
                return -1;
            x->c[i] = p;
        }
        x->cap = c;
    }
    for (size_t i = 0; i < x->ncols; i++)
        x->c[i][x->n] = v[i];
    x->n++;
    return 0;
}

static void
dbs_cols_free(dbs_cols *x)
{
    for (size_t i = 0; i < x->ncols; i++)
        free(x->c[i]);
    memset(x, 0, sizeof(*x));
}

/* Reads the rows of sql (site ?1, [?2, ?3) ms, ?4 day end) into x. */
static int
dbs_read(db *d, const char *sql, int64_t site, int64_t day, dbs_cols *x)
{
    sqlite3_stmt *st = dbs_prep3(d, sql, site, day * DBS_DAY_MS,
                                 (day + 1) * DBS_DAY_MS);
    if (st == NULL)
        return -1;
    int rc;
    int64_t v[DBS_NCOLS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t i = 0; i < x->ncols; i++)
            v[i] = sqlite3_column_int64(st, (int)i);
        if (dbs_cols_push(x, v) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    return dbs_end(d, st, rc, "seal: read rows");
}

/* The visits sealed with a day: those of its events that start and end
 * in it (a visit crossing midnight stays a row, so every visit of a
 * sealed day's events is a row or in that day's own block).  Found
 * through the events (visits has no index on time). */
#define DBS_VISITS_OF_DAY \
    " FROM visits WHERE id IN (SELECT visit_id FROM events" \
    " WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3)" \
    " AND site_id = ?1 AND start_ts >= ?2 AND end_ts < ?3"

/* Writes x's columns as sealed_cols rows (site, day, part, c), each a
 * one-column block. */
static int
dbs_put_cols(db *d, int64_t site, int64_t day, int part, const dbs_cols *x)
{
    sqlite3_stmt *st = dbs_prep(d, "INSERT INTO sealed_cols(site_id, day,"
                                   " part, col, data) VALUES(?1, ?2, ?3, ?4, ?5)");
    if (st == NULL)
        return -1;
    int rc = 0;
    for (size_t c = 0; c < x->ncols && rc == 0; c++) {
        uint8_t *b = NULL;
        size_t len = 0;
        const int64_t *const col[1] = { x->c[c] };
        if (cb_encode(col, 1, x->n, &b, &len) != 0) {
            log_error("seal: out of memory");
            rc = -1;
            break;
        }
        sqlite3_bind_int64(st, 1, site);
        sqlite3_bind_int64(st, 2, day);
        sqlite3_bind_int(st, 3, part);
        sqlite3_bind_int(st, 4, (int)c);
        sqlite3_bind_blob(st, 5, b, (int)len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_log_error(d, "seal: write column");
            rc = -1;
        }
        sqlite3_reset(st);
        free(b);
    }
    sqlite3_finalize(st);
    return rc;
}

int
db_seal_day_do(db *d, int64_t site, int64_t day)
{
    if (!d->in_tx || (!d->seal_loaded && db_seal_reload(d) != 0))
        return -1;
    if (db_seal_is(d, site, day))
        return 0;
    dbs_cols ev = { .ncols = DBS_NCOLS }, vi = { .ncols = DBV_NCOLS };
    int out = -1;
    if (dbs_read(d, "SELECT e.ts, e.seq, e.visitor_id, e.visit_id, e.name_id,"
                    " e.pathname_id, e.hostname_id, e.attrs_id, e.props_id,"
                    " e.revenue_id, e.flags, COALESCE(v.entry_page_id, 0),"
                    " COALESCE(v.exit_page_id, 0), COALESCE(v.attrs_id, 0)"
                    " FROM events e LEFT JOIN visits v ON v.id = e.visit_id"
                    " WHERE e.site_id = ?1 AND e.ts >= ?2 AND e.ts < ?3"
                    " ORDER BY e.ts, e.seq", site, day, &ev) != 0
        || dbs_read(d, "SELECT id, visitor_id, start_ts, end_ts,"
                       " entry_page_id, exit_page_id, attrs_id, pageviews,"
                       " events, bounce" DBS_VISITS_OF_DAY " ORDER BY id",
                    site, day, &vi) != 0)
        goto done;
    if (ev.n == 0 && vi.n == 0) {
        out = 0;
        goto done;
    }
    if (ev.n > CB_MAX_ROWS || vi.n > CB_MAX_ROWS) {
        out = 0;                        /* too big for one block: keep rows */
        goto done;
    }
    if (dbs_put_cols(d, site, day, 0, &ev) != 0
        || dbs_put_cols(d, site, day, 1, &vi) != 0)
        goto done;
    sqlite3_stmt *st = dbs_prep(d, "INSERT INTO sealed_days(site_id, day,"
                                   " ev_n, ev_last_ts, ev_last_seq, vi_n,"
                                   " vi_min_id, vi_max_id)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (st == NULL)
        goto done;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, day);
    sqlite3_bind_int64(st, 3, (int64_t)ev.n);
    sqlite3_bind_int64(st, 4, ev.n ? ev.c[DBS_TS][ev.n - 1] : 0);
    sqlite3_bind_int64(st, 5, ev.n ? ev.c[DBS_SEQ][ev.n - 1] : -1);
    sqlite3_bind_int64(st, 6, (int64_t)vi.n);
    sqlite3_bind_int64(st, 7, vi.n ? vi.c[DBV_ID][0] : 0);
    sqlite3_bind_int64(st, 8, vi.n ? vi.c[DBV_ID][vi.n - 1] : -1);
    if (dbs_end(d, st, sqlite3_step(st), "seal: write day") != 0)
        goto done;
    static const char *const del[2] = {
        "DELETE" DBS_VISITS_OF_DAY,     /* first: it reads the events */
        "DELETE FROM events WHERE site_id = ?1 AND ts >= ?2 AND ts < ?3",
    };
    size_t want[2] = { vi.n, ev.n };
    for (int i = 0; i < 2; i++) {
        if ((st = dbs_prep3(d, del[i], site, day * DBS_DAY_MS,
                            (day + 1) * DBS_DAY_MS)) == NULL)
            goto done;
        if (dbs_end(d, st, sqlite3_step(st), "seal: delete rows") != 0)
            goto done;
        if ((size_t)sqlite3_changes(d->h) != want[i]) {
            log_error("seal: site %lld day %lld changed while sealing",
                      (long long)site, (long long)day);
            goto done;
        }
    }
    if (dbs_bump(d) != 0 || dbs_set_add(d, site, day) != 0)
        goto done;
    out = 1;
done:
    dbs_cols_free(&ev);
    dbs_cols_free(&vi);
    return out;
}

/* ---- reading blocks ---- */

void
db_seal_day_free(db_seal_day *x)
{
    for (int i = 0; i < DBS_NCOLS; i++)
        free(x->col[i]);
    free(x->vix);
    memset(x, 0, sizeof(*x));
}

/* Decodes the one-column block b[0..len-1] of n rows into a new array;
 * with ix, also its dictionary indexes into a new *ix (NULL when the
 * column is not dictionary-coded) and their count into *k. */
static int64_t *
dbs_decode(const uint8_t *b, size_t len, size_t n, uint32_t **ix, size_t *k)
{
    cb_info info;
    if (cb_decode_header(b, len, &info) != 0 || info.ncols != 1
        || info.nrows != n)
        return NULL;
    int64_t *v = malloc((n ? n : 1) * sizeof(int64_t));
    uint32_t *x = ix ? malloc((n ? n : 1) * sizeof(uint32_t)) : NULL;
    size_t kk = 0;
    if (v == NULL || (ix && x == NULL)
        || cb_decode_col_ix(b, len, &info, 0, v, x, &kk) != 0) {
        free(v);
        free(x);
        return NULL;
    }
    if (ix) {
        if (kk == 0) {
            free(x);
            x = NULL;
        }
        *ix = x;
        *k = kk;
    }
    return v;
}

int
db_seal_load(db *d, int64_t site, int64_t day, int visits, uint32_t mask,
             db_seal_day *out)
{
    memset(out, 0, sizeof(*out));
    out->site = site;
    out->day = day;
    sqlite3_stmt *st = db_stmt(d, DB_ST_SEAL_N);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, day);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out->n = (size_t)sqlite3_column_int64(st, visits ? 1 : 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            return 0;
        db_log_error(d, "seal: read day");
        return -1;
    }
    unsigned ncols = visits ? DBV_NCOLS : DBS_NCOLS;
    int want_vix = !visits && (mask & DBS_WANT_VIX);
    mask &= (1u << ncols) - 1;
    if (mask == 0)
        return 1;
    if ((st = db_stmt(d, DB_ST_SEAL_COLS)) == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    sqlite3_bind_int64(st, 2, day);
    sqlite3_bind_int(st, 3, visits ? 1 : 0);
    sqlite3_bind_int64(st, 4, mask);
    uint32_t got = 0;
    int bad = 0;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t c = sqlite3_column_int64(st, 0);
        const uint8_t *b = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (c < 0 || c >= ncols || (got & (1u << c))
            || (out->col[c] = dbs_decode(b, len, out->n,
                                         want_vix && c == DBS_VISITOR
                                         ? &out->vix : NULL, &out->vn)) == NULL)
            bad = 1;
        else
            got |= 1u << c;
    }
    sqlite3_reset(st);
    if (!bad && rc != SQLITE_DONE) {
        db_log_error(d, "seal: read column");
        db_seal_day_free(out);
        return -1;
    }
    if (bad || got != mask) {
        log_error("seal: site %lld day %lld: corrupt %s column",
                  (long long)site, (long long)day, visits ? "visits" : "events");
        db_seal_day_free(out);
        return -1;
    }
    return 1;
}

int
db_seal_days(db *d, int64_t site, int64_t day_lo, int64_t day_hi,
             int64_t **days, size_t *n)
{
    *days = NULL;
    *n = 0;
    sqlite3_stmt *st = dbs_prep3(d, "SELECT day" DBS_DAYS_IN " ORDER BY day",
                                 site, day_lo, day_hi);
    int rc = st == NULL ? -1 : db_step_ints(d, st, 1, days, n, "seal: list sealed days");
    sqlite3_finalize(st);
    return rc;
}

/* ---- unsealing ---- */

/* Inserts the n rows of x through sql (ncols + 1 parameters: site, then
 * the columns in order). */
static int
dbs_put_rows(db *d, const char *sql, int64_t site, const db_seal_day *x,
             size_t ncols)
{
    sqlite3_stmt *st = dbs_prep(d, sql);
    if (st == NULL)
        return -1;
    for (size_t r = 0; r < x->n; r++) {
        sqlite3_bind_int64(st, 1, site);
        for (size_t c = 0; c < ncols; c++)
            sqlite3_bind_int64(st, (int)c + 2, x->col[c][r]);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            db_log_error(d, "unseal: write row");
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

/* Deletes site's sealed days in [day_lo, day_hi): rows of both tables. */
static int
dbs_delete(db *d, int64_t site, int64_t day_lo, int64_t day_hi)
{
    static const char *const del[2] = {
        "DELETE FROM sealed_cols WHERE site_id = ?1 AND day >= ?2 AND day < ?3",
        "DELETE" DBS_DAYS_IN,
    };
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = dbs_prep3(d, del[i], site, day_lo, day_hi);
        if (st == NULL)
            return -1;
        if (dbs_end(d, st, sqlite3_step(st), "seal: delete day") != 0)
            return -1;
    }
    return 0;
}

int
db_seal_unseal(db *d, int64_t site, int64_t day)
{
    if (!d->in_tx || (!d->seal_loaded && db_seal_reload(d) != 0))
        return -1;
    db_seal_day ev, vi;
    int rc = db_seal_load(d, site, day, 0, (1u << 11) - 1, &ev);
    if (rc <= 0)
        return rc;
    if (db_seal_load(d, site, day, 1, (1u << DBV_NCOLS) - 1, &vi) != 1) {
        db_seal_day_free(&ev);
        return -1;
    }
    int out = -1;
    if (dbs_put_rows(d, "INSERT INTO events(site_id, ts, seq, visitor_id,"
                        " visit_id, name_id, pathname_id, hostname_id,"
                        " attrs_id, props_id, revenue_id, flags) VALUES(?1,"
                        " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                     site, &ev, 11) != 0
        || dbs_put_rows(d, "INSERT INTO visits(site_id, id, visitor_id,"
                           " start_ts, end_ts, entry_page_id, exit_page_id,"
                           " attrs_id, pageviews, events, bounce) VALUES(?1,"
                           " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        site, &vi, DBV_NCOLS) != 0)
        goto done;
    if (dbs_delete(d, site, day, day + 1) != 0 || dbs_bump(d) != 0)
        goto done;
    dbs_set_del(d, site, day);
    out = 1;
done:
    db_seal_day_free(&ev);
    db_seal_day_free(&vi);
    return out;
}

int64_t
db_seal_unseal_range(db *d, int64_t site, int64_t day_lo, int64_t day_hi)
{
    int64_t *days;
    size_t n;
    if (db_seal_days(d, site, day_lo, day_hi, &days, &n) != 0)
        return -1;
    int64_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (db_seal_unseal(d, site, days[i]) < 0) {
            free(days);
            return -1;
        }
        done++;
    }
    free(days);
    return done;
}

int64_t
db_seal_touch_visit(db *d, int64_t visit_id)
{
    sqlite3_stmt *st = dbs_prep(d, "SELECT site_id, day FROM sealed_days"
                                   " WHERE vi_min_id <= ?1 AND vi_max_id >= ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, visit_id);
    int64_t *sd;
    size_t n;
    int64_t done = db_step_ints(d, st, 2, &sd, &n, "seal: find visit");
    sqlite3_finalize(st);
    for (size_t i = 0; done >= 0 && i < n; i++)
        done = db_seal_unseal(d, sd[2 * i], sd[2 * i + 1]) < 0 ? -1 : done + 1;
    free(sd);
    return done;
}

/* ---- counting and dropping ---- */

int64_t
db_seal_count(db *d, int64_t site, int64_t day_lo, int64_t day_hi,
              int64_t *visits)
{
    sqlite3_stmt *st = dbs_prep3(d, "SELECT TOTAL(ev_n), TOTAL(vi_n)"
                                    DBS_DAYS_IN, site, day_lo, day_hi);
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? (int64_t)sqlite3_column_double(st, 0) : -1;
    if (visits)
        *visits = rc == SQLITE_ROW ? (int64_t)sqlite3_column_double(st, 1) : 0;
    sqlite3_finalize(st);
    if (n < 0)
        db_log_error(d, "seal: count");
    return n;
}

int64_t
db_seal_drop(db *d, int64_t site, int64_t day_lo, int64_t day_hi,
             int64_t *visits)
{
    if (!d->in_tx || (!d->seal_loaded && db_seal_reload(d) != 0))
        return -1;
    int64_t n = db_seal_count(d, site, day_lo, day_hi, visits);
    if (n < 0)
        return -1;
    if (dbs_delete(d, site, day_lo, day_hi) != 0)
        return -1;
    if (sqlite3_changes(d->h) > 0 && (dbs_bump(d) != 0 || db_seal_reload(d) != 0))
        return -1;
    return n;
}

/* ---- the idle-time step ---- */

/* The first day of site with event rows, and whether it may be sealed
 * under hwm: 1 yes (*day set), 0 no, -1 error. */
static int
dbs_candidate(db *d, int64_t site, int64_t hwm, unsigned after, int64_t *day)
{
    sqlite3_stmt *st = dbs_prep(d, "SELECT MIN(ts) FROM events WHERE site_id = ?1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    int rc = sqlite3_step(st);
    int have = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    int64_t t = have ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        db_log_error(d, "seal: first event");
        return -1;
    }
    if (!have || t < 0)
        return 0;
    *day = t / DBS_DAY_MS;
    if ((*day + 1 + (int64_t)after) * DBS_DAY_MS > hwm)
        return 0;
    /* every visit with an event that day is over */
    st = dbs_prep3(d, "SELECT MAX(v.end_ts) FROM visits v WHERE v.id IN"
                      " (SELECT visit_id FROM events WHERE site_id = ?1"
                      " AND ts >= ?2 AND ts < ?3)", site, *day * DBS_DAY_MS,
                   (*day + 1) * DBS_DAY_MS);
    if (st == NULL)
        return -1;
    rc = sqlite3_step(st);
    int64_t end = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        db_log_error(d, "seal: visits of the day");
        return -1;
    }
    return end + DBS_VISIT_MARGIN_MS < hwm;
}

int64_t
db_seal_step(db *d, unsigned after_days, int max_days)
{
    if (after_days == 0 || d->in_tx)
        return after_days == 0 ? 0 : -1;
    int64_t *sites = NULL, done = 0;
    size_t nsites = 0;
    if (db_begin(d) != 0)
        return -1;
    int64_t hwm = 0;
    int bad = db_meta_get(d, "hwm_ms", &hwm) < 0
              || db_site_ids(d, &sites, &nsites) != 0;
    db_rollback(d);
    for (size_t i = 0; !bad && i < nsites && done < max_days; i++) {
        for (;;) {
            if (done >= max_days)
                break;
            if (db_begin(d) != 0) {
                bad = 1;
                break;
            }
            int64_t day = 0;
            int c = dbs_candidate(d, sites[i], hwm, after_days, &day);
            int r = c == 1 ? db_seal_day_do(d, sites[i], day) : c;
            if (r < 0 || (r == 1 && db_commit(d) != 0)) {
                if (d->in_tx)
                    db_rollback(d);
                bad = 1;
                break;
            }
            if (r == 0) {
                db_rollback(d);
                break;
            }
            done++;
        }
    }
    free(sites);
    return bad ? -1 : done;
}

int
db_seal_last(db *d, int64_t site, int64_t *ts, int64_t *next)
{
    sqlite3_stmt *st = dbs_prep(d, "SELECT ev_last_ts, ev_last_seq"
                                   " FROM sealed_days WHERE site_id = ?1"
                                   " AND ev_n > 0 ORDER BY day DESC LIMIT 1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, site);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0);
        int64_t n = sqlite3_column_int64(st, 1) + 1;
        if (t > *ts || (t == *ts && n > *next)) {
            *ts = t;
            *next = n;
        }
        rc = SQLITE_DONE;
    }
    return dbs_end(d, st, rc, "seal: last event");
}
