/* Tests for aggregator/drain.c on real spool files and a real database:
 * exactly once across restarts, live segments growing, corrupt records
 * skipped and counted, consumed finished segments deleted. */
#include "aggregator/attrs.h"
#include "aggregator/db.h"
#include "aggregator/drain.h"
#include "aggregator/ingest.h"
#include "spool/spool.h"
#include "tests/check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], dbp[96];

static void
setup(void)
{
    strcpy(dir, "/tmp/tally-drain-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(dbp, sizeof(dbp), "%s.db", dir);
}

static void
teardown(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s-wal' '%s-shm'", dir, dbp, dbp, dbp);
    CHECK(system(cmd) == 0);
}

/* Appends one record of n pageviews of site a.com to fd. */
static void
append(int fd, int n, uint64_t t0, uint64_t vid0)
{
    spool_event ev[SPOOL_MAX_EVENTS];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < n; i++) {
        ev[i].time_ms = t0 + (uint64_t)i;
        ev[i].visitor_id = vid0 + (uint64_t)i;
        ev[i].field[SPOOL_F_SITE] = (spool_str){ "a.com", 5 };
        ev[i].field[SPOOL_F_NAME] = (spool_str){ "pageview", 8 };
        ev[i].field[SPOOL_F_URL] = (spool_str){ "https://a.com/x?y", 17 };
    }
    unsigned char buf[65536];
    size_t len = spool_record_encode(ev, (size_t)n, buf, sizeof(buf));
    CHECK(len > 0);
    int ok;
    CHECK(spool_segment_append(fd, buf, len, &ok) == 0);
}

static uint64_t
count_events(void)
{
    db *d;
    char err[256];
    db_stat_row *rows;
    size_t n;
    int64_t site;
    uint64_t total = 0;
    if (db_open(dbp, DB_RO, &d, err, sizeof(err)) != 0)
        return 0;
    if (db_site_find(d, "a.com", &site) == 1
        && db_stats(d, site, 0, INT64_MAX, DB_GROUP_DAY, &rows, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            total += rows[i].events;
        db_stat_rows_free(rows, n);
    }
    db_close(d);
    return total;
}

/* One drain pass with a fresh handle, as a restarted tallyd would. */
static drain_stats
pass(void)
{
    db *d;
    char err[256];
    drain_stats st;
    memset(&st, 0, sizeof(st));
    CHECK(db_open(dbp, DB_RW, &d, err, sizeof(err)) == 0);
    attrs_ctx *x = attrs_new(NULL, err, sizeof(err));
    ingest *g = ingest_new(d, x);
    drain *dr = drain_new(dir, d, g, 7);    /* small batches: many commits */
    CHECK(drain_pass(dr, &st, NULL) == 0);
    drain_free(dr);
    ingest_free(g);
    attrs_free(x);
    db_close(d);
    return st;
}

static void
test_exactly_once(void)
{
    setup();
    char name[SPOOL_NAME_MAX];
    /* our own pid: the segment stays live until marked finished */
    int fd = spool_segment_create(dir, (uint32_t)getpid(), 1700000000000000ull, 0, name);
    CHECK(fd >= 0);
    append(fd, 5, 1700000000000ull, 1);
    append(fd, 10, 1700000001000ull, 100);
    drain_stats st = pass();
    CHECK_EQ_U64(st.events, 15);
    CHECK_EQ_U64(count_events(), 15);
    st = pass();                                   /* nothing new */
    CHECK_EQ_U64(st.events, 0);
    CHECK_EQ_U64(count_events(), 15);

    append(fd, 3, 1700000002000ull, 200);          /* the live segment grows */
    st = pass();
    CHECK_EQ_U64(st.events, 3);
    CHECK_EQ_U64(count_events(), 18);

    /* a torn tail in a live segment waits */
    CHECK(write(fd, "TLYR\x05", 5) == 5);
    st = pass();
    CHECK_EQ_U64(st.events, 0);
    CHECK_EQ_U64(st.corrupt, 0);
    CHECK_EQ_U64(st.segments_pending, 1);

    /* finishing it: the torn tail is reported, the file goes away */
    close(fd);
    CHECK(spool_segment_finish(dir, name, 0) == 0);
    st = pass();
    CHECK_EQ_U64(st.events, 0);
    CHECK_EQ_U64(st.corrupt, 1);
    CHECK_EQ_U64(st.segments_deleted, 1);
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof(path), "%s/%s.done", dir, name);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ_U64(count_events(), 18);
    st = pass();                                   /* forgets its row */
    CHECK_EQ_U64(st.events, 0);
    CHECK_EQ_U64(count_events(), 18);
    teardown();
}

static void
test_corrupt_middle(void)
{
    setup();
    char name[SPOOL_NAME_MAX];
    int fd = spool_segment_create(dir, (uint32_t)getpid(), 1700000000000001ull, 0, name);
    CHECK(fd >= 0);
    append(fd, 4, 1700000000000ull, 1);
    off_t bad = lseek(fd, 0, SEEK_END);
    append(fd, 6, 1700000000100ull, 10);
    append(fd, 2, 1700000000200ull, 20);
    close(fd);
    /* flip a payload byte of the middle record */
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int rw = open(path, O_RDWR);
    unsigned char b;
    CHECK(pread(rw, &b, 1, bad + 30) == 1);
    b ^= 0xff;
    CHECK(pwrite(rw, &b, 1, bad + 30) == 1);
    close(rw);
    CHECK(spool_segment_finish(dir, name, 0) == 0);

    drain_stats st = pass();
    CHECK_EQ_U64(st.events, 6);
    CHECK_EQ_U64(st.corrupt, 1);
    CHECK_EQ_U64(st.segments_deleted, 1);
    CHECK_EQ_U64(count_events(), 6);
    teardown();
}

static void
test_consumed_but_not_unlinked(void)
{
    /* the state a crash between commit and unlink leaves behind: the row
     * says consumed, the file is still there -- nothing is read again */
    setup();
    char name[SPOOL_NAME_MAX];
    int fd = spool_segment_create(dir, (uint32_t)getpid(), 1700000000000002ull, 0, name);
    append(fd, 3, 1700000000000ull, 1);
    close(fd);
    CHECK(spool_segment_finish(dir, name, 0) == 0);
    char path[160], keep[200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(keep, sizeof(keep), "%s.keep", dir);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, keep);
    CHECK(system(cmd) == 0);
    CHECK_EQ_U64(pass().events, 3);
    CHECK(access(path, F_OK) != 0);
    /* put the file back before the row is forgotten */
    snprintf(cmd, sizeof(cmd), "mv '%s' '%s' && touch '%s.done'", keep, path, path);
    CHECK(system(cmd) == 0);
    drain_stats st = pass();
    CHECK_EQ_U64(st.events, 0);
    CHECK_EQ_U64(st.segments_deleted, 1);
    CHECK_EQ_U64(count_events(), 3);
    teardown();
}

int
main(void)
{
    RUN(test_exactly_once);
    RUN(test_corrupt_middle);
    RUN(test_consumed_but_not_unlinked);
    return check_summary("drain");
}
