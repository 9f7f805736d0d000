/*
 * sqlite_baseline.c -- bench/drain's baseline: SQLite's own rate for
 * inserting N compact event rows (site, ts, seq, visitor, name, page,
 * WITHOUT ROWID, clustered on (site, ts, seq)) with one prepared
 * statement, 50,000 rows per transaction, WAL and synchronous=NORMAL as
 * tallyd uses -- the ceiling tallyd's drain is compared with.  Timed in
 * CPU time of the process, like the drain, so that other load on a
 * shared machine does not skew the ratio.
 *
 *   sqlite-baseline DBFILE N      prints "sqlite_insert_per_s <x>"
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    sqlite3 *h;
    if (sqlite3_open(argv[1], &h) != SQLITE_OK)
        return 1;
    sqlite3_exec(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 "PRAGMA cache_size = -32768;"
                 "CREATE TABLE t(site INTEGER NOT NULL, ts INTEGER NOT NULL,"
                 " seq INTEGER NOT NULL, visitor INTEGER NOT NULL,"
                 " name INTEGER NOT NULL, page INTEGER NOT NULL,"
                 " PRIMARY KEY(site, ts, seq)) WITHOUT ROWID", NULL, NULL, NULL);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "INSERT INTO t VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1,
                           &st, NULL) != SQLITE_OK)
        return 1;
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    unsigned long long x = 88172645463325252ull;
    long long ts = 1710720000000LL;
    for (long i = 0; i < n; i++) {
        if (i % 50000 == 0)
            sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        ts += 1 + (long long)(x % 1000);
        sqlite3_bind_int64(st, 1, 1 + (long long)(x >> 60) % 3);
        sqlite3_bind_int64(st, 2, ts);
        sqlite3_bind_int64(st, 3, i % 4);
        sqlite3_bind_int64(st, 4, (long long)x);
        sqlite3_bind_int64(st, 5, 1 + (long long)(x >> 40) % 5);
        sqlite3_bind_int64(st, 6, 1 + (long long)(x >> 20) % 500);
        if (sqlite3_step(st) != SQLITE_DONE)
            return 1;
        sqlite3_reset(st);
        if (i % 50000 == 49999 || i == n - 1)
            sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("sqlite_insert_per_s %.0f\n", (double)n / s);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return 0;
}
