/* test_logfmt.c -- NGINX log_format compilation and line parsing. */
#include "aggregator/logfmt.h"
#include "tests/check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
parse(const lf_format *f, const char *line, lf_record *r)
{
    return lf_parse(f, line, strlen(line), r);
}

static lf_format *
compile(const char *fmt)
{
    char err[128];
    lf_format *f = lf_compile(fmt, err, sizeof err);
    if (f == NULL)
        fprintf(stderr, "compile %s: %s\n", fmt, err);
    return f;
}

static void
test_combined(void)
{
    lf_format *f = compile("combined");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK((lf_format_has(f) & (LF_HAS_TIME | LF_HAS_PATH | LF_HAS_UA
                               | LF_HAS_ADDR | LF_HAS_STATUS))
          == (LF_HAS_TIME | LF_HAS_PATH | LF_HAS_UA | LF_HAS_ADDR
              | LF_HAS_STATUS));
    CHECK(!(lf_format_has(f) & LF_HAS_HOST));
    lf_record r;
    const char *l = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "
                    "\"GET /apache_pb.gif?a=1&b=2 HTTP/1.0\" 200 2326 "
                    "\"http://www.example.com/start.html\" "
                    "\"Mozilla/4.08 [en] (Win98; I ;Nav)\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.addr.p, r.addr.n, "127.0.0.1");
    CHECK_EQ_U64(r.time_ms, 971211336000LL);
    CHECK_MEM(r.method.p, r.method.n, "GET");
    CHECK_MEM(r.target.p, r.target.n, "/apache_pb.gif?a=1&b=2");
    CHECK_MEM(r.path.p, r.path.n, "/apache_pb.gif");
    CHECK_MEM(r.query.p, r.query.n, "a=1&b=2");
    CHECK_MEM(r.protocol.p, r.protocol.n, "HTTP/1.0");
    CHECK_EQ_U64(r.status, 200);
    CHECK_EQ_U64(r.body_bytes, 2326);
    CHECK_MEM(r.referer.p, r.referer.n, "http://www.example.com/start.html");
    CHECK_MEM(r.user_agent.p, r.user_agent.n,
              "Mozilla/4.08 [en] (Win98; I ;Nav)");
    CHECK_EQ_U64(r.host.n, 0);
    CHECK(r.host.p != NULL && r.xff.p != NULL);

    /* "-" is NGINX's "not set": empty; IPv6 client; no query */
    l = "2001:db8::a:1 - - [01/Jan/2024:05:30:00 +0530] "
        "\"GET / HTTP/2.0\" 304 0 \"-\" \"-\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.addr.p, r.addr.n, "2001:db8::a:1");
    CHECK_EQ_U64(r.time_ms, 1704067200000LL);
    CHECK_MEM(r.path.p, r.path.n, "/");
    CHECK_EQ_U64(r.query.n, 0);
    CHECK_EQ_U64(r.status, 304);
    CHECK_EQ_U64(r.referer.n, 0);
    CHECK_EQ_U64(r.user_agent.n, 0);

    /* trailing fields (NGINX's "main" format) are ignored */
    l = "10.1.2.3 - - [31/Dec/2023:23:59:59 +0000] \"GET /x HTTP/1.1\" 200 "
        "5 \"-\" \"curl/8.0\" \"203.0.113.9\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.user_agent.p, r.user_agent.n, "curl/8.0");
    CHECK_EQ_U64(r.time_ms, 1704067199000LL);
    lf_free(f);
}

static void
test_timezones(void)
{
    lf_format *f = compile("[$time_local]");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    static const struct {
        const char *line;
        int64_t     ms;
    } cases[] = {
        { "[10/Oct/2000:13:55:36 -0700]", 971211336000LL },
        { "[01/Jan/2024:05:30:00 +0530]", 1704067200000LL },
        { "[01/Jan/2024:01:00:00 +0200]", 1704063600000LL },  /* day before */
        { "[31/Dec/2023:19:00:00 -0500]", 1704067200000LL },  /* year after */
        { "[29/Feb/2024:12:00:00 +0000]", 1709208000000LL },
        { "[31/Dec/1969:23:59:59 +0000]", -1000LL },
        { "[01/Apr/2024:00:30:00 +0200]", 1711924200000LL },
        { "[01/Jan/2024:09:45:00 +0945]", 1704067200000LL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lf_record r;
        int rc = parse(f, cases[i].line, &r);
        CHECK_EQ_U64(rc, LF_OK);
        if (rc != LF_OK || r.time_ms != cases[i].ms)
            fprintf(stderr, "  case %s\n", cases[i].line);
        CHECK_EQ_U64(r.time_ms, cases[i].ms);
    }
    lf_free(f);
}

/* lf_civil_to_ms against the C library's timegm over many dates */
static void
test_civil_oracle(void)
{
    unsigned seed = 12345;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        int y = 1900 + (int)(seed >> 8) % 300;
        seed = seed * 1103515245u + 12345u;
        int mon = 1 + (int)(seed >> 8) % 12, d = 1 + (int)(seed >> 16) % 28;
        seed = seed * 1103515245u + 12345u;
        int h = (int)(seed >> 8) % 24, mi = (int)(seed >> 16) % 60,
            s = (int)(seed >> 20) % 60;
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
                         .tm_hour = h, .tm_min = mi, .tm_sec = s };
        int64_t want = (int64_t)timegm(&tm) * 1000;
        if (lf_civil_to_ms(y, mon, d, h, mi, s) != want) {
            CHECK_EQ_U64(lf_civil_to_ms(y, mon, d, h, mi, s), want);
            break;
        }
    }
}

static void
test_bad_times(void)
{
    lf_format *f = compile("x [$time_local] y");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    static const char *bad[] = {
        "x [32/Oct/2000:13:55:36 -0700] y", "x [29/Feb/2023:13:55:36 +0000] y",
        "x [10/Okt/2000:13:55:36 -0700] y", "x [10/oct/2000:13:55:36 -0700] y",
        "x [10/Oct/2000:24:00:00 -0700] y", "x [10/Oct/2000:13:60:36 -0700] y",
        "x [10/Oct/2000:13:55:36 0700] y",  "x [10/Oct/2000:13:55:36 -07:00] y",
        "x [10/Oct/2000:13:55:36 -0760] y", "x [10/Oct/2000 13:55:36 -0700] y",
        "x [10/Oct/2000:13:55:36] y",       "x [] y", "x [-] y",
        "x [1O/Oct/2000:13:55:36 -0700] y", "x [00/Oct/2000:13:55:36 -0700] y",
        "x [10/Oct/2000:13:55:36 -0700 ] y",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lf_record r;
        int rc = parse(f, bad[i], &r);
        if (rc != LF_ERR_TIME)
            fprintf(stderr, "  accepted or wrong code %d: %s\n", rc, bad[i]);
        CHECK_EQ_U64(rc, LF_ERR_TIME);
        if (rc == LF_ERR_TIME) {
            CHECK_STR(r.err, "bad time");
            CHECK_EQ_U64(r.err_col, 4);
        }
    }
    lf_free(f);
}

static void
test_iso_msec_custom(void)
{
    /* ${var} syntax, $time_iso8601, unknown variables skipped, $uri+$args */
    lf_format *f = compile("${time_iso8601} $remote_addr ${request_method} "
                           "$uri?$args $status $request_time "
                           "ua=\"$http_user_agent\" up=$upstream_addr "
                           "xff=\"$http_x_forwarded_for\"");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    lf_record r;
    const char *l = "2000-10-10T13:55:36-07:00 ::1 GET /a/b?x=1 404 0.250 "
                    "ua=\"Mozilla \\\"quoted\\\"\" up=10.0.0.1:80 "
                    "xff=\"198.51.100.7, 10.0.0.2\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 971211336000LL);
    CHECK_MEM(r.addr.p, r.addr.n, "::1");
    CHECK_MEM(r.method.p, r.method.n, "GET");
    CHECK_MEM(r.path.p, r.path.n, "/a/b");
    CHECK_MEM(r.query.p, r.query.n, "x=1");
    CHECK_EQ_U64(r.target.n, 0);
    CHECK_EQ_U64(r.status, 404);
    CHECK_EQ_U64(r.request_time_ms, 250);
    CHECK_MEM(r.user_agent.p, r.user_agent.n, "Mozilla \\\"quoted\\\"");
    CHECK_MEM(r.xff.p, r.xff.n, "198.51.100.7");
    /* NGINX writes "-" for empty $args */
    l = "2024-01-01T05:30:00+05:30 1.2.3.4 GET /p?- 200 0.000 ua=\"\" "
        "up=- xff=\"-\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200000LL);
    CHECK_MEM(r.path.p, r.path.n, "/p");
    CHECK_EQ_U64(r.query.n, 0);
    CHECK_EQ_U64(r.xff.n, 0);
    CHECK_EQ_U64(r.user_agent.n, 0);
    lf_free(f);

    f = compile("$msec|$time_iso8601|$request_uri");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    /* the later time field wins; both are parsed and checked */
    CHECK_EQ_U64(parse(f, "1704067200.123|2024-01-01T00:00:00.250Z|/x", &r),
                 LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200250LL);
    lf_free(f);
    f = compile("$msec $request_uri");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(parse(f, "1704067200.123 /x", &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200123LL);
    CHECK_EQ_U64(parse(f, "1704067200 /x", &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200000LL);
    CHECK_EQ_U64(parse(f, "1704067200.5 /x", &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200500LL);
    CHECK_EQ_U64(parse(f, "1704067200. /x", &r), LF_ERR_TIME);
    CHECK_EQ_U64(parse(f, "- /x", &r), LF_ERR_TIME);
    CHECK_EQ_U64(parse(f, "17040x7200.1 /x", &r), LF_ERR_TIME);
    lf_free(f);

    f = compile("$time_iso8601 .");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(parse(f, "2024-01-01T00:00:00+0000 .", &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200000LL);
    CHECK_EQ_U64(parse(f, "2023-12-31T19:00:00-05:00 .", &r), LF_OK);
    CHECK_EQ_U64(r.time_ms, 1704067200000LL);
    CHECK_EQ_U64(parse(f, "2024-01-01T00:00:00 .", &r), LF_ERR_TIME);
    CHECK_EQ_U64(parse(f, "2024-13-01T00:00:00Z .", &r), LF_ERR_TIME);
    CHECK_EQ_U64(parse(f, "2024-01-01T00:00:00ZZ .", &r), LF_ERR_TIME);
    lf_free(f);
}

static void
test_vhost_and_common(void)
{
    lf_format *f = compile("vhost_combined");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(lf_format_has(f) & LF_HAS_HOST);
    lf_record r;
    CHECK_EQ_U64(parse(f, "example.com:443 203.0.113.5 - - "
                          "[10/Oct/2000:13:55:36 -0700] \"GET /p HTTP/1.1\" "
                          "200 12 \"-\" \"UA\"", &r), LF_OK);
    CHECK_MEM(r.host.p, r.host.n, "example.com");
    CHECK_EQ_U64(r.server_port, 443);
    CHECK_MEM(r.addr.p, r.addr.n, "203.0.113.5");
    CHECK_MEM(r.path.p, r.path.n, "/p");
    /* an IPv6 literal as host: read past the brackets */
    CHECK_EQ_U64(parse(f, "[2001:db8::1]:8080 2001:db8::2 - - "
                          "[10/Oct/2000:13:55:36 -0700] \"GET /q HTTP/1.1\" "
                          "200 12 \"-\" \"UA\"", &r), LF_OK);
    CHECK_MEM(r.host.p, r.host.n, "[2001:db8::1]");
    CHECK_EQ_U64(r.server_port, 8080);
    CHECK_MEM(r.addr.p, r.addr.n, "2001:db8::2");
    CHECK_EQ_U64(parse(f, "example.com:https 1.2.3.4 - - "
                          "[10/Oct/2000:13:55:36 -0700] \"GET /q HTTP/1.1\" "
                          "200 12 \"-\" \"UA\"", &r), LF_ERR_NUMBER);
    CHECK_EQ_U64(r.err_col, 13);
    lf_free(f);

    f = compile("common");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(!(lf_format_has(f) & LF_HAS_UA));
    /* Apache's %b writes "-" for no body */
    CHECK_EQ_U64(parse(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "
                          "\"HEAD / HTTP/1.0\" 304 -", &r), LF_OK);
    CHECK_MEM(r.method.p, r.method.n, "HEAD");
    CHECK_EQ_U64(r.body_bytes, 0);
    CHECK_EQ_U64(r.status, 304);
    lf_free(f);

    /* $host wins over $server_name whatever the order */
    f = compile("$server_name $host $http_host $request_uri");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(parse(f, "srv.example h.example hh.example:81 /", &r), LF_OK);
    CHECK_MEM(r.host.p, r.host.n, "h.example");
    lf_free(f);
    f = compile("$server_name $http_host $request_uri");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_EQ_U64(parse(f, "srv.example hh.example:81 /", &r), LF_OK);
    CHECK_MEM(r.host.p, r.host.n, "hh.example:81");
    lf_free(f);
}

static void
test_escapes(void)
{
    lf_format *f = compile("combined");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    lf_record r;
    /* NGINX: '"' and '\' as \x22 / \x5C; Apache: \" and \\ */
    const char *l = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                    "\"GET /caf\\xC3\\xA9?q=\\x22x\\x22 HTTP/1.1\" 200 1 "
                    "\"-\" \"A \\\"quoted\\\" UA \\\\\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.path.p, r.path.n, "/caf\\xC3\\xA9");
    CHECK_MEM(r.user_agent.p, r.user_agent.n, "A \\\"quoted\\\" UA \\\\");
    char buf[64];
    size_t n = lf_unescape(r.user_agent.p, r.user_agent.n, buf);
    CHECK_MEM(buf, n, "A \"quoted\" UA \\");
    n = lf_unescape(r.path.p, r.path.n, buf);
    CHECK_MEM(buf, n, "/caf\xC3\xA9");
    n = lf_unescape(r.query.p, r.query.n, buf);
    CHECK_MEM(buf, n, "q=\"x\"");
    /* incomplete escapes are copied as they are, in place too */
    char s[] = "a\\x4 b\\q \\x41\\";
    n = lf_unescape(s, strlen(s), s);
    CHECK_MEM(s, n, "a\\x4 b\\q A\\");

    /* a TLS handshake on a plain port: logged with status 400, no method */
    l = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
        "\"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03\" 400 157 "
        "\"-\" \"-\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_EQ_U64(r.status, 400);
    CHECK_EQ_U64(r.method.n, 0);
    CHECK_EQ_U64(r.path.n, 0);
    /* absolute-form request target */
    l = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
        "\"GET http://example.com/a?b HTTP/1.1\" 200 1 \"-\" \"-\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.target.p, r.target.n, "http://example.com/a?b");
    CHECK_MEM(r.path.p, r.path.n, "/a");
    CHECK_MEM(r.query.p, r.query.n, "b");
    l = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
        "\"GET HTTPS://example.com HTTP/1.1\" 200 1 \"-\" \"-\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.path.p, r.path.n, "/");
    /* HTTP/0.9: no protocol */
    l = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /old\" 200 1 "
        "\"-\" \"-\"";
    CHECK_EQ_U64(parse(f, l, &r), LF_OK);
    CHECK_MEM(r.path.p, r.path.n, "/old");
    CHECK_EQ_U64(r.protocol.n, 0);
    lf_free(f);
}

static void
test_malformed(void)
{
    lf_format *f = compile("combined");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    const char *good = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                       "\"GET / HTTP/1.1\" 200 1 \"-\" \"UA\"";
    lf_record r;
    char buf[96];
    /* every proper prefix of a good line is rejected */
    size_t gl = strlen(good);
    for (size_t n = 0; n < gl; n++) {
        int rc = lf_parse(f, good, n, &r);
        if (rc == LF_OK)
            fprintf(stderr, "  prefix %zu accepted\n", n);
        CHECK(rc != LF_OK);
        CHECK(r.err != NULL && r.err_col >= 1 && r.err_col <= n + 1);
    }
    CHECK_EQ_U64(lf_parse(f, good, gl, &r), LF_OK);

    CHECK_EQ_U64(parse(f, "garbage", &r), LF_ERR_MATCH);
    CHECK_STR(lf_strerror(&r, buf, sizeof buf),
              "line does not match format at column 1");
    CHECK_EQ_U64(parse(f, "", &r), LF_ERR_MATCH);
    /* a truncated line: the body size has no " after it */
    CHECK_EQ_U64(parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                          "\"GET / HTTP/1.1\" 200 1", &r), LF_ERR_MATCH);
    CHECK_STR(lf_strerror(&r, buf, sizeof buf),
              "line does not match format at column 63");
    CHECK_EQ_U64(parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                          "\"GET / HTTP/1.1\" 2x0 1 \"-\" \"UA\"", &r),
                 LF_ERR_STATUS);
    CHECK_STR(lf_strerror(&r, buf, sizeof buf), "bad status at column 59");
    CHECK_EQ_U64(parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                          "\"GET / HTTP/1.1\" 20 1 \"-\" \"UA\"", &r),
                 LF_ERR_STATUS);
    CHECK_EQ_U64(parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                          "\"GET / HTTP/1.1\" 200 1k \"-\" \"UA\"", &r),
                 LF_ERR_NUMBER);
    CHECK_STR(r.err, "bad number");
    CHECK_EQ_U64(parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                          "\"GET / HTTP/1.1\" 200 99999999999999999999 "
                          "\"-\" \"UA\"", &r), LF_ERR_NUMBER);
    CHECK_EQ_U64(parse(f, "1.2.3.4 - - [32/Oct/2000:13:55:36 -0700] "
                          "\"GET / HTTP/1.1\" 200 1 \"-\" \"UA\"", &r),
                 LF_ERR_TIME);
    CHECK_STR(lf_strerror(&r, buf, sizeof buf), "bad time at column 14");
    /* a leading literal that does not match reports where */
    lf_format *g = compile("<<$status>>");
    CHECK(g != NULL);
    if (g != NULL) {
        CHECK_EQ_U64(parse(g, "<[200>>", &r), LF_ERR_MATCH);
        CHECK_EQ_U64(r.err_col, 2);
        CHECK_EQ_U64(parse(g, "<<200>", &r), LF_ERR_MATCH);
        CHECK_EQ_U64(r.err_col, 3);
        CHECK_EQ_U64(parse(g, "<<200>>", &r), LF_OK);
        CHECK_EQ_U64(r.status, 200);
        lf_free(g);
    }
    lf_free(f);
}

static void
test_compile_errors(void)
{
    char err[128];
    static const struct {
        const char *fmt, *msg;
    } bad[] = {
        { "", "empty log format" },
        { "no variables here", "log format has no variables" },
        { "a $ b $status", "'$' without a variable name at column 3" },
        { "${status", "unterminated ${ at column 1" },
        { "x ${} y", "'$' without a variable name at column 3" },
        { "$status$body_bytes_sent", "variable at column 8 follows another "
                                     "variable with no text between them" },
        { "$a ${b}${c}", "variable at column 8 follows another variable "
                         "with no text between them" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        lf_format *f = lf_compile(bad[i].fmt, err, sizeof err);
        CHECK(f == NULL);
        lf_free(f);
        CHECK_STR(err, bad[i].msg);
    }
    CHECK(lf_compile("$", NULL, 0) == NULL);
    /* names expand; a format string is kept as given */
    lf_format *f = lf_compile("common", err, sizeof err);
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK_STR(lf_format_string(f), "$remote_addr - $remote_user "
                  "[$time_local] \"$request\" $status $body_bytes_sent");
        lf_free(f);
    }
    f = lf_compile("${status}x", err, sizeof err);
    CHECK(f != NULL);
    if (f != NULL) {
        lf_record r;
        CHECK_EQ_U64(parse(f, "204x", &r), LF_OK);
        CHECK_EQ_U64(r.status, 204);
        lf_free(f);
    }
    lf_free(NULL);
}

/* ---- a generated log: oracle for parse failures, and the speed -------- */

static char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_generated_log(void)
{
    const char *env = getenv("LOGFMT_BENCH_LINES");
    long lines = env != NULL ? atol(env) : 100000;
    char dir[] = "/tmp/test_logfmt.XXXXXX", cmd[512], logp[128], truthp[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(logp, sizeof logp, "%s/access.log", dir);
    snprintf(truthp, sizeof truthp, "%s/truth.json", dir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/gen-accesslog.py "
             "--lines %ld --seed 7 --log %s --truth %s", lines, logp, truthp);
    CHECK(system(cmd) == 0);
    size_t len = 0;
    char *buf = slurp(logp, &len);
    json_error_t jerr;
    json_t *truth = json_load_file(truthp, 0, &jerr);
    CHECK(buf != NULL && truth != NULL);
    lf_format *f = compile("combined");
    CHECK(f != NULL);
    if (buf == NULL || truth == NULL || f == NULL)
        goto out;

    /* every line the generator made malformed fails, no other line does */
    json_t *mal = json_object_get(truth, "malformed_lines");
    size_t mi = 0, nlines = 0, nfail = 0, mismatches = 0;
    lf_record r;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        nlines++;
        int rc = lf_parse(f, buf + pos, end - pos, &r);
        int want_fail = mi < json_array_size(mal)
            && (size_t)json_integer_value(json_array_get(mal, mi)) == nlines;
        if (want_fail)
            mi++;
        if ((rc != LF_OK) != want_fail && mismatches++ < 5)
            fprintf(stderr, "  line %zu: rc %d, expected %s\n", nlines, rc,
                    want_fail ? "failure" : "success");
        nfail += rc != LF_OK;
        pos = end + 1;
    }
    CHECK_EQ_U64(nlines, (uint64_t)lines);
    CHECK_EQ_U64(mismatches, 0);
    CHECK_EQ_U64(nfail, json_array_size(mal));

    /* speed: the best of three passes over the lines in memory */
    double best = 1e9;
    uint64_t sink = 0;
    for (int pass = 0; pass < 3; pass++) {
        double t0 = now_s();
        for (size_t pos = 0; pos < len;) {
            const char *nl = memchr(buf + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - buf) : len;
            if (lf_parse(f, buf + pos, end - pos, &r) == LF_OK)
                sink += (uint64_t)r.status + r.path.n;
            pos = end + 1;
        }
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    CHECK(sink > 0);
    printf("logfmt: parsed %zu combined lines (%.0f MB) in %.3f s: "
           "%.0f lines/s, %.0f MB/s\n", nlines, (double)len / 1e6, best,
           (double)nlines / best, (double)len / 1e6 / best);
out:
    lf_free(f);
    free(buf);
    json_decref(truth);
    unlink(logp);
    unlink(truthp);
    rmdir(dir);
}

int
main(void)
{
    RUN(test_combined);
    RUN(test_timezones);
    RUN(test_civil_oracle);
    RUN(test_bad_times);
    RUN(test_iso_msec_custom);
    RUN(test_vhost_and_common);
    RUN(test_escapes);
    RUN(test_malformed);
    RUN(test_compile_errors);
    RUN(test_generated_log);
    return check_summary("logfmt");
}
