/* Tests for spool/reader.c with real segment files: iteration from an
 * offset, buffer refills and record sizes up to the maximum, torn tails of
 * live and finished segments, corruption reports and resync, unwritten
 * (preallocated) zero tails. */
#include "spool/spool.h"
#include "tests/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/tally-test-reader-XXXXXX";

/* What the corruption callback saw. */
typedef struct {
    int      calls;
    char     segment[SPOOL_NAME_MAX];
    uint64_t offset[16];
    char     why[16][64];
} reports;

static void
on_corrupt(void *ctx, const char *segment, uint64_t offset, const char *why)
{
    reports *r = ctx;
    if (r->calls < 16) {
        r->offset[r->calls] = offset;
        snprintf(r->why[r->calls], sizeof r->why[0], "%s", why);
    }
    snprintf(r->segment, sizeof r->segment, "%s", segment);
    r->calls++;
}

static void
rm_dir_contents(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4096];

    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
}

/* Encodes record number i: (i % 3) + 1 events, url "/page/<i>", time i. */
static size_t
make_record(unsigned char *buf, size_t cap, uint64_t i)
{
    static char urls[3][32];
    spool_event ev[3];
    size_t n = (size_t)(i % 3) + 1;

    for (size_t k = 0; k < n; k++) {
        memset(&ev[k], 0, sizeof ev[k]);
        snprintf(urls[k], sizeof urls[k], "/page/%llu/%zu",
                 (unsigned long long)i, k);
        ev[k].time_ms = i;
        ev[k].visitor_id = i * 31 + k;
        ev[k].field[SPOOL_F_SITE] = (spool_str){"example.com", 11};
        ev[k].field[SPOOL_F_NAME] = (spool_str){"pageview", 8};
        ev[k].field[SPOOL_F_URL] = (spool_str){urls[k], strlen(urls[k])};
        ev[k].field[SPOOL_F_UA] =
            (spool_str){"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", 46};
    }
    return spool_record_encode(ev, n, buf, cap);
}

/* Checks that ev/n is record number i as made by make_record. */
static int
is_record(const spool_event *ev, size_t n, uint64_t i)
{
    char url[32];

    if (n != (size_t)(i % 3) + 1)
        return 0;
    for (size_t k = 0; k < n; k++) {
        snprintf(url, sizeof url, "/page/%llu/%zu", (unsigned long long)i, k);
        if (ev[k].time_ms != i || ev[k].visitor_id != i * 31 + k
            || ev[k].field[SPOOL_F_URL].len != strlen(url)
            || memcmp(ev[k].field[SPOOL_F_URL].ptr, url, strlen(url)) != 0)
            return 0;
    }
    return 1;
}

static int
new_segment(uint64_t us, char *name)
{
    int fd = spool_segment_create(dir, (uint32_t)getpid(), us, 0, name);
    CHECK(fd >= 0);
    return fd;
}

static void
append(int fd, const void *buf, size_t len)
{
    CHECK_EQ_U64(spool_segment_append(fd, buf, len, NULL), 0);
}

/* Appends records first..last-1; stores each record's start offset. */
static void
append_records(int fd, uint64_t first, uint64_t last, uint64_t *starts)
{
    unsigned char buf[1024];
    struct stat st;

    for (uint64_t i = first; i < last; i++) {
        size_t len = make_record(buf, sizeof buf, i);
        CHECK(len > 0);
        fstat(fd, &st);
        if (starts)
            starts[i] = (uint64_t)st.st_size;
        append(fd, buf, len);
    }
}

static void
test_iterate_and_offsets(void)
{
    enum { N = 6000 }; /* > 1 MB: many buffer refills, straddling records */
    char name[SPOOL_NAME_MAX];
    uint64_t *starts = calloc(N + 1, sizeof *starts), ro, no, prev;
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    size_t n;
    int fd = new_segment(100, name), ok = 1, rc;
    spool_reader *r;
    struct stat st;

    append_records(fd, 0, N, starts);
    fstat(fd, &st);
    CHECK(st.st_size > 1000000);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK(r != NULL);
    CHECK_EQ_U64(spool_reader_offset(r), SPOOL_SEG_HDR_SIZE);
    prev = SPOOL_SEG_HDR_SIZE;
    for (uint64_t i = 0; i < N; i++) {
        rc = spool_reader_next(r, ev, &n, &ro, &no);
        if (rc != 1 || !is_record(ev, n, i) || ro != starts[i] || ro != prev
            || no != spool_reader_offset(r)) {
            ok = 0;
            break;
        }
        prev = no;
    }
    CHECK(ok);
    CHECK_EQ_U64(prev, (uint64_t)st.st_size);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK(spool_reader_at_eof(r));
    CHECK_EQ_U64(rep.calls, 0);
    spool_reader_close(r);

    /* resume from a stored offset (the one just past record 4321) */
    r = spool_reader_open(dir, name, starts[4322], on_corrupt, &rep);
    CHECK(r != NULL);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK(is_record(ev, n, 4322));
    CHECK_EQ_U64(ro, starts[4322]);
    CHECK(!spool_reader_at_eof(r));
    spool_reader_close(r);

    /* bad arguments */
    CHECK(spool_reader_open(dir, name, 5, NULL, NULL) == NULL);
    CHECK(spool_reader_open(dir, "nope", 0, NULL, NULL) == NULL);
    CHECK_EQ_U64(errno, EINVAL);
    CHECK(spool_reader_open(dir, "seg-0000000000000001-00000001.tsp", 0,
                            NULL, NULL) == NULL);
    CHECK_EQ_U64(errno, ENOENT);
    spool_reader_close(NULL);
    close(fd);
    free(starts);
    rm_dir_contents();
}

/* Records of the maximum size, and a mix of sizes, through one reader. */
static void
test_max_size_records(void)
{
    char name[SPOOL_NAME_MAX];
    size_t room = 65535 - SPOOL_EVENT_HDR_SIZE - 4 * 3 - 4, n, len;
    char *big = malloc(room);
    unsigned char *buf = malloc(SPOOL_REC_HDR_SIZE + SPOOL_MAX_PAYLOAD);
    unsigned char small[1024];
    spool_event ev[16], out[SPOOL_MAX_EVENTS];
    uint64_t ro, no;
    spool_reader *r;
    int fd = new_segment(200, name);

    memset(big, 'z', room);
    for (int i = 0; i < 16; i++) {
        memset(&ev[i], 0, sizeof ev[i]);
        ev[i].time_ms = (uint64_t)i;
        ev[i].field[SPOOL_F_SITE] = (spool_str){"s", 1};
        ev[i].field[SPOOL_F_NAME] = (spool_str){"n", 1};
        ev[i].field[SPOOL_F_URL] = (spool_str){"u", 1};
        ev[i].field[SPOOL_F_PROPS] = (spool_str){big, room};
    }
    len = spool_record_encode(ev, 16, buf, SPOOL_REC_HDR_SIZE
                                               + SPOOL_MAX_PAYLOAD);
    CHECK(len > SPOOL_MAX_PAYLOAD - 100 && len <= SPOOL_REC_HDR_SIZE
                                                     + SPOOL_MAX_PAYLOAD);
    append_records(fd, 0, 3, NULL);
    append(fd, buf, len);
    append(fd, small, make_record(small, sizeof small, 3));
    append(fd, buf, len);
    append(fd, buf, len);
    append(fd, small, make_record(small, sizeof small, 4));

    r = spool_reader_open(dir, name, 0, NULL, NULL);
    CHECK(r != NULL);
    for (uint64_t i = 0; i < 3; i++) {
        CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 1);
        CHECK(is_record(out, n, i));
    }
    CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 1);
    CHECK_EQ_U64(n, 16);
    CHECK_EQ_U64(no - ro, len);
    CHECK_EQ_U64(out[15].field[SPOOL_F_PROPS].len, room);
    CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 1);
    CHECK(is_record(out, n, 3));
    CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 1);
    CHECK_EQ_U64(n, 16);
    CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 1);
    CHECK_EQ_U64(n, 16);
    CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 1);
    CHECK(is_record(out, n, 4));
    CHECK_EQ_U64(spool_reader_next(r, out, &n, &ro, &no), 0);
    CHECK(spool_reader_at_eof(r));
    spool_reader_close(r);
    close(fd);
    free(big);
    free(buf);
    rm_dir_contents();
}

/* A live segment ending inside a record: the reader stops before it,
 * reports nothing, and reads it once the rest has been appended. */
static void
test_torn_tail_live_then_resume(void)
{
    unsigned char rec[1024];
    size_t len = make_record(rec, sizeof rec, 2), n;
    size_t cuts[] = {1, 3, 4, 10, 19, 20, 21, 40, len - 1};
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no, starts[3];

    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        char name[SPOOL_NAME_MAX];
        int fd = new_segment(300 + c, name);
        spool_reader *r;

        append_records(fd, 0, 2, starts);
        append(fd, rec, cuts[c]);
        r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
        CHECK(r != NULL);
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
        CHECK(is_record(ev, n, 1));
        uint64_t tail = no;
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
        CHECK_EQ_U64(spool_reader_offset(r), tail);
        CHECK(!spool_reader_at_eof(r));
        append(fd, rec + cuts[c], len - cuts[c]);
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
        CHECK(is_record(ev, n, 2));
        CHECK_EQ_U64(ro, tail);
        CHECK_EQ_U64(no, tail + len);
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
        CHECK(spool_reader_at_eof(r));
        spool_reader_close(r);
        close(fd);
    }
    CHECK_EQ_U64(rep.calls, 0);
    rm_dir_contents();
}

/* The writer truncates a torn write away and writes a different record at
 * the same offset: the reader must not mix the old bytes with the new. */
static void
test_torn_tail_rewritten(void)
{
    unsigned char a[1024], b[1024];
    size_t la = make_record(a, sizeof a, 5), lb = make_record(b, sizeof b, 7);
    char name[SPOOL_NAME_MAX], path[4096];
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no;
    size_t n;
    int fd = new_segment(400, name);
    spool_reader *r;

    append(fd, a, la - 10);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(truncate(path, SPOOL_SEG_HDR_SIZE) == 0);
    append(fd, b, lb);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK(is_record(ev, n, 7));
    CHECK_EQ_U64(ro, SPOOL_SEG_HDR_SIZE);
    CHECK_EQ_U64(rep.calls, 0);
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

static void
test_corrupt_record_in_middle(void)
{
    char name[SPOOL_NAME_MAX], path[4096];
    uint64_t starts[10], ro, no;
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    unsigned char byte;
    size_t n;
    int fd = new_segment(500, name), rfd;
    spool_reader *r;

    append_records(fd, 0, 10, starts);
    /* flip one payload byte of record 3 */
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rfd = open(path, O_RDWR);
    CHECK(pread(rfd, &byte, 1, (off_t)starts[3] + 30) == 1);
    byte ^= 0x04;
    CHECK(pwrite(rfd, &byte, 1, (off_t)starts[3] + 30) == 1);
    /* overwrite records 6 and 7 with garbage holding a false magic */
    unsigned char junk[2048];
    size_t jl = (size_t)(starts[8] - starts[6]);
    memset(junk, 0x5A, jl);
    memcpy(junk + 17, "TLYR", 4);
    memcpy(junk + jl - 2, "TL", 2);
    CHECK(pwrite(rfd, junk, jl, (off_t)starts[6]) == (ssize_t)jl);
    close(rfd);

    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    uint64_t expect[] = {0, 1, 2, 4, 5, 8, 9};
    for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
        CHECK(is_record(ev, n, expect[k]));
        CHECK_EQ_U64(ro, starts[expect[k]]);
    }
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK(spool_reader_at_eof(r));
    CHECK_EQ_U64(rep.calls, 2);
    CHECK_STR(rep.segment, name);
    CHECK_EQ_U64(rep.offset[0], starts[3]);
    CHECK_STR(rep.why[0], "bad payload checksum");
    CHECK_EQ_U64(rep.offset[1], starts[6]);
    CHECK_STR(rep.why[1], "bad record magic");
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

static void
test_torn_tail_finished_reported_once(void)
{
    unsigned char rec[1024];
    size_t len = make_record(rec, sizeof rec, 2), n;
    char name[SPOOL_NAME_MAX];
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no, starts[3];
    int fd = new_segment(600, name);
    spool_reader *r;

    append_records(fd, 0, 2, starts);
    append(fd, rec, len / 2);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 0); /* live: just waiting */
    CHECK(!spool_reader_at_eof(r));
    spool_reader_set_finished(r, 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 1);
    CHECK_EQ_U64(rep.offset[0], no);
    CHECK_STR(rep.why[0], "torn tail");
    CHECK(spool_reader_at_eof(r));
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 1);
    spool_reader_close(r);

    /* the same file read fresh as finished: same single report */
    rep.calls = 0;
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    spool_reader_set_finished(r, 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 1);
    CHECK_EQ_U64(rep.offset[0], starts[1] + (no - ro));
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

/* Garbage up to the end of a segment: reported once; a live segment waits
 * at the end, a finished one is consumed. */
static void
test_garbage_tail(void)
{
    char name[SPOOL_NAME_MAX];
    unsigned char junk[300];
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no, starts[2];
    size_t n;
    int fd = new_segment(700, name);
    spool_reader *r;

    append_records(fd, 0, 1, starts);
    memset(junk, 0xC3, sizeof junk);
    append(fd, junk, sizeof junk);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 1);
    CHECK_EQ_U64(rep.offset[0], no);
    /* a record appended after the garbage is still found */
    append_records(fd, 1, 2, starts);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK(is_record(ev, n, 1));
    CHECK_EQ_U64(ro, starts[1]);
    append(fd, junk, 7);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 2);
    CHECK(!spool_reader_at_eof(r));
    spool_reader_set_finished(r, 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK(spool_reader_at_eof(r));
    CHECK_EQ_U64(rep.calls, 2);
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

/* Turns fd (from spool_segment_create, O_APPEND) into one records are
 * written in place on, and preallocates `zeros` bytes after its end. */
static uint64_t
preallocate(int fd, uint64_t zeros)
{
    struct stat st;

    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND) == 0);
    fstat(fd, &st);
    CHECK_EQ_U64(spool_segment_preallocate(fd, (uint64_t)st.st_size,
                                           (uint64_t)st.st_size + zeros), 0);
    return (uint64_t)st.st_size;
}

/* A zero tail (UNWRITTEN TAIL in spool.h), larger than the reader's
 * buffer: a live segment waits there without a report and reads the
 * records later written over it; a finished one ends there, read to the
 * end of the file, without a report. */
static void
test_unwritten_tail(void)
{
    unsigned char rec[1024];
    char name[SPOOL_NAME_MAX];
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no, at;
    size_t n, len;
    int fd = new_segment(750, name);
    spool_reader *r;

    append_records(fd, 0, 2, NULL);
    at = preallocate(fd, 300 * 1024);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(no, at);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_offset(r), at);
    CHECK(!spool_reader_at_eof(r));
    for (uint64_t i = 2; i < 4; i++) {
        len = make_record(rec, sizeof rec, i);
        CHECK_EQ_U64(spool_segment_write_at(fd, at, rec, len, NULL), 0);
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
        CHECK(is_record(ev, n, i));
        CHECK_EQ_U64(ro, at);
        at += len;
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    }
    CHECK_EQ_U64(rep.calls, 0);
    spool_reader_set_finished(r, 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 0);
    CHECK(spool_reader_at_eof(r));
    spool_reader_close(r);

    /* read fresh as finished: four records, then the end, no report */
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    spool_reader_set_finished(r, 1);
    for (uint64_t i = 0; i < 4; i++) {
        CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
        CHECK(is_record(ev, n, i));
    }
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 0);
    CHECK(spool_reader_at_eof(r));
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

/* Zeros followed by other bytes: nothing to report while live (not
 * written yet); once finished it is corrupt, reported once where the
 * zeros start, and a record after it is still found. */
static void
test_zeros_then_data(void)
{
    unsigned char rec[1024];
    char name[SPOOL_NAME_MAX];
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no, at;
    size_t n, len;
    int fd = new_segment(760, name);
    spool_reader *r;

    append_records(fd, 0, 1, NULL);
    at = preallocate(fd, 5000);
    len = make_record(rec, sizeof rec, 1);
    CHECK_EQ_U64(spool_segment_write_at(fd, at + 5000, rec, len, NULL), 0);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 0);
    spool_reader_set_finished(r, 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK(is_record(ev, n, 1));
    CHECK_EQ_U64(ro, at + 5000);
    CHECK_EQ_U64(rep.calls, 1);
    CHECK_EQ_U64(rep.offset[0], at);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK(spool_reader_at_eof(r));
    CHECK_EQ_U64(rep.calls, 1);
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

/* Headers: none yet, partial, damaged. */
static void
test_segment_header_states(void)
{
    char name[SPOOL_NAME_MAX], path[4096];
    unsigned char hdr[SPOOL_SEG_HDR_SIZE], rec[1024];
    spool_event ev[SPOOL_MAX_EVENTS];
    reports rep = {0};
    uint64_t ro, no;
    size_t n;
    int fd;
    spool_reader *r;

    /* a file still being created: 10 header bytes */
    spool_segment_name(name, 800, (uint32_t)getpid());
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    spool_segment_header(hdr, (uint32_t)getpid(), 800);
    CHECK(write(fd, hdr, 10) == 10);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK(write(fd, hdr + 10, sizeof hdr - 10) == sizeof hdr - 10);
    size_t len = make_record(rec, sizeof rec, 1);
    CHECK(write(fd, rec, len) == (ssize_t)len);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 1);
    CHECK(is_record(ev, n, 1));
    spool_reader_close(r);
    close(fd);
    CHECK_EQ_U64(rep.calls, 0);

    /* a damaged header: nothing read; reported once when finished */
    spool_segment_name(name, 801, (uint32_t)getpid());
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    spool_segment_header(hdr, (uint32_t)getpid(), 801);
    hdr[3] ^= 1;
    CHECK(write(fd, hdr, sizeof hdr) == sizeof hdr);
    CHECK(write(fd, rec, len) == (ssize_t)len);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 0);
    spool_reader_set_finished(r, 1);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    CHECK_EQ_U64(rep.calls, 1);
    CHECK_EQ_U64(rep.offset[0], 0);
    CHECK_STR(rep.why[0], "bad segment header");
    CHECK(spool_reader_at_eof(r));
    spool_reader_close(r);
    close(fd);

    /* a header that does not match the file name */
    spool_segment_name(name, 802, (uint32_t)getpid());
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    spool_segment_header(hdr, (uint32_t)getpid(), 999);
    CHECK(write(fd, hdr, sizeof hdr) == sizeof hdr);
    CHECK(write(fd, rec, len) == (ssize_t)len);
    r = spool_reader_open(dir, name, 0, on_corrupt, &rep);
    CHECK_EQ_U64(spool_reader_next(r, ev, &n, &ro, &no), 0);
    spool_reader_close(r);
    close(fd);
    rm_dir_contents();
}

int
main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_iterate_and_offsets);
    RUN(test_max_size_records);
    RUN(test_torn_tail_live_then_resume);
    RUN(test_torn_tail_rewritten);
    RUN(test_corrupt_record_in_middle);
    RUN(test_torn_tail_finished_reported_once);
    RUN(test_garbage_tail);
    RUN(test_unwritten_tail);
    RUN(test_zeros_then_data);
    RUN(test_segment_header_states);
    rm_dir_contents();
    rmdir(dir);
    return check_summary("spool/reader");
}
