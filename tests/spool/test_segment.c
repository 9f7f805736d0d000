/* Tests for spool/segment.c: header, names, create, append (including a
 * real short write), finish and the "finished" rules, with real files in a
 * private temporary directory and real processes. */
#include "spool/spool.h"
#include "tests/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/tally-test-segment-XXXXXX";

static void
path_of(char *out, const char *name, const char *suffix)
{
    snprintf(out, 4096, "%s/%s%s", dir, name, suffix);
}

static long long
file_size(const char *name)
{
    char p[4096];
    struct stat st;
    path_of(p, name, "");
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
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
        path_of(p, de->d_name, "");
        unlink(p);
    }
    if (d)
        closedir(d);
}

static size_t
count_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void
test_header(void)
{
    unsigned char h[SPOOL_SEG_HDR_SIZE];
    uint32_t pid = 0;
    uint64_t us = 0;

    spool_segment_header(h, 0xDEADBEEF, 0x0102030405060708ull);
    CHECK(memcmp(h, "TALLYSP1", 8) == 0);
    CHECK(h[8] == 1 && h[9] == 0 && h[10] == 0 && h[11] == 0);
    CHECK(h[12] == 0xEF && h[15] == 0xDE);          /* little-endian pid */
    CHECK(h[16] == 0x08 && h[23] == 0x01);          /* little-endian us  */
    CHECK(h[24] == 0 && h[25] == 0 && h[26] == 0 && h[27] == 0);
    CHECK_EQ_U64(spool_segment_header_check(h, sizeof h, &pid, &us), 0);
    CHECK_EQ_U64(pid, 0xDEADBEEF);
    CHECK_EQ_U64(us, 0x0102030405060708ull);
    CHECK_EQ_U64(spool_segment_header_check(h, sizeof h, NULL, NULL), 0);
    CHECK_EQ_U64(spool_segment_header_check(h, sizeof h - 1, NULL, NULL),
                 (uint64_t)-1);
    for (size_t bit = 0; bit < sizeof h * 8; bit++) {
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        CHECK_EQ_U64(spool_segment_header_check(h, sizeof h, NULL, NULL),
                     (uint64_t)-1);
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

static void
test_names(void)
{
    char a[SPOOL_NAME_MAX], b[SPOOL_NAME_MAX], c[SPOOL_NAME_MAX];
    uint64_t us;
    uint32_t pid;

    spool_segment_name(a, 0x123, 0x45);
    CHECK_STR(a, "seg-0000000000000123-00000045.tsp");
    CHECK(spool_segment_name_valid(a));
    CHECK_EQ_U64(spool_segment_name_parse(a, &us, &pid), 0);
    CHECK_EQ_U64(us, 0x123);
    CHECK_EQ_U64(pid, 0x45);
    spool_segment_name(a, UINT64_MAX, UINT32_MAX);
    CHECK_STR(a, "seg-ffffffffffffffff-ffffffff.tsp");
    CHECK(spool_segment_name_valid(a));

    CHECK(!spool_segment_name_valid("seg-0000000000000123-00000045.tsp.done"));
    CHECK(!spool_segment_name_valid("seg-0000000000000123-00000045.tsp.tmp"));
    CHECK(!spool_segment_name_valid("seg-0000000000000123-00000045.tsx"));
    CHECK(!spool_segment_name_valid("seg-000000000000123-00000045.tsp"));
    CHECK(!spool_segment_name_valid("seg-00000000000001A3-00000045.tsp"));
    CHECK(!spool_segment_name_valid("seg-0000000000000123_00000045.tsp"));
    CHECK(!spool_segment_name_valid("Seg-0000000000000123-00000045.tsp"));
    CHECK(!spool_segment_name_valid("seg-000000000000012g-00000045.tsp"));
    CHECK(!spool_segment_name_valid(""));
    CHECK(!spool_segment_name_valid("."));
    CHECK(spool_segment_name_parse("seg-x", NULL, NULL) == -1);

    /* byte order of names == order of creation time, for any pids */
    spool_segment_name(a, 0x0FFF, 0xFFFFFFFF);
    spool_segment_name(b, 0x1000, 0x00000001);
    spool_segment_name(c, 0x10000000000ull, 0x7);
    CHECK(strcmp(a, b) < 0);
    CHECK(strcmp(b, c) < 0);
    for (uint64_t t = 1; t < 5000; t += 37) {
        spool_segment_name(a, t * 977, 5);
        spool_segment_name(b, t * 977 + 1, 4);
        CHECK(strcmp(a, b) < 0);
    }
}

static void
test_create_and_append(void)
{
    char name[SPOOL_NAME_MAX], again[SPOOL_NAME_MAX], p[4096];
    unsigned char buf[SPOOL_SEG_HDR_SIZE + 64];
    struct stat st;
    uint32_t pid;
    uint64_t us;
    int fd, fl, tok = -1;

    umask(022);
    fd = spool_segment_create(dir, (uint32_t)getpid(), 1000, 1, name);
    CHECK(fd >= 0);
    char expect[SPOOL_NAME_MAX];
    spool_segment_name(expect, 1000, (uint32_t)getpid());
    CHECK_STR(name, expect);
    fl = fcntl(fd, F_GETFL);
    CHECK((fl & O_ACCMODE) == O_WRONLY);
    CHECK(fl & O_APPEND);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    path_of(p, name, "");
    CHECK(stat(p, &st) == 0);
    CHECK_EQ_U64(st.st_mode & 0777, 0644);
    CHECK_EQ_U64(st.st_size, SPOOL_SEG_HDR_SIZE);
    CHECK_EQ_U64(count_entries(), 1); /* no temporary file left behind */

    /* the header on disk is valid and matches the name */
    int rfd = open(p, O_RDONLY);
    CHECK(read(rfd, buf, sizeof buf) == SPOOL_SEG_HDR_SIZE);
    CHECK_EQ_U64(spool_segment_header_check(buf, SPOOL_SEG_HDR_SIZE, &pid,
                                            &us), 0);
    CHECK_EQ_U64(pid, (uint32_t)getpid());
    CHECK_EQ_U64(us, 1000);

    /* the same name again: EEXIST, the existing file is untouched */
    errno = 0;
    CHECK_EQ_U64(spool_segment_create(dir, (uint32_t)getpid(), 1000, 0,
                                      again), (uint64_t)-1);
    CHECK_EQ_U64(errno, EEXIST);
    CHECK_EQ_U64(file_size(name), SPOOL_SEG_HDR_SIZE);
    CHECK_EQ_U64(count_entries(), 1);

    /* appends land at the end, back to back */
    CHECK_EQ_U64(spool_segment_append(fd, "hello", 5, &tok), 0);
    CHECK_EQ_U64(tok, 1);
    CHECK_EQ_U64(spool_segment_append(fd, "world", 5, NULL), 0);
    CHECK_EQ_U64(spool_segment_append(fd, "", 0, &tok), 0);
    CHECK_EQ_U64(file_size(name), SPOOL_SEG_HDR_SIZE + 10);
    CHECK(pread(rfd, buf, 10, SPOOL_SEG_HDR_SIZE) == 10);
    CHECK(memcmp(buf, "helloworld", 10) == 0);
    close(rfd);

    /* a failed write */
    errno = 0;
    CHECK_EQ_U64(spool_segment_append(-1, "x", 1, &tok), (uint64_t)-1);
    CHECK_EQ_U64(errno, EBADF);
    close(fd);

    /* a missing directory */
    CHECK_EQ_U64(spool_segment_create("/nonexistent/tally", 1, 1, 0, again),
                 (uint64_t)-1);
    CHECK_EQ_U64(errno, ENOENT);
    rm_dir_contents();
}

/* A real short write: RLIMIT_FSIZE lets write() store only part of the
 * buffer; append must cut the file back to where it was. */
static void
test_append_short_write_rolls_back(void)
{
    char name[SPOOL_NAME_MAX];
    char big[4096];
    struct rlimit old, lim;
    int fd, tok = -1, rc, err;

    memset(big, 'r', sizeof big);
    fd = spool_segment_create(dir, (uint32_t)getpid(), 2000, 0, name);
    CHECK(fd >= 0);
    CHECK_EQ_U64(spool_segment_append(fd, big, 100, &tok), 0);
    CHECK_EQ_U64(file_size(name), SPOOL_SEG_HDR_SIZE + 100);

    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = SPOOL_SEG_HDR_SIZE + 100 + 1000;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    rc = spool_segment_append(fd, big, sizeof big, &tok);
    err = errno;
    CHECK_EQ_U64(rc, (uint64_t)-1);
    CHECK_EQ_U64(err, EIO);
    CHECK_EQ_U64(tok, 1);
    CHECK_EQ_U64(file_size(name), SPOOL_SEG_HDR_SIZE + 100);
    /* at the limit exactly, nothing can be written at all */
    lim.rlim_cur = SPOOL_SEG_HDR_SIZE + 100;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    rc = spool_segment_append(fd, big, 10, &tok);
    err = errno;
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK_EQ_U64(rc, (uint64_t)-1);
    CHECK_EQ_U64(err, EFBIG);
    CHECK_EQ_U64(file_size(name), SPOOL_SEG_HDR_SIZE + 100);
    signal(SIGXFSZ, SIG_DFL);

    /* the segment goes on normally afterwards */
    CHECK_EQ_U64(spool_segment_append(fd, big, 10, &tok), 0);
    CHECK_EQ_U64(file_size(name), SPOOL_SEG_HDR_SIZE + 110);
    close(fd);
    rm_dir_contents();
}

/* Preallocated zeros, records written over them in place (header last),
 * and the rollback of a failed in-place write (RLIMIT_FSIZE past the
 * zeros): truncated back to the record's start, zero tail included. */
static void
test_preallocate_and_write_at(void)
{
    char name[SPOOL_NAME_MAX], path[4096];
    unsigned char rec[64], back[64], zeros[64];
    struct rlimit old, lim;
    int fd, rfd, tok = -1, rc, err;

    memset(rec, 'r', sizeof rec);
    memcpy(rec, SPOOL_REC_MAGIC, 4);
    memset(zeros, 0, sizeof zeros);
    fd = spool_segment_create(dir, (uint32_t)getpid(), 2500, 0, name);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND) == 0);
    CHECK_EQ_U64(spool_segment_preallocate(fd, SPOOL_SEG_HDR_SIZE,
                                           200000), 0);
    CHECK_EQ_U64(file_size(name), 200000);

    CHECK_EQ_U64(spool_segment_write_at(fd, SPOOL_SEG_HDR_SIZE, rec,
                                        sizeof rec, &tok), 0);
    CHECK_EQ_U64(tok, 1);
    CHECK_EQ_U64(file_size(name), 200000);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rfd = open(path, O_RDONLY);
    CHECK(rfd >= 0);
    CHECK_EQ_U64(pread(rfd, back, sizeof back, SPOOL_SEG_HDR_SIZE),
                 sizeof back);
    CHECK(memcmp(back, rec, sizeof rec) == 0);
    CHECK_EQ_U64(pread(rfd, back, sizeof back,
                       SPOOL_SEG_HDR_SIZE + sizeof rec), sizeof back);
    CHECK(memcmp(back, zeros, sizeof zeros) == 0);
    close(rfd);

    /* shorter than a record header: refused, nothing changes */
    CHECK_EQ_U64(spool_segment_write_at(fd, 100, rec, 5, &tok),
                 (uint64_t)-1);
    CHECK_EQ_U64(file_size(name), 200000);

    /* writing past the zeros extends the file like an append; a failed
     * one is cut back to where the record started */
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 200000 + 10;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    rc = spool_segment_write_at(fd, 200000 - 10, rec, sizeof rec, &tok);
    err = errno;
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, SIG_DFL);
    CHECK_EQ_U64(rc, (uint64_t)-1);
    CHECK(err == EIO || err == EFBIG);
    CHECK_EQ_U64(tok, 1);
    CHECK_EQ_U64(file_size(name), 200000 - 10);
    CHECK_EQ_U64(spool_segment_write_at(fd, 200000 - 10, rec, sizeof rec,
                                        &tok), 0);
    CHECK_EQ_U64(file_size(name), 200000 - 10 + sizeof rec);
    close(fd);
    rm_dir_contents();
}

static void
test_finish_marker(void)
{
    char name[SPOOL_NAME_MAX], p[4096];
    int fd = spool_segment_create(dir, (uint32_t)getpid(), 3000, 0, name);

    CHECK(fd >= 0);
    CHECK_EQ_U64(spool_segment_is_finished(dir, name), 0);
    CHECK_EQ_U64(spool_segment_finish(dir, name, 1), 0);
    path_of(p, name, ".done");
    CHECK(access(p, F_OK) == 0);
    CHECK_EQ_U64(spool_segment_is_finished(dir, name), 1);
    CHECK_EQ_U64(spool_segment_finish(dir, name, 0), 0); /* idempotent */
    CHECK(spool_segment_name_valid(name)); /* the marker is not one */
    CHECK(!spool_segment_name_valid(strrchr(p, '/') + 1));
    close(fd);
    CHECK_EQ_U64(spool_segment_finish("/nonexistent/tally", name, 0),
                 (uint64_t)-1);
    rm_dir_contents();
}

static void
test_newer_segment_same_pid(void)
{
    char a[SPOOL_NAME_MAX], b[SPOOL_NAME_MAX], c[SPOOL_NAME_MAX];
    uint32_t me = (uint32_t)getpid();
    int fa = spool_segment_create(dir, me, 5000, 0, a);
    int fc = spool_segment_create(dir, me + 1, 9000, 0, c); /* other pid */

    CHECK(fa >= 0 && fc >= 0);
    CHECK_EQ_U64(spool_segment_is_finished(dir, a), 0);
    int fb = spool_segment_create(dir, me, 6000, 0, b);
    CHECK(fb >= 0);
    CHECK_EQ_U64(spool_segment_is_finished(dir, a), 1);
    CHECK_EQ_U64(spool_segment_is_finished(dir, b), 0);
    /* not a segment name */
    CHECK_EQ_U64(spool_segment_is_finished(dir, "x.tsp"), 0);
    close(fa);
    close(fb);
    close(fc);
    rm_dir_contents();
}

/* A child creates a segment of its own and exits without a marker: once it
 * is gone (and reaped) its segment is finished. */
static void
test_dead_writer(void)
{
    char name[SPOOL_NAME_MAX];
    int up[2], down[2], status;   /* child -> parent, parent -> child */
    pid_t child;

    CHECK(pipe(up) == 0);
    CHECK(pipe(down) == 0);
    child = fork();
    if (child == 0) {
        char n[SPOOL_NAME_MAX];
        int fd = spool_segment_create(dir, (uint32_t)getpid(), 7000, 0, n);
        char go;
        if (write(up[1], n, SPOOL_NAME_MAX) != SPOOL_NAME_MAX)
            _exit(1);
        if (read(down[0], &go, 1) != 1) /* wait for the parent */
            _exit(1);
        _exit(fd >= 0 ? 0 : 1);
    }
    CHECK(read(up[0], name, SPOOL_NAME_MAX) == SPOOL_NAME_MAX);
    CHECK(spool_segment_name_valid(name));
    /* alive (and holding its segment): not finished */
    CHECK_EQ_U64(spool_segment_is_finished(dir, name), 0);
    CHECK(write(down[1], "g", 1) == 1);
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_U64(spool_segment_is_finished(dir, name), 1);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    rm_dir_contents();
}

/* The writer's pid is gone but another process still holds the segment's
 * lock (as a writer in another pid namespace would look): not finished
 * until that process is gone too. */
static void
test_lock_vetoes_dead_pid(void)
{
    char name[SPOOL_NAME_MAX];
    int pfd[2], status, hold[2];
    pid_t child, grandchild = 0;

    CHECK(pipe(pfd) == 0);
    CHECK(pipe(hold) == 0);
    child = fork();
    if (child == 0) {
        char n[SPOOL_NAME_MAX];
        int fd = spool_segment_create(dir, (uint32_t)getpid(), 8000, 0, n);
        pid_t g;
        if (fd < 0)
            _exit(1);
        g = fork(); /* shares fd, and with it the lock */
        if (g == 0) {
            char c;
            close(hold[1]);
            while (read(hold[0], &c, 1) > 0) /* until the parent closes */
                ;
            _exit(0);
        }
        if (write(pfd[1], n, SPOOL_NAME_MAX) != SPOOL_NAME_MAX
            || write(pfd[1], &g, sizeof g) != sizeof g)
            _exit(1);
        _exit(0);
    }
    close(hold[0]);
    CHECK(read(pfd[0], name, SPOOL_NAME_MAX) == SPOOL_NAME_MAX);
    CHECK(read(pfd[0], &grandchild, sizeof grandchild) == sizeof grandchild);
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(kill(child, 0) == -1 && errno == ESRCH);
    CHECK_EQ_U64(spool_segment_is_finished(dir, name), 0);

    close(hold[1]); /* the grandchild exits and drops the lock */
    int finished = 0;
    for (int i = 0; i < 500 && !finished; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        finished = spool_segment_is_finished(dir, name);
        if (!finished)
            nanosleep(&ts, NULL);
    }
    CHECK_EQ_U64(finished, 1);
    close(pfd[0]);
    close(pfd[1]);
    rm_dir_contents();
}

int
main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_header);
    RUN(test_names);
    RUN(test_create_and_append);
    RUN(test_append_short_write_rolls_back);
    RUN(test_preallocate_and_write_at);
    RUN(test_finish_marker);
    RUN(test_newer_segment_same_pid);
    RUN(test_dead_writer);
    RUN(test_lock_vetoes_dead_pid);
    rm_dir_contents();
    rmdir(dir);
    return check_summary("spool/segment");
}
