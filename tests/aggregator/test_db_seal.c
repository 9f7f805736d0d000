/* Tests for aggregator/db_seal.c on a real database: sealing a day moves
 * its events and its own visits (start and end in the day) into blocks
 * and deletes exactly those rows, leaving visits that cross midnight; the
 * blocks decode to the rows (with each event's visit columns copied in);
 * sequence numbers continue after sealed events; a late event unseals its
 * day back to the same rows; a corrupt block is an error; dropping
 * counts what it drops.  A second, plain SQLite connection is the
 * oracle. */
#include "aggregator/db.h"
#include "aggregator/db_int.h"
#include "aggregator/db_seal.h"
#include "tests/aggregator/tdb.h"
#include "tests/check.h"

#include <sqlite3.h>
#include <stdlib.h>

#define D0 19800LL                  /* the day sealed */
#define MS(day, s) ((day) * DBS_DAY_MS + (int64_t)(s) * 1000)

/* Visit 1 lies inside D0, visit 2 starts in D0 and ends in D0 + 1. */
static void
fill(db *d)
{
    CHECK(db_begin(d) == 0);
    db_visit v1 = { .id = 1, .site_id = 1, .visitor_id = 11,
                    .start_ts = MS(D0, 100), .end_ts = MS(D0, 100 + 39),
                    .entry_page_id = 5, .exit_page_id = 6, .attrs_id = 7,
                    .pageviews = 40, .events = 40, .bounce = 0 };
    db_visit v2 = { .id = 2, .site_id = 1, .visitor_id = 22,
                    .start_ts = MS(D0, 86400 - 10), .end_ts = MS(D0 + 1, 9),
                    .entry_page_id = 8, .exit_page_id = 9, .attrs_id = 0,
                    .pageviews = 20, .events = 20, .bounce = 0 };
    CHECK(db_visit_put(d, &v1) == 0);
    CHECK(db_visit_put(d, &v2) == 0);
    for (int i = 0; i < 40; i++) {
        db_event2 e = { .site_id = 1, .ts = MS(D0, 100 + i), .seq = i & 1,
                        .visitor_id = 11, .visit_id = 1, .name_id = 2,
                        .pathname_id = 3 + (i & 3), .hostname_id = 4,
                        .props_id = i % 5, .flags = i & 1 };
        CHECK(db_event2_insert(d, &e) == 0);
    }
    for (int i = 0; i < 20; i++) {
        db_event2 e = { .site_id = 1, .ts = MS(D0, 86400 - 10 + i), .seq = 0,
                        .visitor_id = 22, .visit_id = 2, .name_id = 2,
                        .pathname_id = 9, .hostname_id = 4 };
        CHECK(db_event2_insert(d, &e) == 0);
    }
    CHECK(db_commit(d) == 0);
}

#define ROWSUM "SELECT TOTAL(ts % 100000 + seq + visitor_id % 1000 + visit_id" \
               " + name_id + pathname_id + hostname_id + props_id + flags)" \
               " FROM events WHERE ts < 1710806400000"   /* D0 */

static void
test_seal_load_unseal(void)
{
    db *d = tdb_open();
    fill(d);
    int64_t sum0 = tdb_q1(tdb_path, ROWSUM);
    CHECK(db_begin(d) == 0);
    CHECK(db_seal_day_do(d, 1, D0) == 1);
    CHECK(db_seal_day_do(d, 1, D0) == 0);          /* already sealed */
    CHECK(db_seal_day_do(d, 1, D0 + 5) == 0);      /* nothing there */
    CHECK(db_commit(d) == 0);
    /* rows gone but visit 2 (crosses midnight) and D0 + 1's events */
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), 10);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM visits"), 1);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT id FROM visits"), 2);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT ev_n FROM sealed_days"), 50);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT vi_n FROM sealed_days"), 1);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT ev_last_ts FROM sealed_days"),
                 MS(D0, 86399));

    /* the blocks hold the rows, in (ts, seq) order, visit columns copied */
    db_seal_day x;
    CHECK(db_seal_load(d, 1, D0, 0, (1u << DBS_NCOLS) - 1, &x) == 1);
    CHECK_EQ_U64(x.n, 50);
    int64_t sum = 0;
    for (size_t i = 0; i < x.n; i++) {
        if (i)
            CHECK(x.col[DBS_TS][i - 1] < x.col[DBS_TS][i]
                  || (x.col[DBS_TS][i - 1] == x.col[DBS_TS][i]
                      && x.col[DBS_SEQ][i - 1] < x.col[DBS_SEQ][i]));
        int v1 = x.col[DBS_VISIT][i] == 1;
        CHECK_EQ_U64(x.col[DBS_V_ENTRY][i], v1 ? 5 : 8);
        CHECK_EQ_U64(x.col[DBS_V_EXIT][i], v1 ? 6 : 9);
        CHECK_EQ_U64(x.col[DBS_V_ATTRS][i], v1 ? 7 : 0);
        sum += x.col[DBS_TS][i] % 100000 + x.col[DBS_SEQ][i]
             + x.col[DBS_VISITOR][i] % 1000 + x.col[DBS_VISIT][i]
             + x.col[DBS_NAME][i] + x.col[DBS_PAGE][i] + x.col[DBS_HOST][i]
             + x.col[DBS_PROPS][i] + x.col[DBS_FLAGS][i];
    }
    CHECK_EQ_U64(sum, sum0);
    db_seal_day_free(&x);
    CHECK(db_seal_load(d, 1, D0, 1, 1u << DBV_ID | 1u << DBV_ENTRY, &x) == 1);
    CHECK(x.n == 1 && x.col[DBV_ID][0] == 1 && x.col[DBV_ENTRY][0] == 5);
    CHECK(x.col[DBV_START] == NULL);
    db_seal_day_free(&x);
    CHECK(db_seal_load(d, 1, D0 + 1, 0, 1, &x) == 0);

    int64_t *days;
    size_t n;
    CHECK(db_seal_days(d, 1, D0 - 10, D0 + 10, &days, &n) == 0);
    CHECK(n == 1 && days[0] == D0);
    free(days);

    /* the next seq after the newest sealed event, once D0 + 1 is sealed
     * too (visit 2 stays a row: it started the day before) */
    CHECK(db_begin(d) == 0);
    CHECK(db_seal_day_do(d, 1, D0 + 1) == 1);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM visits"), 1);
    CHECK(db_begin(d) == 0);
    int64_t ts = 0, next = 0;
    CHECK(db_seq_last(d, 1, &ts, &next) == 0);
    CHECK(ts == MS(D0 + 1, 9) && next == 1);
    CHECK(db_seal_is(d, 1, D0) && db_seal_is(d, 1, D0 + 1));
    CHECK(!db_seal_is(d, 1, D0 + 2) && !db_seal_is(d, 2, D0));

    /* a late event of D0: the day comes back as rows first, and its seq
     * follows the sealed ones at that ms */
    CHECK(db_seq_at(d, 1, MS(D0, 101), &next) == 0);
    CHECK_EQ_U64(next, 2);
    CHECK(!db_seal_is(d, 1, D0));
    db_event2 e = { .site_id = 1, .ts = MS(D0, 101), .seq = next,
                    .visitor_id = 11, .visit_id = 1, .name_id = 2 };
    CHECK(db_event2_insert(d, &e) == 0);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), 51);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM visits"), 2);
    CHECK_EQ_U64(tdb_q1(tdb_path, ROWSUM " AND NOT (ts = 1710720101000 AND seq = 2)"),
                 sum0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM sealed_days"), 1);

    /* an update of a visit with events on a sealed day unseals it */
    CHECK(db_begin(d) == 0);
    db_visit v2 = { .id = 2, .site_id = 1, .visitor_id = 22,
                    .start_ts = MS(D0, 86400 - 10), .end_ts = MS(D0 + 1, 20),
                    .entry_page_id = 8, .exit_page_id = 10 };
    CHECK(db_visit_put(d, &v2) == 0);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM sealed_days"), 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), 61);
    tdb_close(d);
}

static void
test_corrupt_and_drop(void)
{
    db *d = tdb_open();
    fill(d);
    CHECK(db_begin(d) == 0);
    CHECK(db_seal_day_do(d, 1, D0) == 1);
    CHECK(db_commit(d) == 0);
    int64_t vis = -1;
    CHECK(db_begin(d) == 0);
    CHECK_EQ_U64(db_seal_count(d, 1, D0, D0 + 1, &vis), 50);
    CHECK_EQ_U64(vis, 1);
    CHECK_EQ_U64(db_seal_count(d, 1, D0 + 1, D0 + 9, NULL), 0);
    /* a flipped byte in the events block: loading fails, never crashes */
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM sealed_cols"),
                 DBS_NCOLS + DBV_NCOLS);
    sqlite3_exec(d->h, "UPDATE sealed_cols SET data = CAST(substr(data, 1, 30)"
                       " || 'x' || substr(data, 32) AS BLOB) WHERE part = 0"
                       " AND col = 3", NULL, NULL, NULL);
    db_seal_day x;
    /* only the damaged column fails */
    CHECK(db_seal_load(d, 1, D0, 0, 1u << DBS_TS | 1u << DBS_PAGE, &x) == 1);
    db_seal_day_free(&x);
    CHECK(db_seal_load(d, 1, D0, 0, (1u << DBS_NCOLS) - 1, &x) == -1);
    /* a missing column is corrupt too */
    sqlite3_exec(d->h, "DELETE FROM sealed_cols WHERE part = 1 AND col = 0",
                 NULL, NULL, NULL);
    CHECK(db_seal_load(d, 1, D0, 1, 1u << DBV_ID, &x) == -1);
    CHECK(db_seal_load(d, 1, D0, 1, 1u << DBV_END, &x) == 1);
    db_seal_day_free(&x);
    CHECK(db_seal_unseal(d, 1, D0) == -1);
    db_rollback(d);
    CHECK(db_begin(d) == 0);
    CHECK_EQ_U64(db_seal_drop(d, 1, D0, D0 + 1, &vis), 50);
    CHECK(!db_seal_is(d, 1, D0));
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM sealed_days"), 0);
    tdb_close(d);
}

int
main(void)
{
    RUN(test_seal_load_unseal);
    RUN(test_corrupt_and_drop);
    return check_summary("db_seal");
}
