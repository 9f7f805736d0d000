/* Tests for aggregator/db_batch.c on a real database: rows queued for the
 * INSERT ... SELECTs from the queues' virtual tables are visible to every
 * later statement of the handle, written in queue order (a later upsert
 * adds, a later visit replaces, across full batches too), committed in
 * full (full batches and a short tail, dictionary lookups in between),
 * and dropped by a rollback.  The tables are read back through a second,
 * plain SQLite connection as the oracle. */
#include "aggregator/db.h"
#include "aggregator/db_int.h"
#include "aggregator/dims.h"
#include "tests/aggregator/tdb.h"
#include "tests/check.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>


static db_event2
ev(int64_t ts, int64_t seq)
{
    db_event2 e = { .site_id = 1, .ts = ts, .seq = seq,
                    .visitor_id = 0x8000000000000001ull + (uint64_t)ts,
                    .visit_id = ts, .name_id = 2, .pathname_id = 3,
                    .hostname_id = 4, .flags = (int)(ts & 1) };
    return e;
}

static void
test_events_visible_and_committed(void)
{
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    /* two full batches and a tail of 5, with dictionary lookups (which
     * do not write the queues) in between */
    const int n = 2 * DB_BATCH + 5;
    for (int i = 0; i < n; i++) {
        db_event2 e = ev(1000 + i, 0);
        CHECK(db_event2_insert(d, &e) == 0);
        if (i % 50 == 7) {
            char s[32];
            int l = snprintf(s, sizeof s, "string %d", i);
            CHECK(db_string_id(d, s, (size_t)l) > 0);
        }
    }
    /* a read through the handle sees the queued rows */
    int64_t ts = 0, next = 0, last = 1000 + n - 1;
    CHECK(db_seq_last(d, 1, &ts, &next) == 0);
    CHECK_EQ_U64(ts, last);
    CHECK_EQ_U64(next, 1);
    db_event2 e = ev(last, 1);
    CHECK(db_event2_insert(d, &e) == 0);
    CHECK(db_seq_at(d, 1, last, &next) == 0);
    CHECK_EQ_U64(next, 2);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), n + 1);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(ts) FROM events"),
                 (int64_t)n * 1000 + (int64_t)(n - 1) * n / 2 + last);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(flags) FROM events"), n / 2);  /* odd ts */
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events WHERE visitor_id < 0"), n + 1);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events WHERE name_id = 2"
                    " AND pathname_id = 3 AND hostname_id = 4"
                    " AND visit_id = ts AND attrs_id = 0"), n + 1);
    tdb_close(d);
}

static void
test_visits_last_write_wins(void)
{
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    /* more visits than a batch: rounds of one id meet across flushes */
    const int nv = DB_BATCH + 20;
    for (int round = 0; round < 3; round++)
        for (int i = 1; i <= nv; i++) {
            db_visit v = { .id = i, .site_id = 1, .visitor_id = (uint64_t)i,
                           .start_ts = 10, .end_ts = 10 + round,
                           .entry_page_id = 3, .exit_page_id = 3 + round,
                           .pageviews = round + 1, .events = round + 1,
                           .bounce = round == 0 };
            CHECK(db_visit_put(d, &v) == 0);
        }
    db_visit got;
    CHECK(db_visit_get(d, nv, &got) == 1);
    CHECK_EQ_U64(got.pageviews, 3);
    CHECK_EQ_U64(got.exit_page_id, 5);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM visits"), nv);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(pageviews) FROM visits"), 3 * nv);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(bounce) FROM visits"), 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(end_ts) FROM visits"), 12 * nv);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM visits WHERE visitor_id = id"
                    " AND start_ts = 10 AND entry_page_id = 3"), nv);
    tdb_close(d);
}

static db_rollup_row
ru(int64_t hour, int64_t k1, int64_t pv)
{
    db_rollup_row r = { .site = 1, .hour = hour, .k1 = k1, .dim = DIM_PAGE };
    r.m[M_PAGEVIEWS] = pv;
    r.m[M_EVENTS] = pv;
    return r;
}

static void
test_rollups_add_and_zero_rows_go(void)
{
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    for (int i = 0; i < 40; i++) {
        db_rollup_row r = ru(100, i, 2);
        CHECK(db_rollup_add(d, &r) == 0);
    }
    CHECK(db_commit(d) == 0);
    CHECK(db_begin(d) == 0);
    /* same keys again in one queue: +3 then -5 brings k1 < 10 to 0,
     * the pairs spread over two flushes */
    for (int i = 0; i < DB_BATCH - 5; i++) {
        db_rollup_row x = ru(200, i, 1);
        CHECK(db_rollup_add(d, &x) == 0);
    }
    for (int i = 0; i < 10; i++) {
        db_rollup_row a = ru(100, i, 3), b = ru(100, i, -5);
        CHECK(db_rollup_add(d, &a) == 0);
        CHECK(db_rollup_add(d, &b) == 0);
    }
    db_rollup_row c = ru(100, 39, 1);
    CHECK(db_rollup_add(d, &c) == 0);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM rollup_hourly"), 30 + DB_BATCH - 5);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(pageviews) FROM rollup_hourly WHERE hour = 100"), 61);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT SUM(events) FROM rollup_hourly WHERE hour = 200"),
                 DB_BATCH - 5);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT pageviews FROM rollup_hourly WHERE k1 = 39"), 3);
    tdb_close(d);
}

static void
test_rollback_drops_queue(void)
{
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    for (int i = 0; i < 20; i++) {
        db_event2 e = ev(5000 + i, 0);
        CHECK(db_event2_insert(d, &e) == 0);
        db_rollup_row r = ru(7, i, 1);
        CHECK(db_rollup_add(d, &r) == 0);
    }
    db_rollback(d);
    /* nothing queued survives into the next transaction */
    CHECK(db_begin(d) == 0);
    db_event2 e = ev(1, 0);
    CHECK(db_event2_insert(d, &e) == 0);
    CHECK(db_commit(d) == 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), 1);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM rollup_hourly"), 0);
    tdb_close(d);
}

static void
test_conflict_fails_the_transaction(void)
{
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    for (int i = 0; i < DB_BATCH; i++) {
        db_event2 e = ev(42, i == 9 ? 3 : i);   /* seq 3 twice */
        CHECK(db_event2_insert(d, &e) == 0);
    }
    /* the batch is written by the next row... or by the commit */
    db_event2 e = ev(43, 0);
    int rc = db_event2_insert(d, &e);
    if (rc == 0)
        rc = db_commit(d);
    else
        db_rollback(d);
    CHECK(rc != 0);
    CHECK_EQ_U64(tdb_q1(tdb_path, "SELECT COUNT(*) FROM events"), 0);
    tdb_close(d);
}

int
main(void)
{
    RUN(test_events_visible_and_committed);
    RUN(test_visits_last_write_wins);
    RUN(test_rollups_add_and_zero_rows_go);
    RUN(test_rollback_drops_queue);
    RUN(test_conflict_fails_the_transaction);
    return check_summary("db_batch");
}
