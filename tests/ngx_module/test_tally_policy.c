/*
 * test_tally_policy.c -- unit tests of ngx_module/tally_policy.c
 * (exclusion values, country codes, lists, status text) and
 * ngx_module/tally_seg.c (segment rotation, rollback, finish markers).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ngx_module/tally_policy.h"
#include "ngx_module/tally_seg.h"
#include "tests/check.h"


static void
test_skip_value(void)
{
    CHECK(!tp_skip_value("", 0));
    CHECK(!tp_skip_value("0", 1));
    CHECK(tp_skip_value("1", 1));
    CHECK(tp_skip_value("00", 2));
    CHECK(tp_skip_value("office", 6));
}


static void
test_country(void)
{
    char  c[2];

    CHECK(tp_country("de", 2, c) && c[0] == 'D' && c[1] == 'E');
    CHECK(tp_country(" Fr\t", 4, c) && c[0] == 'F' && c[1] == 'R');
    CHECK(!tp_country("", 0, c));
    CHECK(!tp_country("-", 1, c));
    CHECK(!tp_country("XX1", 3, c));
    CHECK(!tp_country("T1", 2, c));
    CHECK(!tp_country("\xc3\xa9", 2, c));
}


static void
test_list(void)
{
    tp_str  l[2] = { { "example.com", 11 }, { "https://a.example", 17 } };

    CHECK(tp_list_has(l, 2, "EXAMPLE.com", 11));
    CHECK(tp_list_has(l, 2, "https://A.example", 17));
    CHECK(!tp_list_has(l, 2, "example.co", 10));
    CHECK(!tp_list_has(l, 0, "example.com", 11));
}


static void
test_status_format(void)
{
    uint64_t  v[TP_NCOUNTERS];
    char      buf[TP_STATUS_MAX];
    size_t    i, n;

    for (i = 0; i < TP_NCOUNTERS; i++) {
        v[i] = i * 10;
    }

    n = tp_status_format(0, v, 1024, buf, sizeof(buf));
    CHECK(n > 0 && n < sizeof(buf) && buf[n - 1] == '\n');
    buf[n] = '\0';
    CHECK(strstr(buf, "{\"accepted_events\":0,\"accepted_requests\":10,"
                      "\"rejected\":{\"400\":20,\"403\":30,\"405\":40,"
                      "\"413\":50,\"415\":60},\"dropped_bots\":70,") == buf);
    CHECK(strstr(buf, "\"spool_bytes\":130,\"spool_max_bytes\":1024}\n")
          != NULL);

    n = tp_status_format(1, v, 0, buf, sizeof(buf));
    buf[n] = '\0';
    CHECK(strstr(buf, "# TYPE tally_rejected_requests_total counter\n"
                      "tally_rejected_requests_total{status=\"400\"} 20\n"
                      "tally_rejected_requests_total{status=\"403\"} 30\n")
          != NULL);
    CHECK(strstr(buf, "# TYPE tally_spool_bytes gauge\n"
                      "tally_spool_bytes 130\n") != NULL);
    CHECK(strstr(buf, "\ntally_spool_max_bytes 0\n") != NULL);

    /* a short buffer is never overrun */
    n = tp_status_format(1, v, 0, buf, 64);
    CHECK(n < 64);
}


static size_t
count_files(const char *dir, const char *suffix)
{
    DIR            *d = opendir(dir);
    struct dirent  *de;
    size_t          n = 0, sl = strlen(suffix);

    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}


static void
test_seg_rotation(void)
{
    char            dir[] = "/tmp/tally-seg-XXXXXX";
    unsigned char   rec[600];
    tally_seg       s;
    uint64_t        created;
    int             i;

    CHECK(mkdtemp(dir) != NULL);
    memset(rec, 'r', sizeof(rec));

    tally_seg_init(&s, dir, (uint32_t) getpid(), 4096, 1000000, 1, 0);
    CHECK(!tally_seg_due(&s, tally_seg_now_us()));

    CHECK(tally_seg_ready(&s, tally_seg_now_us()) == 0);
    CHECK(s.fd != -1 && s.size == SPOOL_SEG_HDR_SIZE && s.opened == 1);
    created = s.created_us;

    /* an empty segment is never due, however old */
    CHECK(!tally_seg_due(&s, created + 5000000));

    for (i = 0; i < 7; i++) {
        CHECK(tally_seg_append(&s, rec, sizeof(rec)) == 0);
    }
    CHECK(s.size == SPOOL_SEG_HDR_SIZE + 7 * sizeof(rec));
    CHECK(tally_seg_due(&s, 0));               /* by size */

    CHECK(tally_seg_ready(&s, tally_seg_now_us()) == 0);
    CHECK(s.created_us > created && s.opened == 2);
    CHECK(count_files(dir, ".tsp") == 2);
    CHECK(count_files(dir, ".tsp.done") == 1);

    /* by age, once it holds a record */
    CHECK(tally_seg_append(&s, rec, 10) == 0);
    CHECK(!tally_seg_due(&s, s.created_us + 999999));
    CHECK(tally_seg_due(&s, s.created_us + 1000000));

    CHECK(tally_seg_sync(&s) == 0);
    CHECK(tally_seg_close(&s) == 0 && s.fd == -1);
    CHECK(count_files(dir, ".tsp.done") == 2);
    CHECK(s.what == NULL);

    /* a failed creation reports itself */
    tally_seg_init(&s, "/nonexistent-tally-dir", 1, 4096, 0, 0, 0);
    CHECK(tally_seg_ready(&s, tally_seg_now_us()) == -1);
    CHECK(s.what != NULL && strcmp(s.what, "create") == 0
          && s.err == ENOENT);

    /* appending without a segment fails cleanly */
    CHECK(tally_seg_append(&s, rec, 10) == -1);

    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
    }
}


static uint64_t
file_size_of(const char *dir, const char *name)
{
    char         path[512];
    struct stat  st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}


/* tally_sync always: zeros preallocated one step ahead of the records,
 * records written in place over them, the tail trimmed on close */
static void
test_seg_preallocated(void)
{
    char            dir[] = "/tmp/tally-seg-XXXXXX", path[512];
    char            name[SPOOL_NAME_MAX];
    unsigned char   rec[600], back[700];
    tally_seg       s;
    int             i, fd;

    CHECK(mkdtemp(dir) != NULL);
    memset(rec, 'r', sizeof(rec));

    tally_seg_init(&s, dir, (uint32_t) getpid(), 64 * 1024, 0, 1,
                   16 * 1024);
    CHECK(tally_seg_ready(&s, tally_seg_now_us()) == 0);
    memcpy(name, s.name, sizeof(name));

    CHECK(tally_seg_append(&s, rec, sizeof(rec)) == 0);
    CHECK(s.size == SPOOL_SEG_HDR_SIZE + sizeof(rec));
    CHECK(s.alloc == s.size + 16 * 1024);
    CHECK(file_size_of(dir, name) == s.alloc);

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY);
    CHECK(fd != -1);
    CHECK(pread(fd, back, sizeof(back), SPOOL_SEG_HDR_SIZE)
          == (ssize_t) sizeof(back));
    CHECK(memcmp(back, rec, sizeof(rec)) == 0);
    for (i = sizeof(rec); i < (int) sizeof(back); i++) {
        CHECK(back[i] == 0);
    }
    close(fd);

    /* past the zeros: one more step, capped at the segment size */
    for (i = 0; i < 30; i++) {
        CHECK(tally_seg_append(&s, rec, sizeof(rec)) == 0);
    }
    CHECK(s.size == SPOOL_SEG_HDR_SIZE + 31 * sizeof(rec));
    CHECK(s.alloc >= s.size && s.alloc <= 64 * 1024);
    CHECK(file_size_of(dir, name) == s.alloc);

    CHECK(tally_seg_sync(&s) == 0);
    CHECK(tally_seg_close(&s) == 0 && s.what == NULL);
    CHECK(file_size_of(dir, name) == SPOOL_SEG_HDR_SIZE + 31 * sizeof(rec));
    CHECK(count_files(dir, ".tsp.done") == 1);

    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
    }
}


int
main(void)
{
    RUN(test_skip_value);
    RUN(test_country);
    RUN(test_list);
    RUN(test_status_format);
    RUN(test_seg_rotation);
    RUN(test_seg_preallocated);
    return check_summary("tally_policy");
}
