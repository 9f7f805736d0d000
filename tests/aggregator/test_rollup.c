/* Tests for aggregator/rollup.c: one row per key (keys that differ in any
 * one part, or only in site and dim bits that a careless hash would mix,
 * are different rows), row pointers stay put while the table grows, and
 * rollup_flush writes every non-zero row exactly once (sorted through
 * its merge sort) -- checked against a direct sum over a real database
 * read back through a plain SQLite connection. */
#include "aggregator/db.h"
#include "aggregator/rollup.h"
#include "tests/aggregator/tdb.h"
#include "tests/check.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static void
test_keys(void)
{
    rollup *r = rollup_new();
    CHECK(r != NULL);
    int64_t *a = rollup_at(r, 1, DIM_PAGE, 100, 5, 0);
    CHECK(a != NULL);
    a[M_EVENTS] = 7;
    CHECK(rollup_at(r, 1, DIM_PAGE, 100, 5, 0) == a);
    int64_t *o[6] = {
        rollup_at(r, 2, DIM_PAGE, 100, 5, 0), rollup_at(r, 1, DIM_NAME, 100, 5, 0),
        rollup_at(r, 1, DIM_PAGE, 101, 5, 0), rollup_at(r, 1, DIM_PAGE, 100, 6, 0),
        rollup_at(r, 1, DIM_PAGE, 100, 5, 1), rollup_at(r, 1, DIM_PAGE, 100, 0, 5),
    };
    for (int i = 0; i < 6; i++) {
        CHECK(o[i] != NULL && o[i] != a);
        CHECK_EQ_U64(o[i][M_EVENTS], 0);
        for (int j = 0; j < i; j++)
            CHECK(o[i] != o[j]);
    }
    CHECK_EQ_U64(rollup_count(r), 7);
    /* many rows: the first pointer stays valid, every key stays found */
    for (int i = 0; i < 100000; i++) {
        int64_t *m = rollup_at(r, 1 + i % 3, i % DIM_COUNT, 400000 + i / 97, i, i % 5);
        CHECK(m != NULL);
        m[M_EVENTS] += 1;
    }
    CHECK_EQ_U64(a[M_EVENTS], 7);
    CHECK(rollup_at(r, 1, DIM_PAGE, 100, 5, 0) == a);
    for (int i = 0; i < 100000; i += 999)
        CHECK_EQ_U64(rollup_at(r, 1 + i % 3, i % DIM_COUNT, 400000 + i / 97, i, i % 5)[M_EVENTS], 1);
    CHECK_EQ_U64(rollup_count(r), 100007);
    rollup_clear(r);
    CHECK_EQ_U64(rollup_count(r), 0);
    CHECK_EQ_U64(rollup_at(r, 1, DIM_PAGE, 100, 5, 0)[M_EVENTS], 0);
    rollup_free(r);
}

/* Random deltas (keys repeated, some taken back to zero in the second
 * batch) flushed twice: the table holds the sums, one row per non-zero
 * key. */
static void
test_flush(void)
{
    char path[64] = "/tmp/tally-rollup-XXXXXX", err[256];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    db *d = NULL;
    CHECK(db_open(path, DB_RW, &d, err, sizeof err) == 0);
    rollup *r = rollup_new();
    enum { NK = 3000 };
    static int64_t want[NK];
    memset(want, 0, sizeof(want));
    srand(5);
    for (int round = 0; round < 2; round++) {
        CHECK(db_begin(d) == 0);
        for (int i = 0; i < 20000 + NK; i++) {
            int k = i < 20000 ? rand() % NK : i - 20000, delta = rand() % 3;
            if (i >= 20000)          /* the second round takes some back */
                delta = round == 1 && k % 7 == 0 ? -want[k] : 0;
            if (k % 11 == 0)
                delta = 0;           /* rows touched but left all zero */
            int64_t *m = rollup_at(r, 1 + k % 4, k % DIM_COUNT, 500000 + k % 50,
                                   k / 50, k % 2);
            CHECK(m != NULL);
            m[M_PAGEVIEWS] += delta;
            want[k] += delta;
        }
        CHECK(rollup_flush(r, d) == 0);
        CHECK_EQ_U64(rollup_count(r), 0);
        CHECK(db_commit(d) == 0);
    }
    int64_t rows = 0, sum = 0;
    for (int k = 0; k < NK; k++) {
        rows += want[k] != 0;
        sum += want[k];
    }
    CHECK_EQ_U64(tdb_q1(path, "SELECT COUNT(*) FROM rollup_hourly"), rows);
    CHECK_EQ_U64(tdb_q1(path, "SELECT TOTAL(pageviews) FROM rollup_hourly"), sum);
    CHECK_EQ_U64(tdb_q1(path, "SELECT COUNT(*) FROM rollup_hourly WHERE pageviews = 0"), 0);
    /* one key checked in full */
    int k = 1234;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pageviews FROM rollup_hourly WHERE site_id = %d"
             " AND dim = %d AND hour = %d AND k1 = %d AND k2 = %d",
             1 + k % 4, k % DIM_COUNT, 500000 + k % 50, k / 50, k % 2);
    CHECK_EQ_U64(tdb_q1(path, sql), want[k] ? want[k] : -1);
    rollup_free(r);
    db_close(d);
    snprintf(sql, sizeof sql, "rm -f '%s' '%s-wal' '%s-shm'", path, path, path);
    CHECK(system(sql) == 0);
}

int
main(void)
{
    RUN(test_keys);
    RUN(test_flush);
    return check_summary("aggregator/rollup");
}
