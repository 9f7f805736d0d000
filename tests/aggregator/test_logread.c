/* test_logread.c -- log line reader (plain, gzip, stdin) and follower. */
#include "aggregator/logread.h"
#include "tests/check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static const char *
tpath(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
    return buf[i];
}

static void
write_file(const char *path, const char *data, size_t n, const char *mode)
{
    FILE *fp = fopen(path, mode);
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    CHECK(fwrite(data, 1, n, fp) == n);
    fclose(fp);
}

static void
write_gz(const char *path, const char *data, size_t n, const char *mode)
{
    gzFile g = gzopen(path, mode);
    CHECK(g != NULL);
    if (g == NULL)
        return;
    CHECK(gzwrite(g, data, (unsigned)n) == (int)n);
    gzclose(g);
}

/* ---- the test input and the lines it must give ------------------------- */

static char  *content;
static size_t content_n;

static void
build_content(void)
{
    size_t cap = 8u << 20;
    content = malloc(cap);
    size_t n = 0;
#define ADD(s) do { memcpy(content + n, s, strlen(s)); n += strlen(s); } while (0)
    ADD("first line\n");
    ADD("\n");                                     /* empty line      */
    ADD("crlf line\r\n");
    ADD("\r\n");
    for (int i = 0; i < 20000; i++) {
        char l[128];
        snprintf(l, sizeof l, "line %d 1.2.3.4 - - [x] \"GET /%d\"\n", i,
                 i * 7);
        ADD(l);
    }
    /* exactly LF_LINE_MAX bytes: fits; one more: too long */
    memset(content + n, 'a', LF_LINE_MAX);
    n += LF_LINE_MAX;
    ADD("\n");
    memset(content + n, 'b', LF_LINE_MAX + 1);
    n += LF_LINE_MAX + 1;
    ADD("\n");
    ADD("after the long ones\n");
    /* longer than the reader's whole buffer */
    for (int i = 0; i < 3 * 1024 * 1024; i++)
        content[n++] = (char)('c' + i % 20);
    ADD("\n");
    ADD("last line without newline");
#undef ADD
    content_n = n;
}

typedef struct {
    size_t   off, n, next;
    int      too_long;
} want_line;

/* the reference: split content by hand */
static size_t
expected_lines(want_line *w, size_t max)
{
    size_t k = 0, s = 0;
    while (s < content_n && k < max) {
        const char *nl = memchr(content + s, '\n', content_n - s);
        size_t e = nl ? (size_t)(nl - content) : content_n;
        size_t n = e - s;
        w[k].off = s;
        w[k].next = nl ? e + 1 : e;
        w[k].too_long = n > LF_LINE_MAX;
        if (w[k].too_long)
            n = LF_LINE_MAX;
        else if (n > 0 && content[s + n - 1] == '\r')
            n--;
        w[k].n = n;
        k++;
        s = w[k - 1].next;
    }
    return k;
}

static want_line want[30000];
static size_t    nwant;

/* reads everything from r and compares with want[from..] */
static void
check_reader(lf_reader *r, size_t from, const char *what)
{
    lf_line l;
    size_t k = from, bad = 0;
    int rc;
    while ((rc = lf_reader_next(r, &l)) == 1) {
        if (k >= nwant) {
            bad++;
            break;
        }
        const want_line *w = &want[k];
        if (l.n != w->n || memcmp(l.p, content + w->off, l.n) != 0
            || l.offset != w->off || l.next != w->next
            || l.too_long != w->too_long || l.lineno != k + 1) {
            if (bad++ < 3)
                fprintf(stderr, "  %s: line %zu: n %zu/%zu off %llu/%zu "
                        "next %llu/%zu long %d/%d lineno %llu\n", what, k + 1,
                        l.n, w->n, (unsigned long long)l.offset, w->off,
                        (unsigned long long)l.next, w->next, l.too_long,
                        w->too_long, (unsigned long long)l.lineno);
        }
        k++;
    }
    CHECK_EQ_U64(rc, 0);
    CHECK_EQ_U64(bad, 0);
    CHECK_EQ_U64(k, nwant);
    CHECK_STR(lf_reader_error(r), "");
}

static void
test_plain_and_gzip(void)
{
    /* the name does not decide: magic bytes do */
    write_file(tpath("plain.log"), content, content_n, "wb");
    write_file(tpath("plain.gz"), content, content_n, "wb");
    write_gz(tpath("packed.log"), content, content_n, "wb");
    /* two gzip members one after the other read as one stream */
    size_t half = content_n / 2;
    write_gz(tpath("multi.gz"), content, half, "wb");
    write_gz(tpath("multi.gz"), content + half, content_n - half, "ab");

    static const struct {
        const char *name;
        int         gz;
    } files[] = {
        { "plain.log", 0 }, { "plain.gz", 0 }, { "packed.log", 1 },
        { "multi.gz", 1 },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char err[256];
        lf_reader *r = lf_reader_open(tpath(files[i].name), err, sizeof err);
        CHECK(r != NULL);
        if (r == NULL)
            continue;
        CHECK_EQ_U64(lf_reader_is_gzip(r), files[i].gz);
        check_reader(r, 0, files[i].name);
        lf_reader_close(r);
    }
    char err[256];
    CHECK(lf_reader_open(tpath("missing.log"), err, sizeof err) == NULL);
    CHECK(strstr(err, "No such file") != NULL);
}

static void
test_seek(void)
{
    /* resume after line 1000, plain and gzip */
    const char *names[] = { "plain.log", "packed.log" };
    for (size_t i = 0; i < 2; i++) {
        lf_reader *r = lf_reader_open(tpath(names[i]), NULL, 0);
        CHECK(r != NULL);
        if (r == NULL)
            continue;
        CHECK_EQ_U64(lf_reader_seek(r, want[999].next, 1000), 0);
        check_reader(r, 1000, names[i]);
        lf_reader_close(r);
        /* resuming exactly at the end gives nothing, past it fails */
        r = lf_reader_open(tpath(names[i]), NULL, 0);
        CHECK(r != NULL);
        if (r == NULL)
            continue;
        CHECK_EQ_U64(lf_reader_seek(r, content_n, nwant), 0);
        lf_line l;
        CHECK_EQ_U64(lf_reader_next(r, &l), 0);
        CHECK_EQ_U64(lf_reader_seek(r, 0, 0), -1);    /* after reading */
        lf_reader_close(r);
        r = lf_reader_open(tpath(names[i]), NULL, 0);
        CHECK(r != NULL);
        if (r == NULL)
            continue;
        CHECK_EQ_U64(lf_reader_seek(r, content_n + 1, 0), -1);
        CHECK(strstr(lf_reader_error(r), "cannot resume") != NULL);
        lf_reader_close(r);
    }
}

static void
test_truncated_gzip(void)
{
    /* cut a gzip file in the middle: lines before, then an error */
    size_t n = 0;
    char *gz = NULL;
    FILE *fp = fopen(tpath("packed.log"), "rb");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    gz = malloc(content_n);
    n = fread(gz, 1, content_n, fp);
    fclose(fp);
    write_file(tpath("cut.gz"), gz, n / 2, "wb");
    free(gz);
    lf_reader *r = lf_reader_open(tpath("cut.gz"), NULL, 0);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    lf_line l;
    int rc;
    size_t lines = 0;
    while ((rc = lf_reader_next(r, &l)) == 1)
        lines++;
    CHECK_EQ_U64(rc, -1);
    CHECK(lines > 100);
    CHECK_STR(lf_reader_error(r), "gzip data ends too early (truncated file)");
    lf_reader_close(r);

    /* gzip magic, then garbage */
    write_file(tpath("bad.gz"), "\x1f\x8bxxxxxxxxxxxxxxxxxxxx", 22, "wb");
    r = lf_reader_open(tpath("bad.gz"), NULL, 0);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK_EQ_U64(lf_reader_next(r, &l), -1);
    CHECK(strncmp(lf_reader_error(r), "gzip", 4) == 0);
    lf_reader_close(r);
}

/* reads stdin fed through a pipe by a child writing `file` */
static void
read_stdin_from(const char *file, int gz)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        int fd = open(file, O_RDONLY);
        char buf[65536];
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
            if (write(p[1], buf, (size_t)n) != n)
                _exit(1);
        _exit(0);
    }
    close(p[1]);
    int saved = dup(STDIN_FILENO);
    dup2(p[0], STDIN_FILENO);
    close(p[0]);
    lf_reader *r = lf_reader_open("-", NULL, 0);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_EQ_U64(lf_reader_is_gzip(r), gz);
        check_reader(r, 0, file);
        lf_reader_close(r);
    }
    dup2(saved, STDIN_FILENO);
    close(saved);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_stdin(void)
{
    read_stdin_from(tpath("plain.log"), 0);
    read_stdin_from(tpath("packed.log"), 1);
}

/* ---- follow ----------------------------------------------------------- */

static void
append(const char *path, const char *s)
{
    write_file(path, s, strlen(s), "ab");
}

/* polls until a line comes or `tries` polls returned nothing */
static int
poll_line(lf_follow *f, char *buf, size_t cap, int tries)
{
    lf_line l;
    for (int i = 0; i < tries; i++) {
        int rc = lf_follow_poll(f, &l);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            size_t n = l.n < cap - 1 ? l.n : cap - 1;
            memcpy(buf, l.p, n);
            buf[n] = '\0';
            return 1;
        }
    }
    return 0;
}

static void
test_follow_grow(void)
{
    const char *p = tpath("grow.log");
    write_file(p, "one\ntwo\n", 8, "wb");
    char err[256], b[128];
    lf_follow *f = lf_follow_open(p, NULL, err, sizeof err);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "one");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "two");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 3), 0);
    /* a half-written line waits for its newline */
    append(p, "thr");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 3), 0);
    append(p, "ee\nfour\n");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "three");
    lf_follow_pos pos;
    lf_follow_position(f, &pos);
    CHECK_EQ_U64(pos.offset, 14);
    CHECK_EQ_U64(pos.lineno, 3);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK_EQ_U64(pos.ino, st.st_ino);
    CHECK_EQ_U64(pos.dev, st.st_dev);
    lf_follow_close(f);

    /* resume where we were: the next line is "four" */
    f = lf_follow_open(p, &pos, err, sizeof err);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "four");
    lf_line l;
    CHECK_EQ_U64(lf_follow_poll(f, &l), 0);
    CHECK_EQ_U64(lf_follow_restarts(f), 0);
    lf_follow_close(f);

    /* a resume position of another file, or past the end: from 0 */
    lf_follow_pos other = pos;
    other.ino++;
    f = lf_follow_open(p, &other, err, sizeof err);
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK_EQ_U64(lf_follow_restarts(f), 1);
        CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
        CHECK_STR(b, "one");
        lf_follow_close(f);
    }
    other = pos;
    other.offset = 1000;
    f = lf_follow_open(p, &other, err, sizeof err);
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK_EQ_U64(lf_follow_restarts(f), 1);
        CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
        CHECK_STR(b, "one");
        lf_follow_close(f);
    }
    /* gzip cannot be followed */
    CHECK(lf_follow_open(tpath("packed.log"), NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "gzip") != NULL);
    CHECK(lf_follow_open(tpath("nope.log"), NULL, err, sizeof err) == NULL);
}

static void
test_follow_rename(void)
{
    const char *p = tpath("rot.log"), *old = tpath("rot.log.1");
    write_file(p, "a1\na2\n", 6, "wb");
    char err[256], b[128];
    lf_follow *f = lf_follow_open(p, NULL, err, sizeof err);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "a1");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "a2");
    /* logrotate: rename, then (create) a new file, while the server
     * still writes to the old one until it reopens its log */
    CHECK(rename(p, old) == 0);
    lf_line l;
    CHECK_EQ_U64(lf_follow_poll(f, &l), 0);       /* no file at path */
    append(old, "a3\n");
    write_file(p, "b1\n", 3, "wb");
    append(old, "a4\na5-no-newline");
    static const char *order[] = { "a3", "a4", "a5-no-newline", "b1" };
    for (size_t i = 0; i < 4; i++) {
        b[0] = '\0';
        CHECK_EQ_U64(poll_line(f, b, sizeof b, 5), 1);
        CHECK_STR(b, order[i]);
    }
    CHECK_EQ_U64(lf_follow_restarts(f), 1);
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 5), 0);
    lf_follow_pos pos;
    lf_follow_position(f, &pos);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK_EQ_U64(pos.ino, st.st_ino);
    CHECK_EQ_U64(pos.offset, 3);
    CHECK_EQ_U64(pos.lineno, 1);
    /* the new file goes on as usual */
    append(p, "b2\n");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "b2");
    /* a writer that keeps the old file busy delays the switch */
    CHECK(rename(p, old) == 0);
    write_file(p, "c1\n", 3, "wb");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 0);  /* sees the move */
    append(old, "b3\n");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "b3");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 0);  /* quiet once     */
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);  /* quiet twice    */
    CHECK_STR(b, "c1");
    CHECK_EQ_U64(lf_follow_restarts(f), 2);
    lf_follow_close(f);
}

static void
test_follow_copytruncate(void)
{
    const char *p = tpath("ct.log");
    write_file(p, "x1 long enough line\nx2 long enough line\n", 40, "wb");
    char err[256], b[128];
    lf_follow *f = lf_follow_open(p, NULL, err, sizeof err);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "x2 long enough line");
    /* copytruncate: copy elsewhere, truncate in place, writer goes on */
    append(p, "partial");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 2), 0);
    CHECK(truncate(p, 0) == 0);
    append(p, "y1\n");
    CHECK_EQ_U64(poll_line(f, b, sizeof b, 1), 1);
    CHECK_STR(b, "y1");
    CHECK_EQ_U64(lf_follow_restarts(f), 1);
    lf_follow_pos pos;
    lf_follow_position(f, &pos);
    CHECK_EQ_U64(pos.offset, 3);
    CHECK_EQ_U64(pos.lineno, 1);
    lf_line l;
    CHECK_EQ_U64(lf_follow_poll(f, &l), 0);
    lf_follow_close(f);
}

static void
test_follow_long_line(void)
{
    const char *p = tpath("long.log");
    write_file(p, "", 0, "wb");
    lf_follow *f = lf_follow_open(p, NULL, NULL, 0);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    /* a long line written in pieces: one too_long line once complete */
    char *big = malloc(200000);
    memset(big, 'z', 200000);
    write_file(p, big, 100000, "ab");
    lf_line l;
    CHECK_EQ_U64(lf_follow_poll(f, &l), 0);
    write_file(p, big, 100000, "ab");
    append(p, "\nok\n");
    CHECK_EQ_U64(lf_follow_poll(f, &l), 1);
    CHECK(l.too_long);
    CHECK_EQ_U64(l.n, LF_LINE_MAX);
    CHECK_EQ_U64(l.offset, 0);
    CHECK_EQ_U64(l.next, 200001);
    CHECK_EQ_U64(lf_follow_poll(f, &l), 1);
    CHECK_MEM(l.p, l.n, "ok");
    CHECK_EQ_U64(l.offset, 200001);
    CHECK_EQ_U64(l.lineno, 2);
    free(big);
    lf_follow_close(f);
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_logread.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    build_content();
    nwant = expected_lines(want, sizeof want / sizeof want[0]);
    RUN(test_plain_and_gzip);
    RUN(test_seek);
    RUN(test_truncated_gzip);
    RUN(test_stdin);
    RUN(test_follow_grow);
    RUN(test_follow_rename);
    RUN(test_follow_copytruncate);
    RUN(test_follow_long_line);
    free(content);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("logread");
}
