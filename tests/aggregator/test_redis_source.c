/*
 * test_redis_source.c -- redis:// URL parsing (redis.c), stream ID helpers
 * and the consumer building block (redis_source.c) against a real
 * redis-server started here on a free loopback port in a temp dir.
 */
#include "aggregator/redis.h"
#include "aggregator/redis_source.h"
#include "spool/spool.h"
#include "tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t srv_pid = -1;
static int srv_port;
static char srv_dir[] = "/tmp/tally-redis-test-XXXXXX";
static char srv_url[64];

static int
free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0
        || getsockname(s, (struct sockaddr *)&a, &l) != 0)
        return -1;
    close(s);
    return ntohs(a.sin_port);
}

static double
mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts redis-server and waits (deadline 20 s) until it answers PING. */
static int
srv_start(void)
{
    char port[16], logf[128];
    snprintf(port, sizeof(port), "%d", srv_port);
    snprintf(logf, sizeof(logf), "%s/redis.log", srv_dir);
    srv_pid = fork();
    if (srv_pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind",
               "127.0.0.1", "--dir", srv_dir, "--appendonly", "yes",
               "--appendfsync", "always", "--save", "", "--logfile", logf,
               (char *)NULL);
        _exit(127);
    }
    redis_url u;
    if (srv_pid < 0 || redis_url_parse(srv_url, &u, NULL, 0) != 0)
        return -1;
    double end = mono() + 20;
    while (mono() < end) {
        redis_conn *c = redis_new(&u, 1000);
        redis_reply *r = redis_ok(c) ? redis_cmd(c, 1, (const char *[]){ "PING" }) : NULL;
        int up = r && redis_reply_type(r) == REDIS_R_STATUS;
        redis_reply_free(r);
        redis_close(c);
        if (up)
            return 0;
        if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid)
            return -1;
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void
srv_stop(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
    }
    srv_pid = -1;
}

/* Runs one command on a fresh connection; returns its integer reply or
 * -1 on an error reply. */
static long long
cmd(int argc, const char **argv, const size_t *lens)
{
    redis_url u;
    redis_url_parse(srv_url, &u, NULL, 0);
    redis_conn *c = redis_new(&u, 2000);
    long long v = -1;
    if (redis_append(c, argc, argv, lens) == 0) {
        redis_reply *r = redis_get(c);
        if (r && redis_reply_type(r) != REDIS_R_ERROR)
            v = redis_reply_int(r);
        redis_reply_free(r);
    }
    redis_close(c);
    return v;
}

static long long
cmds(int argc, const char **argv)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return cmd(argc, argv, lens);
}

static void
test_url_parse(void)
{
    redis_url u;
    char err[128];
    CHECK(redis_url_parse("redis://localhost", &u, err, sizeof(err)) == 0);
    CHECK_STR(u.host, "localhost");
    CHECK(u.port == 6379 && u.db == 0 && u.pass[0] == 0 && u.user[0] == 0);
    CHECK(redis_url_parse("redis://:s%40cret@cache.example:6380/3", &u, err,
                          sizeof(err)) == 0);
    CHECK_STR(u.host, "cache.example");
    CHECK_STR(u.pass, "s@cret");
    CHECK(u.port == 6380 && u.db == 3 && u.user[0] == 0);
    CHECK(redis_url_parse("redis://tally:pw@[::1]:7000/", &u, err, sizeof(err)) == 0);
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.user, "tally");
    CHECK_STR(u.pass, "pw");
    CHECK(u.port == 7000 && u.db == 0);
    CHECK(redis_url_parse("redis://pw@h", &u, err, sizeof(err)) == 0);
    CHECK_STR(u.pass, "pw");

    const char *bad[] = { "http://h", "redis://", "redis://:6379", "redis://h:0",
                          "redis://h:65536", "redis://h:x", "redis://h/x",
                          "redis://h?db=1", "redis://[::1", "redis://h h",
                          "redis://:p%4@h", "redis://u:@h", NULL };
    for (int i = 0; bad[i]; i++) {
        err[0] = 0;
        CHECK(redis_url_parse(bad[i], &u, err, sizeof(err)) == -1);
        CHECK(err[0] != 0);
    }
    CHECK(redis_url_parse("redis://:secret@h:x", &u, err, sizeof(err)) == -1);
    CHECK(strstr(err, "secret") == NULL);
}

static void
test_ids(void)
{
    char out[RSRC_ID_MAX];
    uint64_t ms, seq;
    CHECK(rsrc_id_parse("1700000000000-5", &ms, &seq) == 0);
    CHECK_EQ_U64(ms, 1700000000000ull);
    CHECK_EQ_U64(seq, 5);
    CHECK(rsrc_id_parse("1-", &ms, &seq) == -1);
    CHECK(rsrc_id_parse("1-2x", &ms, &seq) == -1);
    CHECK(rsrc_id_parse("18446744073709551616-0", &ms, &seq) == -1);
    CHECK(rsrc_id_next("7-41", out) == 0);
    CHECK_STR(out, "7-42");
    CHECK(rsrc_id_next("7-18446744073709551615", out) == 0);
    CHECK_STR(out, "8-0");
    CHECK(rsrc_id_next("18446744073709551615-18446744073709551615", out) == -1);
    CHECK(rsrc_id_cmp("10-0", "9-99") > 0);
    CHECK(rsrc_id_cmp("9-2", "9-10") < 0);
    CHECK(rsrc_id_cmp("9-2", "9-2") == 0);
    CHECK(rsrc_edge_valid("edge-1.eu_west"));
    CHECK(!rsrc_edge_valid("") && !rsrc_edge_valid("a{b}") && !rsrc_edge_valid("a:b"));
    CHECK(rsrc_stream_name(out, sizeof(out), "e1") == 0);
    CHECK_STR(out, "tally:edge:e1");
}

typedef struct {
    int n;
    char id[8][RSRC_ID_MAX];
    unsigned char rec[8][256];
    size_t len[8];
    int has_rec[8];
    char seg[8][64];
    uint64_t off[8];
    int stop_after;
} got_t;

static int
on_entry(void *ctx, const char *id, const unsigned char *rec, size_t len,
         const char *seg, uint64_t off)
{
    got_t *g = ctx;
    if (g->n < 8) {
        snprintf(g->id[g->n], RSRC_ID_MAX, "%s", id);
        g->has_rec[g->n] = rec != NULL;
        if (rec && len <= sizeof(g->rec[0]))
            memcpy(g->rec[g->n], rec, len);
        g->len[g->n] = len;
        snprintf(g->seg[g->n], 64, "%s", seg);
        g->off[g->n] = off;
    }
    g->n++;
    return g->stop_after && g->n >= g->stop_after;
}

static void
test_source(void)
{
    char err[128];
    CHECK(rsrc_open("nope://x", err, sizeof(err)) == NULL);
    rsrc *s = rsrc_open(srv_url, err, sizeof(err));
    CHECK(s != NULL);
    if (s == NULL)
        return;

    char **names;
    size_t n;
    CHECK(rsrc_edges(s, &names, &n) == 0);
    CHECK(n == 0);
    rsrc_free_names(names, n);
    CHECK(cmds(5, (const char *[]){ "SADD", "tally:edges", "zz", "a{b}", "e1" }) == 3);
    CHECK(rsrc_edges(s, &names, &n) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(names[0], "e1");
        CHECK_STR(names[1], "zz");
    }
    rsrc_free_names(names, n);

    /* a real spool record, with NUL bytes in it */
    spool_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = 1700000000000ull;
    ev.visitor_id = 0x0100000000000001ull;
    ev.field[SPOOL_F_SITE] = (spool_str){ "a.example", 9 };
    ev.field[SPOOL_F_NAME] = (spool_str){ "pageview", 8 };
    ev.field[SPOOL_F_URL] = (spool_str){ "https://a.example/", 18 };
    unsigned char rec[256];
    size_t rl = spool_record_encode(&ev, 1, rec, sizeof(rec));
    CHECK(rl > SPOOL_REC_HDR_SIZE);

    const char *st = "tally:edge:e1";
    const char *a1[] = { "XADD", st, "5-1", "r", (const char *)rec, "seg",
                         "seg-0000000000000001-00000002.tsp", "off", "32" };
    size_t l1[9];
    for (int i = 0; i < 9; i++)
        l1[i] = strlen(a1[i]);
    l1[4] = rl;
    CHECK(cmd(9, a1, l1) == 0);
    CHECK(cmds(5, (const char *[]){ "XADD", st, "5-2", "r", "xyz" }) == 0);
    CHECK(cmds(5, (const char *[]){ "XADD", st, "6-0", "other", "1" }) == 0);

    got_t g;
    memset(&g, 0, sizeof(g));
    char last[RSRC_ID_MAX] = "";
    CHECK(rsrc_read(s, st, NULL, 2, 0, on_entry, &g, last) == 2);
    CHECK(g.n == 2);
    CHECK_STR(g.id[0], "5-1");
    CHECK_STR(last, "5-2");
    CHECK(g.has_rec[0] && g.len[0] == rl && memcmp(g.rec[0], rec, rl) == 0);
    CHECK_STR(g.seg[0], "seg-0000000000000001-00000002.tsp");
    CHECK_EQ_U64(g.off[0], 32);
    spool_event out[SPOOL_MAX_EVENTS];
    size_t used = 0, cnt = 0;
    CHECK(spool_record_decode(g.rec[0], g.len[0], &used, out, &cnt, NULL) == SPOOL_OK);
    CHECK(cnt == 1 && out[0].visitor_id == ev.visitor_id);
    CHECK(g.len[1] == 3 && g.seg[1][0] == 0 && g.off[1] == 0);

    memset(&g, 0, sizeof(g));
    CHECK(rsrc_read(s, st, last, 10, 0, on_entry, &g, last) == 1);
    CHECK_STR(g.id[0], "6-0");
    CHECK(!g.has_rec[0] && g.len[0] == 0);       /* damaged: no "r" */
    CHECK_STR(last, "6-0");
    memset(&g, 0, sizeof(g));
    CHECK(rsrc_read(s, st, "6-0", 10, 0, on_entry, &g, NULL) == 0);
    CHECK(rsrc_read(s, st, "6-0", 10, 50, on_entry, &g, NULL) == 0);  /* BLOCK */
    CHECK(rsrc_read(s, "tally:edge:none", "0-0", 10, 0, on_entry, &g, NULL) == 0);
    CHECK(g.n == 0);

    /* the callback stops early */
    memset(&g, 0, sizeof(g));
    g.stop_after = 1;
    CHECK(rsrc_read(s, st, "0-0", 10, 0, on_entry, &g, last) == 1);
    CHECK_STR(last, "5-1");
    CHECK(rsrc_read(s, st, "bad", 10, 0, on_entry, &g, NULL) == -1);

    /* trim everything up to and including 5-2 */
    char next[RSRC_ID_MAX];
    CHECK(rsrc_id_next("5-2", next) == 0);
    CHECK(rsrc_trim(s, st, next) == 2);
    CHECK(cmds(2, (const char *[]){ "XLEN", st }) == 1);
    CHECK(rsrc_trim(s, st, next) == 0);
    /* an ID at or below the trimmed ones is still refused (last ID kept) */
    CHECK(cmds(5, (const char *[]){ "XADD", st, "5-3", "r", "x" }) == -1);
    CHECK(rsrc_trim(s, "tally:edge:wrongtype-check", "1-0") == 0);
    CHECK(cmds(3, (const char *[]){ "SET", "tally:edge:str", "x" }) == 0);
    CHECK(rsrc_read(s, "tally:edge:str", "0-0", 1, 0, on_entry, &g, NULL) == -1);
    CHECK(strstr(rsrc_errstr(s), "WRONGTYPE") != NULL);

    /* server down: errors, no crash; back: the same handle works again */
    srv_stop();
    memset(&g, 0, sizeof(g));
    CHECK(rsrc_read(s, st, "0-0", 10, 0, on_entry, &g, NULL) == -1);
    CHECK(rsrc_edges(s, &names, &n) == -1);
    CHECK(srv_start() == 0);
    CHECK(rsrc_read(s, st, "0-0", 10, 0, on_entry, &g, NULL) == 1);
    CHECK_STR(g.id[0], "6-0");
    rsrc_close(s);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_url_parse);
    RUN(test_ids);
    srv_port = free_port();
    snprintf(srv_url, sizeof(srv_url), "redis://localhost:%d", srv_port);
    if (mkdtemp(srv_dir) == NULL || srv_port <= 0 || srv_start() != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        srv_stop();
        return 1;
    }
    RUN(test_source);
    srv_stop();
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", srv_dir);
    if (system(rm) != 0)
        fprintf(stderr, "cannot remove %s\n", srv_dir);
    return check_summary("redis_source");
}
