/* test_logfilter.c -- pageview rules, and the whole parsing half of the
 * importer (read, parse, filter) against gen-accesslog.py's ground truth. */
#include "aggregator/logfilter.h"
#include "aggregator/logfmt.h"
#include "aggregator/logread.h"
#include "tests/check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static lf_format *combined;

/* the reason for a combined line made of these parts */
static lf_skip
verdict(const lf_filter *f, const char *req, int status, const char *ua,
        lf_bot_fn bot)
{
    char line[512];
    snprintf(line, sizeof line, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
             "\"%s\" %d 10 \"-\" \"%s\"", req, status, ua);
    lf_record r;
    int rc = lf_parse(combined, line, strlen(line), &r);
    CHECK_EQ_U64(rc, LF_OK);
    return rc == LF_OK ? lf_filter_check(f, &r, bot, NULL) : LF_SKIP_COUNT;
}

static int
ua_is_bot(void *ctx, const lf_record *r)
{
    (void)ctx;
    static const char *const marks[] = { "bot", "spider", "crawl" };
    for (size_t m = 0; m < 3; m++) {
        size_t k = strlen(marks[m]);
        for (size_t i = 0; i + k <= r->user_agent.n; i++)
            if (strncasecmp(r->user_agent.p + i, marks[m], k) == 0)
                return 1;
    }
    return 0;
}

static void
test_rules(void)
{
    lf_filter f;
    lf_filter_init(&f);
    static const struct {
        const char *req;
        int         status;
        lf_skip     want;
    } cases[] = {
        { "GET / HTTP/1.1", 200, LF_KEEP },
        { "GET /blog/post?utm_source=x HTTP/1.1", 200, LF_KEEP },
        { "GET /docs/page.html HTTP/1.1", 206, LF_KEEP },
        { "GET /index.php?id=3 HTTP/1.1", 304, LF_KEEP },
        { "GET /v1.2/ HTTP/1.1", 200, LF_KEEP },
        { "GET /archive.2024 HTTP/1.1", 200, LF_KEEP },
        { "GET http://example.com/a HTTP/1.1", 200, LF_KEEP },
        { "HEAD / HTTP/1.1", 200, LF_SKIP_METHOD },
        { "POST /contact HTTP/1.1", 200, LF_SKIP_METHOD },
        { "get / HTTP/1.1", 200, LF_SKIP_METHOD },
        { "\\x16\\x03\\x01", 400, LF_SKIP_METHOD },
        { "GET / HTTP/1.1", 301, LF_SKIP_STATUS },
        { "GET / HTTP/1.1", 404, LF_SKIP_STATUS },
        { "GET / HTTP/1.1", 500, LF_SKIP_STATUS },
        { "GET /robots.txt HTTP/1.1", 404, LF_SKIP_STATUS },
        { "GET * HTTP/1.1", 200, LF_SKIP_MALFORMED },
        { "GET ../../etc/passwd HTTP/1.1", 200, LF_SKIP_MALFORMED },
        { "GET /robots.txt HTTP/1.1", 200, LF_SKIP_ROBOTS },
        { "GET /favicon.ico HTTP/1.1", 200, LF_SKIP_ROBOTS },
        { "GET /FAVICON.ICO HTTP/1.1", 304, LF_SKIP_ROBOTS },
        { "GET /sitemap.xml HTTP/1.1", 200, LF_SKIP_ROBOTS },
        { "GET /.well-known/acme-challenge/x HTTP/1.1", 200, LF_SKIP_ROBOTS },
        { "GET /apple-touch-icon-precomposed.png HTTP/1.1", 200,
          LF_SKIP_ROBOTS },
        { "GET /blog/apple-touch-icon.png HTTP/1.1", 200, LF_SKIP_ROBOTS },
        { "GET /static/app.css?v=3 HTTP/1.1", 200, LF_SKIP_STATIC },
        { "GET /app.js HTTP/1.1", 304, LF_SKIP_STATIC },
        { "GET /IMG/PHOTO.JPG HTTP/1.1", 200, LF_SKIP_STATIC },
        { "GET /fonts/a.woff2 HTTP/1.1", 200, LF_SKIP_STATIC },
        { "GET /files/report.pdf HTTP/1.1", 200, LF_SKIP_STATIC },
        { "GET /dl/x.tar.gz HTTP/1.1", 206, LF_SKIP_STATIC },
        { "GET /feed.xml HTTP/1.1", 200, LF_SKIP_STATIC },
        { "GET /sub/favicon.ico HTTP/1.1", 200, LF_SKIP_STATIC },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lf_skip got = verdict(&f, cases[i].req, cases[i].status, "Mozilla",
                              ua_is_bot);
        if (got != cases[i].want)
            fprintf(stderr, "  \"%s\" %d: %s, want %s\n", cases[i].req,
                    cases[i].status, lf_skip_name(got),
                    lf_skip_name(cases[i].want));
        CHECK_EQ_U64(got, cases[i].want);
    }
    /* bots: only the hook decides, and only last */
    CHECK_EQ_U64(verdict(&f, "GET / HTTP/1.1", 200, "Googlebot/2.1",
                         ua_is_bot), LF_SKIP_BOT);
    CHECK_EQ_U64(verdict(&f, "GET / HTTP/1.1", 200, "Googlebot/2.1", NULL),
                 LF_KEEP);
    CHECK_EQ_U64(verdict(&f, "GET /a.css HTTP/1.1", 200, "Googlebot/2.1",
                         ua_is_bot), LF_SKIP_STATIC);

    /* include_static counts assets and downloads, never robots */
    f.include_static = 1;
    CHECK_EQ_U64(verdict(&f, "GET /files/report.pdf HTTP/1.1", 200, "M",
                         NULL), LF_KEEP);
    CHECK_EQ_U64(verdict(&f, "GET /a.css HTTP/1.1", 200, "M", NULL),
                 LF_KEEP);
    CHECK_EQ_U64(verdict(&f, "GET /favicon.ico HTTP/1.1", 200, "M", NULL),
                 LF_SKIP_ROBOTS);
}

static int bot_calls;

static int
counting_bot(void *ctx, const lf_record *r)
{
    (void)r;
    bot_calls++;
    return ctx != NULL;
}

static void
test_hook_and_formats(void)
{
    lf_filter f;
    lf_filter_init(&f);
    bot_calls = 0;
    CHECK_EQ_U64(verdict(&f, "POST / HTTP/1.1", 200, "x", counting_bot),
                 LF_SKIP_METHOD);
    CHECK_EQ_U64(verdict(&f, "GET /a.png HTTP/1.1", 200, "x", counting_bot),
                 LF_SKIP_STATIC);
    CHECK_EQ_U64(bot_calls, 0);
    CHECK_EQ_U64(verdict(&f, "GET / HTTP/1.1", 200, "x", counting_bot),
                 LF_KEEP);
    CHECK_EQ_U64(bot_calls, 1);

    /* a format without method and status: those rules keep every line */
    lf_format *g = lf_compile("$remote_addr $uri", NULL, 0);
    CHECK(g != NULL);
    if (g == NULL)
        return;
    lf_record r;
    CHECK_EQ_U64(lf_parse(g, "1.2.3.4 /page", 13, &r), LF_OK);
    CHECK_EQ_U64(lf_filter_check(&f, &r, NULL, NULL), LF_KEEP);
    CHECK_EQ_U64(lf_parse(g, "1.2.3.4 /a.css", 14, &r), LF_OK);
    CHECK_EQ_U64(lf_filter_check(&f, &r, NULL, NULL), LF_SKIP_STATIC);
    CHECK_EQ_U64(lf_parse(g, "1.2.3.4 -", 9, &r), LF_OK);
    CHECK_EQ_U64(lf_filter_check(&f, &r, NULL, NULL), LF_SKIP_MALFORMED);
    lf_free(g);
}

static void
test_statuses(void)
{
    lf_filter f;
    char err[96];
    lf_filter_init(&f);
    CHECK(f.status_ok[200] && f.status_ok[299] && f.status_ok[304]);
    CHECK(!f.status_ok[199] && !f.status_ok[300] && !f.status_ok[404]);
    CHECK_EQ_U64(lf_filter_set_statuses(&f, "200, 3xx ,404-410", err,
                                        sizeof err), 0);
    CHECK(f.status_ok[200] && !f.status_ok[201]);
    CHECK(f.status_ok[300] && f.status_ok[399]);
    CHECK(f.status_ok[404] && f.status_ok[410] && !f.status_ok[411]);
    CHECK(!f.status_ok[403]);
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        { "", "bad status: \"\"" },
        { "200,", "bad status: \"\"" },
        { "2000", "bad status: \"2000\"" },
        { "abc", "bad status: \"abc\"" },
        { "-5", "bad status: \"-5\"" },
        { "+200", "bad status: \"+200\"" },
        { "299-200", "status out of range 100-999: \"299-200\"" },
        { "099", "status out of range 100-999: \"099\"" },
        { "0xx", "bad status: \"0xx\"" },
        { "200-", "bad status: \"200-\"" },
        { "1-2-3", "bad status: \"1-2-3\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_U64(lf_filter_set_statuses(&f, bad[i].spec, err,
                                            sizeof err), -1);
        CHECK_STR(err, bad[i].msg);
    }
    /* a failed call leaves the list as it was */
    CHECK(f.status_ok[404] && !f.status_ok[201]);
    CHECK_EQ_U64(verdict(&f, "GET / HTTP/1.1", 404, "M", NULL), LF_KEEP);
    CHECK_EQ_U64(verdict(&f, "GET / HTTP/1.1", 201, "M", NULL),
                 LF_SKIP_STATUS);
}

static void
test_names(void)
{
    static const char *const want[] = { "kept", "malformed", "method",
                                        "status", "robots", "static", "bot" };
    for (int i = 0; i < LF_SKIP_COUNT; i++)
        CHECK_STR(lf_skip_name((lf_skip)i), want[i]);
    CHECK_STR(lf_skip_name(LF_SKIP_COUNT), "?");
    /* the extension table is sorted (bsearch needs it) and lower case */
    for (size_t i = 0; lf_filter_static_exts[i + 1] != NULL; i++) {
        CHECK(strcmp(lf_filter_static_exts[i], lf_filter_static_exts[i + 1])
              < 0);
        for (const char *c = lf_filter_static_exts[i]; *c; c++)
            CHECK(!(*c >= 'A' && *c <= 'Z'));
    }
}

/* ---- the oracle: a generated log and its ground truth ------------------- */

#define MAXDAYS  64
#define MAXPATHS 256
#define SETBITS  22

struct tally {
    uint64_t  skipped[LF_SKIP_COUNT];
    int64_t   day0;
    uint64_t  pv[MAXDAYS], vis[MAXDAYS];
    char     *path[MAXPATHS];
    uint64_t  pathn[MAXPATHS];
    size_t    npaths;
    uint64_t *set;                 /* hashes of (day, addr, ua) */
    json_t   *malformed;
    uint64_t  lines, bot_calls;
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static int
oracle_bot(void *ctx, const lf_record *r)
{
    ((struct tally *)ctx)->bot_calls++;
    return ua_is_bot(NULL, r);
}

static void
tally_line(struct tally *t, const lf_filter *flt, const lf_line *l)
{
    lf_record r;
    t->lines++;
    if (l->too_long || lf_parse(combined, l->p, l->n, &r) != LF_OK) {
        t->skipped[LF_SKIP_MALFORMED]++;
        json_array_append_new(t->malformed, json_integer((json_int_t)l->lineno));
        return;
    }
    lf_skip why = lf_filter_check(flt, &r, oracle_bot, t);
    t->skipped[why]++;
    if (why != LF_KEEP)
        return;
    int64_t day = r.time_ms >= 0 ? r.time_ms / 86400000 : -1;
    if (t->day0 < 0)
        t->day0 = day;
    int64_t d = day - t->day0;
    CHECK(d >= 0 && d < MAXDAYS);
    if (d < 0 || d >= MAXDAYS)
        return;
    t->pv[d]++;
    uint64_t h = fnv(0xcbf29ce484222325ull, &day, sizeof day);
    h = fnv(h, r.addr.p, r.addr.n);
    h = fnv(h, "", 1);
    h = fnv(h, r.user_agent.p, r.user_agent.n);
    h |= 1;
    size_t mask = ((size_t)1 << SETBITS) - 1, i = (size_t)h & mask;
    while (t->set[i] != 0 && t->set[i] != h)
        i = (i + 1) & mask;
    if (t->set[i] == 0) {
        t->set[i] = h;
        t->vis[d]++;
    }
    size_t k = 0;
    while (k < t->npaths && (strlen(t->path[k]) != r.path.n
                             || memcmp(t->path[k], r.path.p, r.path.n) != 0))
        k++;
    if (k == t->npaths && k < MAXPATHS)
        t->path[t->npaths++] = strndup(r.path.p, r.path.n);
    if (k < MAXPATHS)
        t->pathn[k]++;
}

static void
tally_compare(struct tally *t, json_t *truth, const char *what)
{
    int bad = 0;
    CHECK_EQ_U64(t->lines, json_integer_value(json_object_get(truth, "lines")));
    json_t *sk = json_object_get(truth, "skipped");
    for (int i = 1; i < LF_SKIP_COUNT; i++) {
        uint64_t want = (uint64_t)json_integer_value(
            json_object_get(sk, lf_skip_name((lf_skip)i)));
        if (t->skipped[i] != want)
            fprintf(stderr, "  %s: skipped %s %llu, truth %llu\n", what,
                    lf_skip_name((lf_skip)i),
                    (unsigned long long)t->skipped[i],
                    (unsigned long long)want);
        CHECK_EQ_U64(t->skipped[i], want);
    }
    CHECK_EQ_U64(t->skipped[LF_KEEP],
                 json_integer_value(json_object_get(truth, "pageviews")));
    CHECK(json_equal(t->malformed, json_object_get(truth, "malformed_lines")));
    CHECK_EQ_U64(t->bot_calls, t->skipped[LF_KEEP] + t->skipped[LF_SKIP_BOT]);

    json_t *days = json_object_get(truth, "days");
    size_t ndays = 0;
    for (int d = 0; d < MAXDAYS; d++) {
        if (t->pv[d] == 0)
            continue;
        ndays++;
        time_t secs = (time_t)((t->day0 + d) * 86400);
        struct tm tm;
        char key[16];
        gmtime_r(&secs, &tm);
        strftime(key, sizeof key, "%Y-%m-%d", &tm);
        json_t *day = json_object_get(days, key);
        uint64_t pv = (uint64_t)json_integer_value(
            json_object_get(day, "pageviews"));
        uint64_t vis = (uint64_t)json_integer_value(
            json_object_get(day, "visitors"));
        if ((pv != t->pv[d] || vis != t->vis[d]) && bad++ < 3)
            fprintf(stderr, "  %s: %s: pageviews %llu/%llu visitors "
                    "%llu/%llu\n", what, key, (unsigned long long)t->pv[d],
                    (unsigned long long)pv, (unsigned long long)t->vis[d],
                    (unsigned long long)vis);
        CHECK_EQ_U64(t->pv[d], pv);
        CHECK_EQ_U64(t->vis[d], vis);
    }
    CHECK_EQ_U64(ndays, json_object_size(days));
    CHECK(ndays >= 2);

    json_t *paths = json_object_get(truth, "paths");
    CHECK_EQ_U64(t->npaths, json_object_size(paths));
    for (size_t k = 0; k < t->npaths; k++) {
        uint64_t want = (uint64_t)json_integer_value(
            json_object_get(paths, t->path[k]));
        if (t->pathn[k] != want && bad++ < 6)
            fprintf(stderr, "  %s: path %s: %llu, truth %llu\n", what,
                    t->path[k], (unsigned long long)t->pathn[k],
                    (unsigned long long)want);
        CHECK_EQ_U64(t->pathn[k], want);
    }
}

static void
tally_free(struct tally *t)
{
    for (size_t k = 0; k < t->npaths; k++)
        free(t->path[k]);
    free(t->set);
    json_decref(t->malformed);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
run_oracle(const char *log, json_t *truth, const char *what, int print)
{
    struct tally t;
    memset(&t, 0, sizeof t);
    t.day0 = -1;
    t.set = calloc((size_t)1 << SETBITS, sizeof *t.set);
    t.malformed = json_array();
    lf_filter flt;
    lf_filter_init(&flt);
    char err[256];
    lf_reader *r = lf_reader_open(log, err, sizeof err);
    CHECK(r != NULL);
    if (r == NULL) {
        fprintf(stderr, "  %s\n", err);
        tally_free(&t);
        return;
    }
    lf_line l;
    int rc;
    double t0 = now_s();
    while ((rc = lf_reader_next(r, &l)) == 1)
        tally_line(&t, &flt, &l);
    double dt = now_s() - t0;
    CHECK_EQ_U64(rc, 0);
    lf_reader_close(r);
    tally_compare(&t, truth, what);
    if (print)
        printf("logfilter: %s: read+parse+filter+tally %llu lines in %.3f s: "
               "%.0f lines/s\n", what, (unsigned long long)t.lines, dt,
               (double)t.lines / dt);
    tally_free(&t);
}

static void
test_generated_log(void)
{
    char dir[] = "/tmp/test_logfilter.XXXXXX", cmd[512];
    char logp[128], gzp[128], truthp[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(logp, sizeof logp, "%s/access.log", dir);
    snprintf(gzp, sizeof gzp, "%s/access.log.gz", dir);
    snprintf(truthp, sizeof truthp, "%s/truth.json", dir);
    /* -0700: the UTC day of a line is not the day written in it */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/gen-accesslog.py "
             "--lines 200000 --days 5 --tz -0700 --seed 3 --log %s "
             "--truth %s", logp, truthp);
    CHECK(system(cmd) == 0);
    json_error_t jerr;
    json_t *truth = json_load_file(truthp, 0, &jerr);
    CHECK(truth != NULL);
    if (truth != NULL) {
        CHECK(json_array_size(json_object_get(truth, "malformed_lines")) > 0);
        run_oracle(logp, truth, "plain", 1);
        /* the same log gzip-compressed gives the same numbers */
        FILE *in = fopen(logp, "rb");
        gzFile out = gzopen(gzp, "wb1");
        CHECK(in != NULL && out != NULL);
        if (in != NULL && out != NULL) {
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                CHECK(gzwrite(out, buf, (unsigned)n) == (int)n);
        }
        if (in != NULL)
            fclose(in);
        if (out != NULL)
            gzclose(out);
        run_oracle(gzp, truth, "gzip", 1);
        json_decref(truth);
    }
    unlink(logp);
    unlink(gzp);
    unlink(truthp);
    rmdir(dir);
}

int
main(void)
{
    combined = lf_compile("combined", NULL, 0);
    if (combined == NULL)
        return 1;
    RUN(test_rules);
    RUN(test_hook_and_formats);
    RUN(test_statuses);
    RUN(test_names);
    RUN(test_generated_log);
    lf_free(combined);
    return check_summary("logfilter");
}
