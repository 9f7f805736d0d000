/* test_q_sealed.c -- the raw scans of the Stats API (db_q.h) over sealed
 * days (db_q_sealed.c) against the SQL over rows: one small database
 * sealed on two of its four days, and its copy made before sealing; every
 * predicate shape, on events (with and without the visit join, whole and
 * partial days) and on visits, must give the same rows, in the same
 * order for events. */
#include "aggregator/db_q.h"
#include "aggregator/db_seal.h"
#include "tests/aggregator/tdb.h"

#include <sys/stat.h>

#define DAY 86400000LL
#define D0 19800LL
#define SITE 1

/* ---- the data ---- */

static uint64_t rng = 42;

static unsigned
rnd(unsigned n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng >> 33) % n);
}

static void
exec(sqlite3 *h, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
        CHECK(0);
    }
    sqlite3_free(err);
}

static const char *const strs[] = {
    NULL, "pageview", "Signup", "click", "/", "/a", "/b/c", "/docs/1",
    "/docs/x/y", "h.example", "{\"plan\":\"free\"}",
    "{\"plan\":\"pro\",\"n\":1}", "{\"other\":null}", "{\"plan\":null}",
    "notjson{", "Google", "Bing", "DE", "US", "{\"plan\":true}",
    "{\"plan\":5}",
};

static void
fill(const char *path)
{
    sqlite3 *h;
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    exec(h, "BEGIN");
    exec(h, "INSERT INTO sites(id, domain) VALUES(1, 's.example'),"
            " (2, 't.example')");
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(h, "INSERT INTO strings(id, s) VALUES(?, ?)",
                             -1, &st, NULL) == SQLITE_OK);
    for (int i = 1; i < (int)(sizeof strs / sizeof *strs); i++) {
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, strs[i], -1, SQLITE_STATIC);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    /* attrs 1..4 (5 has no row): source, country, browser vary */
    exec(h, "INSERT INTO attrs VALUES(1, 15,0,0,0,0,0,0,0, 17,3,0,0,0,0),"
            " (2, 16,0,0,0,0,0,0,0, 18,0,0,0,0,0),"
            " (3, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0),"
            " (4, 15,0,0,0,0,0,0,0, 18,3,0,0,0,0)");
    sqlite3_stmt *vi, *ev;
    CHECK(sqlite3_prepare_v2(h, "INSERT INTO visits(id, site_id, visitor_id,"
                             " start_ts, end_ts, entry_page_id, exit_page_id,"
                             " attrs_id, pageviews, events, bounce)"
                             " VALUES(?,?,?,?,?,?,?,?,?,?,?)", -1, &vi, NULL)
          == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(h, "INSERT INTO events(site_id, ts, seq,"
                             " visitor_id, visit_id, name_id, pathname_id,"
                             " hostname_id, attrs_id, props_id, revenue_id,"
                             " flags) VALUES(?,?,?,?,?,?,?,?,?,?,0,0)", -1,
                             &ev, NULL) == SQLITE_OK);
    static const int props[] = { 0, 10, 11, 12, 13, 14, 19, 20 };
    int64_t seq = 0;
    for (int v = 1; v <= 160; v++) {
        int site = v % 17 == 0 ? 2 : SITE;
        /* small and hash-like visitor ids (both kinds of set) */
        int64_t visitor = v % 2 ? 1000 + rnd(40)
                        : (int64_t)(0x9e3779b97f4a7c15ull * (1 + rnd(40)));
        int64_t day = D0 + (v - 1) % 4;
        int64_t start = day * DAY + (int64_t)rnd(86000) * 1000;
        if (v == 7)                   /* crosses midnight: stays a row */
            start = (D0 + 1) * DAY - 120000;
        int64_t vid = v % 23 == 0 ? 5000 + v : v;   /* some without row */
        int n = 1 + (int)rnd(5), pv = 0;
        int64_t t = start;
        int64_t attrs = rnd(6);       /* 0..5; 5 has no attrs row */
        for (int i = 0; i < n; i++) {
            int name = rnd(3) == 0 ? 1 + (int)rnd(3) : 1;
            pv += name == 1;
            sqlite3_bind_int(ev, 1, site);
            sqlite3_bind_int64(ev, 2, t);
            sqlite3_bind_int64(ev, 3, seq++);
            sqlite3_bind_int64(ev, 4, visitor);
            sqlite3_bind_int64(ev, 5, vid);
            sqlite3_bind_int(ev, 6, name);
            sqlite3_bind_int(ev, 7, 4 + (int)rnd(5));
            sqlite3_bind_int(ev, 8, 9);
            sqlite3_bind_int64(ev, 9, attrs);
            sqlite3_bind_int(ev, 10, props[rnd(8)]);
            CHECK(sqlite3_step(ev) == SQLITE_DONE);
            sqlite3_reset(ev);
            if (i + 1 < n)
                t += rnd(3) == 0 ? 0 : (int64_t)rnd(60) * 1000;  /* ties */
        }
        if (vid != v)
            continue;
        sqlite3_bind_int64(vi, 1, vid);
        sqlite3_bind_int(vi, 2, site);
        sqlite3_bind_int64(vi, 3, visitor);
        sqlite3_bind_int64(vi, 4, start);
        sqlite3_bind_int64(vi, 5, t);
        sqlite3_bind_int(vi, 6, 4 + (int)rnd(5));
        sqlite3_bind_int(vi, 7, 4 + (int)rnd(5));
        sqlite3_bind_int64(vi, 8, attrs);
        sqlite3_bind_int(vi, 9, pv);
        sqlite3_bind_int(vi, 10, n);
        sqlite3_bind_int(vi, 11, n == 1);
        CHECK(sqlite3_step(vi) == SQLITE_DONE);
        sqlite3_reset(vi);
    }
    sqlite3_finalize(vi);
    sqlite3_finalize(ev);
    exec(h, "COMMIT");
    sqlite3_close(h);
}

/* ---- collecting rows ---- */

typedef struct {
    dbq_event_row *e;
    dbq_visit_row *v;
    size_t         n, cap;
} rows;

/* a (r->e or r->v, elements of sz bytes) with room for one more row. */
static void *
room(rows *r, void *a, size_t sz)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        a = realloc(a, r->cap * sz);
        CHECK(a != NULL);
    }
    return a;
}

static int
ev_cb(void *ctx, const dbq_event_row *e)
{
    rows *r = ctx;
    r->e = room(r, r->e, sizeof(*e));
    r->e[r->n++] = *e;
    return 0;
}

static int
vi_cb(void *ctx, const dbq_visit_row *v)
{
    rows *r = ctx;
    r->v = room(r, r->v, sizeof(*v));
    r->v[r->n++] = *v;
    return 0;
}

static int
vi_cmp(const void *a, const void *b)
{
    const dbq_visit_row *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static db *sealed, *plain;
static int compared, nonempty, dense;

/* Checks the dense visitor ids of rows from sealed days (vix >= 0): ids
 * below vn, equal ids for equal visitors of one UTC day and only for
 * them; rows read by SQL have none.  Then clears them (SQL has none). */
static void
dense_ids(rows *a, int sealed_db)
{
    for (size_t i = 0; i < a->n; i++) {
        dbq_event_row *x = &a->e[i];
        CHECK(sealed_db || x->vix == -1);
        if (x->vix >= 0) {
            dense++;
            CHECK(x->vix < x->vn);
            for (size_t j = 0; j < i; j++) {
                const dbq_event_row *y = &a->e[j];
                if (y->ts / 86400000 == x->ts / 86400000 && y->vix >= 0)
                    CHECK((y->vix == x->vix) == (y->visitor == x->visitor));
            }
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        a->e[i].vix = -1;
        a->e[i].vn = 0;
    }
}

/* r on both databases: the same return and rows. */
static void
same(const dbq_raw_req *r, int line)
{
    rows a = { 0 }, b = { 0 };
    int ra = dbq_events(sealed, r, ev_cb, &a);
    int rb = dbq_events(plain, r, ev_cb, &b);
    dense_ids(&a, 1);
    dense_ids(&b, 0);
    if (ra != rb || a.n != b.n
        || (a.n && memcmp(a.e, b.e, a.n * sizeof(*a.e)) != 0)) {
        fprintf(stderr, "line %d: events differ: rc %d/%d, %zu/%zu rows\n",
                line, ra, rb, a.n, b.n);
        CHECK(0);
    }
    compared++;
    nonempty += a.n > 0;
    free(a.e);
    free(b.e);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ra = dbq_visits(sealed, r, vi_cb, &a);
    rb = dbq_visits(plain, r, vi_cb, &b);
    if (a.n)
        qsort(a.v, a.n, sizeof(*a.v), vi_cmp);
    if (b.n)
        qsort(b.v, b.n, sizeof(*b.v), vi_cmp);
    if (ra != rb || a.n != b.n
        || (a.n && memcmp(a.v, b.v, a.n * sizeof(*a.v)) != 0)) {
        fprintf(stderr, "line %d: visits differ: rc %d/%d, %zu/%zu rows\n",
                line, ra, rb, a.n, b.n);
        CHECK(0);
    }
    compared++;
    nonempty += a.n > 0;
    free(a.v);
    free(b.v);
}

/* ---- predicates ---- */

static dbq_pred
leaf(int col, int fid, int none, const char *key)
{
    return (dbq_pred){ .kind = DBQ_P_LEAF, .col = col, .fid = fid,
                       .none_match = none, .prop_key = key };
}

static dbq_pred
node(enum dbq_pred_kind k, dbq_pred *kids, size_t n)
{
    return (dbq_pred){ .kind = k, .kids = kids, .nkids = n };
}

static void
test_sealed_equals_rows(void)
{
    char err[256], path2[96];
    sealed = tdb_open();
    fill(tdb_path);
    /* the copy keeps rows */
    snprintf(path2, sizeof path2, "%s.rows", tdb_path);
    {
        sqlite3 *h;
        char sql[200];
        CHECK(sqlite3_open(tdb_path, &h) == SQLITE_OK);
        snprintf(sql, sizeof sql, "VACUUM INTO '%s'", path2);
        exec(h, sql);
        sqlite3_close(h);
    }
    CHECK(chmod(path2, 0600) == 0);
    CHECK(db_open(path2, DB_RW, &plain, err, sizeof err) == 0);
    for (int64_t day = D0; day < D0 + 4; day += 2) {
        CHECK(db_begin(sealed) == 0);
        CHECK(db_seal_day_do(sealed, SITE, day) == 1);
        CHECK(db_commit(sealed) == 0);
    }
    CHECK(tdb_q1(tdb_path, "SELECT COUNT(*) FROM sealed_days") == 2);

    qm_set *m = qm_new();
    const char *c_pv[] = { "pageview" }, *c_sign[] = { "Signup" },
               *c_b[] = { "/b" }, *c_free[] = { "free" }, *c_g[] = { "Google" },
               *c_de[] = { "DE" }, *c_docs[] = { "/docs/**" },
               *c_true[] = { "true", "5" };
    int f_pv = qm_add(m, QM_IS, c_pv, 1, 0, 0, err, sizeof err);
    int f_sign = qm_add(m, QM_IS, c_sign, 1, 0, 0, err, sizeof err);
    int f_b = qm_add(m, QM_CONTAINS, c_b, 1, 0, 0, err, sizeof err);
    int f_free = qm_add(m, QM_IS, c_free, 1, 0, 0, err, sizeof err);
    int f_g = qm_add(m, QM_IS, c_g, 1, 0, 0, err, sizeof err);
    int f_de = qm_add(m, QM_IS, c_de, 1, 0, 0, err, sizeof err);
    int f_docs = qm_add(m, QM_GLOB, c_docs, 1, 0, 0, err, sizeof err);
    int f_true = qm_add(m, QM_IS, c_true, 2, 0, 0, err, sizeof err);
    CHECK(f_true >= 0);

    /* the shapes */
    dbq_pred k1[2], k2[2], k3[1], k4[2], k5[1], k6[1], k7[2], k8[1], k9[1];
    dbq_pred ps[40];
    size_t np = 0;
    ps[np++] = leaf(DBQ_NAME, f_pv, 0, NULL);
    ps[np++] = leaf(DBQ_PAGE, f_b, 1, NULL);
    ps[np++] = leaf(DBQ_HOST, f_b, 1, NULL);
    ps[np++] = leaf(DBQ_PROPS, f_free, 0, "plan");
    ps[np++] = leaf(DBQ_PROPS, f_free, 1, "plan");
    ps[np++] = leaf(DBQ_PROPS, f_true, 0, "plan");
    ps[np++] = leaf(DBQ_PROPS, f_true, 1, "other");
    ps[np++] = leaf(DBQ_ATTR0 + ATTR_SOURCE, f_g, 0, NULL);
    ps[np++] = leaf(DBQ_ATTR0 + ATTR_SOURCE, f_g, 1, NULL);
    ps[np++] = leaf(DBQ_ATTR0 + ATTR_COUNTRY, f_de, 0, NULL);
    ps[np++] = leaf(DBQ_ENTRY, f_b, 0, NULL);
    ps[np++] = leaf(DBQ_EXIT, f_docs, 1, NULL);
    ps[np++] = (dbq_pred){ .kind = DBQ_P_GOAL, .fid = f_sign, .fid2 = f_docs };
    ps[np++] = (dbq_pred){ .kind = DBQ_P_GOAL, .fid = -1, .fid2 = f_docs };
    ps[np++] = (dbq_pred){ .kind = DBQ_P_GOAL, .fid = f_sign, .fid2 = -1 };
    k1[0] = leaf(DBQ_ATTR0 + ATTR_COUNTRY, f_de, 0, NULL);
    k1[1] = leaf(DBQ_PAGE, f_b, 0, NULL);
    k2[0] = node(DBQ_P_NOT, &k1[0], 1);
    k2[1] = node(DBQ_P_OR, &k1[1], 1);
    ps[np++] = node(DBQ_P_AND, k2, 2);
    ps[np++] = node(DBQ_P_OR, k1, 2);
    k3[0] = leaf(DBQ_NAME, f_sign, 0, NULL);
    ps[np++] = node(DBQ_P_HAS_DONE, k3, 1);
    ps[np++] = node(DBQ_P_HAS_NOT_DONE, k3, 1);
    k4[0] = leaf(DBQ_ATTR0 + ATTR_SOURCE, f_g, 0, NULL);
    k5[0] = (dbq_pred){ .kind = DBQ_P_GOAL, .fid = f_sign, .fid2 = f_docs };
    k4[1] = node(DBQ_P_HAS_DONE, k5, 1);
    ps[np++] = node(DBQ_P_AND, k4, 2);              /* visit col + has_done */
    k6[0] = leaf(DBQ_ENTRY, f_b, 0, NULL);
    ps[np++] = node(DBQ_P_HAS_DONE, k6, 1);          /* -1 both ways */
    k8[0] = leaf(DBQ_PROPS, f_free, 1, "plan");
    k7[0] = node(DBQ_P_HAS_NOT_DONE, k8, 1);
    k9[0] = leaf(DBQ_PAGE, f_b, 0, NULL);
    k7[1] = node(DBQ_P_HAS_DONE, k9, 1);
    ps[np++] = node(DBQ_P_OR, k7, 2);                /* two sets */
    ps[np++] = (dbq_pred){ .kind = DBQ_P_TRUE };
    ps[np++] = (dbq_pred){ .kind = DBQ_P_FALSE };
    ps[np++] = node(DBQ_P_AND, NULL, 0);
    ps[np++] = node(DBQ_P_OR, NULL, 0);

    /* ranges: all days; partial boundary days; only unsealed days with a
     * has_done range reaching sealed ones */
    static const int64_t rg[][4] = {
        { D0 * DAY, (D0 + 4) * DAY, (D0 - 1) * DAY, (D0 + 5) * DAY },
        { D0 * DAY + 5 * 3600000, (D0 + 2) * DAY + 7 * 3600000,
          D0 * DAY + 3600000, (D0 + 3) * DAY },
        { (D0 + 1) * DAY, (D0 + 2) * DAY, D0 * DAY, (D0 + 4) * DAY },
        { (D0 + 3) * DAY, (D0 + 4) * DAY, (D0 + 3) * DAY, (D0 + 4) * DAY },
    };
    for (size_t g = 0; g < sizeof rg / sizeof *rg; g++)
        for (size_t i = 0; i <= np; i++)
            for (int nv = 0; nv < 2; nv++)
                for (int fl = 0; fl < 2; fl++) {
                    dbq_raw_req r = {
                        .site = SITE, .lo = rg[g][0], .hi = rg[g][1],
                        .sub_lo = rg[g][2], .sub_hi = rg[g][3],
                        .pred = i < np ? &ps[i] : NULL, .need_visit = nv,
                        .pageview_id = 1, .m = m,
                        /* with fields, the rows the caller reads still
                         * agree on those fields: checked with all of them */
                        .fields = fl ? DBQ_F_VISITOR | DBQ_F_VISIT
                                       | DBQ_F_NAME | DBQ_F_PAGE | DBQ_F_HOST
                                       | DBQ_F_PROPS | DBQ_F_VISITCOLS : 0,
                    };
                    if (fl && !nv)
                        continue;     /* entry/exit/a[] only with the join */
                    same(&r, (int)(g * 1000 + i));
                }
    CHECK(compared > 400);
    CHECK(nonempty > 200);
    CHECK(dense > 1000);        /* sealed rows carried dense visitor ids */
    CHECK(qm_error(m) == NULL);
    qm_free(m);
    db_close(plain);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", path2, path2,
             path2);
    CHECK(system(cmd) == 0);
    tdb_close(sealed);
}

int
main(void)
{
    RUN(test_sealed_equals_rows);
    return check_summary("aggregator/q_sealed");
}
