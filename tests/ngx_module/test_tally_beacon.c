/*
 * test_tally_beacon.c -- unit tests of ngx_module/tally_beacon.c: every
 * validation rule of a Plausible Events API beacon, aliases, batches, and
 * the spool events it produces (encoded and decoded with the real spool
 * record code).
 */

#include <stdlib.h>

#include "ngx_module/tally_beacon.h"
#include "tests/check.h"

/* the previous jansson-based parser, the reference of test_differential */
#include "tests/ngx_module/tally_beacon_ref.c"

#define PV  "\"n\":\"pageview\",\"u\":\"https://example.com/a\"," \
            "\"d\":\"example.com\""


/* parses s and expects success; the caller frees res */
static int
ok(const char *s, tb_result *res)
{
    const char *err = NULL;
    int rc = tb_parse(s, strlen(s), res, &err);
    if (rc != 0) {
        fprintf(stderr, "unexpected error \"%s\" for %s\n", err, s);
    }
    return rc == 0;
}


/* parses s and returns the error message ("(accepted)" on success) */
static const char *
fail(const char *s)
{
    static char msg[128];
    const char *err = NULL;
    tb_result   res;

    if (tb_parse(s, strlen(s), &res, &err) == 0) {
        tb_result_free(&res);
        return "(accepted)";
    }
    CHECK(res.ev == NULL && res.n == 0);
    tb_result_free(&res);
    snprintf(msg, sizeof(msg), "%s", err);
    return msg;
}


static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}


static void
test_minimal(void)
{
    tb_result res;

    CHECK(ok("{" PV "}", &res));
    CHECK_EQ_U64(res.n, 1);
    CHECK_MEM(res.ev[0].field[SPOOL_F_NAME].ptr,
              res.ev[0].field[SPOOL_F_NAME].len, "pageview");
    CHECK_MEM(res.ev[0].field[SPOOL_F_URL].ptr,
              res.ev[0].field[SPOOL_F_URL].len, "https://example.com/a");
    CHECK_MEM(res.ev[0].field[SPOOL_F_SITE].ptr,
              res.ev[0].field[SPOOL_F_SITE].len, "example.com");
    CHECK(res.ev[0].field[SPOOL_F_REFERRER].ptr == NULL);
    CHECK(res.ev[0].field[SPOOL_F_PROPS].ptr == NULL);
    CHECK(res.ev[0].field[SPOOL_F_REVENUE].ptr == NULL);
    CHECK(res.ev[0].field[SPOOL_F_INTERACTIVE].ptr == NULL);
    CHECK(res.ev[0].field[SPOOL_F_UA].ptr == NULL);
    tb_result_free(&res);
    CHECK(res.ev == NULL && res.n == 0);
}


static void
test_full_long_names(void)
{
    tb_result res;

    CHECK(ok("{\"name\":\"Signup\",\"url\":\"http://Example.com/x?y=1#z\","
             "\"domain\":\"  Example.COM \",\"referrer\":\"https://t.co/a\","
             "\"props\":{\"plan\":\"pro\",\"seats\":3,\"ratio\":0.5,"
             "\"trial\":false,\"q\":\"a\\\"b\\\\c\\n\"},"
             "\"revenue\":{\"currency\":\"EUR\",\"amount\":\"12.50\"},"
             "\"interactive\":false,\"h\":1,\"w\":1280,\"sv\":\"2\"}", &res));
    CHECK_EQ_U64(res.n, 1);
    CHECK_MEM(res.ev[0].field[SPOOL_F_NAME].ptr,
              res.ev[0].field[SPOOL_F_NAME].len, "Signup");
    CHECK_MEM(res.ev[0].field[SPOOL_F_URL].ptr,
              res.ev[0].field[SPOOL_F_URL].len, "http://Example.com/x?y=1#z");
    CHECK_MEM(res.ev[0].field[SPOOL_F_SITE].ptr,
              res.ev[0].field[SPOOL_F_SITE].len, "example.com");
    CHECK_MEM(res.ev[0].field[SPOOL_F_REFERRER].ptr,
              res.ev[0].field[SPOOL_F_REFERRER].len, "https://t.co/a");
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len,
              "{\"plan\":\"pro\",\"seats\":\"3\",\"ratio\":\"0.5\","
              "\"trial\":\"false\",\"q\":\"a\\\"b\\\\c\\n\"}");
    CHECK_MEM(res.ev[0].field[SPOOL_F_REVENUE].ptr,
              res.ev[0].field[SPOOL_F_REVENUE].len,
              "{\"currency\":\"EUR\",\"amount\":\"12.50\"}");
    CHECK_MEM(res.ev[0].field[SPOOL_F_INTERACTIVE].ptr,
              res.ev[0].field[SPOOL_F_INTERACTIVE].len, "0");
    tb_result_free(&res);
}


static void
test_short_aliases(void)
{
    tb_result res;

    CHECK(ok("{\"n\":\"e\",\"u\":\"https://a.b/\",\"d\":\"a.b\","
             "\"r\":\"https://r.example/\",\"p\":{\"k\":\"v\"},"
             "\"$\":{\"currency\":\"USD\",\"amount\":3},\"i\":true}", &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_REFERRER].ptr,
              res.ev[0].field[SPOOL_F_REFERRER].len, "https://r.example/");
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len, "{\"k\":\"v\"}");
    CHECK_MEM(res.ev[0].field[SPOOL_F_REVENUE].ptr,
              res.ev[0].field[SPOOL_F_REVENUE].len,
              "{\"currency\":\"USD\",\"amount\":\"3\"}");
    CHECK(res.ev[0].field[SPOOL_F_INTERACTIVE].ptr == NULL);
    tb_result_free(&res);

    /* the short name wins over the long one, as in Plausible */
    CHECK(ok("{\"n\":\"short\",\"name\":\"long\",\"u\":\"https://a.b/\","
             "\"d\":\"a.b\"}", &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_NAME].ptr,
              res.ev[0].field[SPOOL_F_NAME].len, "short");
    tb_result_free(&res);

    /* a null short name falls back to the long one */
    CHECK(ok("{\"n\":null,\"name\":\"long\",\"u\":\"https://a.b/\","
             "\"d\":\"a.b\"}", &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_NAME].ptr,
              res.ev[0].field[SPOOL_F_NAME].len, "long");
    tb_result_free(&res);

    /* "meta"/"m" are Plausible's older names for props */
    CHECK(ok("{" PV ",\"m\":{\"a\":\"b\"}}", &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len, "{\"a\":\"b\"}");
    tb_result_free(&res);
}


static void
test_missing_fields(void)
{
    CHECK_STR(fail("{\"u\":\"https://a.b/\",\"d\":\"a.b\"}"),
              "missing field: name");
    CHECK_STR(fail("{\"n\":\"x\",\"d\":\"a.b\"}"), "missing field: url");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a.b/\"}"),
              "missing field: domain");
    CHECK_STR(fail("{\"n\":null,\"u\":\"https://a.b/\",\"d\":\"a.b\"}"),
              "missing field: name");
}


static void
test_invalid_json(void)
{
    CHECK_STR(fail("{\"n\":\"x\""), "invalid JSON");
    CHECK_STR(fail(""), "invalid JSON");
    CHECK_STR(fail("{" PV "} trailing"), "invalid JSON");
    CHECK_STR(fail("{" PV ",\"n\":\"dup\"}"), "invalid JSON");
    CHECK_STR(fail("42"), "body must be a JSON object");
    CHECK_STR(fail("\"text\""), "body must be a JSON object");

    /* invalid UTF-8 */
    CHECK_STR(fail("{\"n\":\"\xff\xfe\",\"u\":\"https://a.b/\","
                   "\"d\":\"a.b\"}"), "invalid JSON");

    /* an escaped NUL and a raw NUL byte */
    CHECK_STR(fail("{\"n\":\"a\\u0000b\",\"u\":\"https://a.b/\","
                   "\"d\":\"a.b\"}"), "invalid JSON");
    {
        const char body[] = "{\"n\":\"a\0b\",\"u\":\"https://a.b/\","
                            "\"d\":\"a.b\"}";
        const char *err = NULL;
        tb_result   res;
        CHECK(tb_parse(body, sizeof(body) - 1, &res, &err) == -1);
        CHECK_STR(err, "invalid JSON");
        tb_result_free(&res);
    }
}


static void
test_name_rules(void)
{
    char  buf[512];
    char *s;

    CHECK_STR(fail("{\"n\":\"\",\"u\":\"https://a.b/\",\"d\":\"a.b\"}"),
              "name: must be 1 to 120 bytes");
    CHECK_STR(fail("{\"n\":5,\"u\":\"https://a.b/\",\"d\":\"a.b\"}"),
              "name: must be a string");

    s = repeat('x', 120);
    snprintf(buf, sizeof(buf),
             "{\"n\":\"%s\",\"u\":\"https://a.b/\",\"d\":\"a.b\"}", s);
    CHECK_STR(fail(buf), "(accepted)");
    free(s);

    s = repeat('x', 121);
    snprintf(buf, sizeof(buf),
             "{\"n\":\"%s\",\"u\":\"https://a.b/\",\"d\":\"a.b\"}", s);
    CHECK_STR(fail(buf), "name: must be 1 to 120 bytes");
    free(s);
}


static void
test_url_rules(void)
{
    char  buf[4096];
    char *s;

    CHECK_STR(fail("{\"n\":\"x\",\"u\":[],\"d\":\"a.b\"}"),
              "url: must be a string");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"/relative\",\"d\":\"a.b\"}"),
              "url: must be an absolute http(s) URL");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"ftp://a.b/\",\"d\":\"a.b\"}"),
              "url: must be an absolute http(s) URL");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://\",\"d\":\"a.b\"}"),
              "url: must be an absolute http(s) URL");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https:///p\",\"d\":\"a.b\"}"),
              "url: must be an absolute http(s) URL");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a b/\",\"d\":\"a.b\"}"),
              "url: must be an absolute http(s) URL");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"HTTPS://A.B/\",\"d\":\"a.b\"}"),
              "(accepted)");

    /* 2000 bytes accepted, 2001 refused */
    s = repeat('p', 2000 - strlen("https://a.b/"));
    snprintf(buf, sizeof(buf),
             "{\"n\":\"x\",\"u\":\"https://a.b/%s\",\"d\":\"a.b\"}", s);
    CHECK_STR(fail(buf), "(accepted)");
    free(s);
    s = repeat('p', 2001 - strlen("https://a.b/"));
    snprintf(buf, sizeof(buf),
             "{\"n\":\"x\",\"u\":\"https://a.b/%s\",\"d\":\"a.b\"}", s);
    CHECK_STR(fail(buf), "url: longer than 2000 bytes");
    free(s);
}


static void
test_domain_rules(void)
{
    tb_result res;
    char      buf[1024];
    char     *s;

    CHECK(ok("{\"n\":\"x\",\"u\":\"https://a.b/\","
             "\"d\":\"A.com, b.org,,c.net , a.com\"}", &res));
    CHECK_EQ_U64(res.n, 3);
    CHECK_MEM(res.ev[0].field[SPOOL_F_SITE].ptr,
              res.ev[0].field[SPOOL_F_SITE].len, "a.com");
    CHECK_MEM(res.ev[1].field[SPOOL_F_SITE].ptr,
              res.ev[1].field[SPOOL_F_SITE].len, "b.org");
    CHECK_MEM(res.ev[2].field[SPOOL_F_SITE].ptr,
              res.ev[2].field[SPOOL_F_SITE].len, "c.net");
    CHECK_MEM(res.ev[2].field[SPOOL_F_NAME].ptr,
              res.ev[2].field[SPOOL_F_NAME].len, "x");
    tb_result_free(&res);

    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":1}"),
              "domain: must be a string");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\" , \"}"),
              "domain: must not be empty");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"a b.c\"}"),
              "domain: invalid character");

    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":"
                   "\"a1,a2,a3,a4,a5,a6,a7,a8,a9,a10\"}"), "(accepted)");
    CHECK_STR(fail("{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":"
                   "\"a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,a11\"}"),
              "domain: too many domains (max 10)");

    s = repeat('d', 255);
    snprintf(buf, sizeof(buf),
             "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"%s\"}", s);
    CHECK_STR(fail(buf), "(accepted)");
    free(s);
    s = repeat('d', 256);
    snprintf(buf, sizeof(buf),
             "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"a.b,%s\"}", s);
    CHECK_STR(fail(buf), "domain: longer than 255 bytes");
    free(s);
}


static void
test_referrer_rules(void)
{
    tb_result res;
    char      buf[4096];
    char     *s;

    CHECK(ok("{" PV ",\"r\":null}", &res));
    CHECK(res.ev[0].field[SPOOL_F_REFERRER].ptr == NULL);
    tb_result_free(&res);

    CHECK_STR(fail("{" PV ",\"r\":7}"), "referrer: must be a string or null");

    s = repeat('r', 2000);
    snprintf(buf, sizeof(buf), "{" PV ",\"r\":\"%s\"}", s);
    CHECK_STR(fail(buf), "(accepted)");
    free(s);
    s = repeat('r', 2001);
    snprintf(buf, sizeof(buf), "{" PV ",\"r\":\"%s\"}", s);
    CHECK_STR(fail(buf), "referrer: longer than 2000 bytes");
    free(s);
}


/* a props object with n pairs "k<i>":"v" */
static void
props_body(char *buf, size_t cap, int n)
{
    int    i;
    size_t len;

    len = (size_t) snprintf(buf, cap, "{" PV ",\"p\":{");
    for (i = 0; i < n; i++) {
        len += (size_t) snprintf(buf + len, cap - len, "%s\"k%d\":\"v\"",
                                 i ? "," : "", i);
    }
    snprintf(buf + len, cap - len, "}}");
}


static void
test_props_rules(void)
{
    tb_result res;
    char      buf[8192];
    char     *s;

    props_body(buf, sizeof(buf), 30);
    CHECK_STR(fail(buf), "(accepted)");
    props_body(buf, sizeof(buf), 31);
    CHECK_STR(fail(buf), "props: too many properties (max 30)");

    CHECK_STR(fail("{" PV ",\"p\":[1]}"), "props: must be an object");
    CHECK_STR(fail("{" PV ",\"p\":5}"), "props: must be an object");
    CHECK_STR(fail("{" PV ",\"p\":{\"a\":{\"b\":1}}}"),
              "props: values must be strings, numbers or booleans");
    CHECK_STR(fail("{" PV ",\"p\":{\"a\":[1]}}"),
              "props: values must be strings, numbers or booleans");

    s = repeat('k', 300);
    snprintf(buf, sizeof(buf), "{" PV ",\"p\":{\"%s\":\"v\"}}", s);
    CHECK_STR(fail(buf), "(accepted)");
    free(s);
    s = repeat('k', 301);
    snprintf(buf, sizeof(buf), "{" PV ",\"p\":{\"%s\":\"v\"}}", s);
    CHECK_STR(fail(buf), "props: key longer than 300 bytes");
    free(s);

    s = repeat('v', 2000);
    snprintf(buf, sizeof(buf), "{" PV ",\"p\":{\"k\":\"%s\"}}", s);
    CHECK_STR(fail(buf), "(accepted)");
    free(s);
    s = repeat('v', 2001);
    snprintf(buf, sizeof(buf), "{" PV ",\"p\":{\"k\":\"%s\"}}", s);
    CHECK_STR(fail(buf), "props: value longer than 2000 bytes");
    free(s);

    /* null and empty values, blank keys are dropped; nothing left = absent */
    CHECK(ok("{" PV ",\"p\":{\"a\":null,\"b\":\"\",\" \":\"x\",\"c\":\"1\"}}",
             &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len, "{\"c\":\"1\"}");
    tb_result_free(&res);
    CHECK(ok("{" PV ",\"p\":{\"a\":null}}", &res));
    CHECK(res.ev[0].field[SPOOL_F_PROPS].ptr == NULL);
    tb_result_free(&res);
    CHECK(ok("{" PV ",\"p\":{}}", &res));
    CHECK(res.ev[0].field[SPOOL_F_PROPS].ptr == NULL);
    tb_result_free(&res);

    /* numbers: integers as is, reals in their shortest exact form */
    CHECK(ok("{" PV ",\"p\":{\"i\":-42,\"r\":0.1,\"e\":1e3,\"t\":true}}",
             &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len,
              "{\"i\":\"-42\",\"r\":\"0.1\",\"e\":\"1000\",\"t\":\"true\"}");
    tb_result_free(&res);

    /* control characters and non-ASCII text survive re-serialisation */
    CHECK(ok("{" PV ",\"p\":{\"k\":\"\\u0001\\t\\u00e9\"}}", &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len,
              "{\"k\":\"\\u0001\\t\xc3\xa9\"}");
    tb_result_free(&res);
}


static void
test_props_as_string(void)
{
    tb_result res;

    CHECK(ok("{" PV ",\"props\":\"{\\\"plan\\\":\\\"pro\\\",\\\"n\\\":2}\"}",
             &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len,
              "{\"plan\":\"pro\",\"n\":\"2\"}");
    tb_result_free(&res);

    CHECK_STR(fail("{" PV ",\"props\":\"{nope\"}"),
              "props: invalid JSON in string");
    CHECK_STR(fail("{" PV ",\"props\":\"[1,2]\"}"), "props: must be an object");
}


static void
test_revenue_rules(void)
{
    tb_result res;

    CHECK(ok("{" PV ",\"revenue\":{\"currency\":\"JPY\",\"amount\":1500.25}}",
             &res));
    CHECK_MEM(res.ev[0].field[SPOOL_F_REVENUE].ptr,
              res.ev[0].field[SPOOL_F_REVENUE].len,
              "{\"currency\":\"JPY\",\"amount\":\"1500.25\"}");
    tb_result_free(&res);

    CHECK(ok("{" PV ",\"revenue\":null}", &res));
    CHECK(res.ev[0].field[SPOOL_F_REVENUE].ptr == NULL);
    tb_result_free(&res);

    CHECK_STR(fail("{" PV ",\"revenue\":12}"), "revenue: must be an object");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"amount\":1}}"),
              "revenue: currency must be 3 upper-case letters");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"currency\":\"eur\",\"amount\":1}}"),
              "revenue: currency must be 3 upper-case letters");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"currency\":\"EURO\","
                   "\"amount\":1}}"),
              "revenue: currency must be 3 upper-case letters");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"currency\":\"EUR\"}}"),
              "revenue: amount must be a number");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"currency\":\"EUR\","
                   "\"amount\":\"12,5\"}}"),
              "revenue: amount must be a number");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"currency\":\"EUR\","
                   "\"amount\":\"1e5\"}}"),
              "revenue: amount must be a number");
    CHECK_STR(fail("{" PV ",\"revenue\":{\"currency\":\"EUR\","
                   "\"amount\":true}}"),
              "revenue: amount must be a number");
    CHECK_STR(fail("{" PV ",\"$\":{\"currency\":\"EUR\","
                   "\"amount\":\"-3.10\"}}"), "(accepted)");
}


static void
test_interactive_rules(void)
{
    CHECK_STR(fail("{" PV ",\"i\":\"no\"}"), "interactive: must be a boolean");
    CHECK_STR(fail("{" PV ",\"interactive\":0}"),
              "interactive: must be a boolean");
}


static void
test_batch(void)
{
    tb_result res;
    char      buf[4096];
    size_t    len;
    int       i;

    CHECK(ok("[{" PV "},{\"n\":\"e\",\"u\":\"https://b.c/\","
             "\"d\":\"b.c,d.e\"}]", &res));
    CHECK_EQ_U64(res.n, 3);
    CHECK_MEM(res.ev[0].field[SPOOL_F_SITE].ptr,
              res.ev[0].field[SPOOL_F_SITE].len, "example.com");
    CHECK_MEM(res.ev[2].field[SPOOL_F_SITE].ptr,
              res.ev[2].field[SPOOL_F_SITE].len, "d.e");
    CHECK_MEM(res.ev[2].field[SPOOL_F_NAME].ptr,
              res.ev[2].field[SPOOL_F_NAME].len, "e");
    tb_result_free(&res);

    CHECK_STR(fail("[]"), "batch: must hold 1 to 10 events");
    CHECK_STR(fail("[{" PV "},1]"), "batch: every event must be an object");
    CHECK_STR(fail("[{" PV "},{\"n\":\"x\"}]"), "missing field: url");

    /* 10 events x 10 domains = 100 events, the most one record holds */
    len = (size_t) snprintf(buf, sizeof(buf), "[");
    for (i = 0; i < 11; i++) {
        len += (size_t) snprintf(buf + len, sizeof(buf) - len,
                                 "%s{\"n\":\"x\",\"u\":\"https://a.b/\","
                                 "\"d\":\"a0,a1,a2,a3,a4,a5,a6,a7,a8,a9\"}",
                                 i ? "," : "");
        if (i == 9) {
            snprintf(buf + len, sizeof(buf) - len, "]");
            CHECK(ok(buf, &res));
            CHECK_EQ_U64(res.n, SPOOL_MAX_EVENTS);
            CHECK(spool_record_size(res.ev, res.n) > 0);
            tb_result_free(&res);
        }
    }
    snprintf(buf + len, sizeof(buf) - len, "]");
    CHECK_STR(fail(buf), "batch: must hold 1 to 10 events");
}


/* the events encode into a record that decodes back to the same fields */
static void
test_spool_roundtrip(void)
{
    tb_result      res;
    spool_event    dec[SPOOL_MAX_EVENTS];
    size_t         size, rec_len, n, i;
    unsigned char *buf;
    int            f;

    CHECK(ok("{\"n\":\"Signup\",\"u\":\"https://a.b/x\","
             "\"d\":\"a.b,c.d\",\"r\":\"https://r/\",\"p\":{\"k\":1},"
             "\"$\":{\"currency\":\"EUR\",\"amount\":2},\"i\":false}", &res));
    for (i = 0; i < res.n; i++) {
        res.ev[i].time_ms = 1700000000000ULL + i;
        res.ev[i].visitor_id = 0x0123456789abcdefULL;
    }
    size = spool_record_size(res.ev, res.n);
    CHECK(size > 0);
    buf = malloc(size);
    CHECK_EQ_U64(spool_record_encode(res.ev, res.n, buf, size), size);
    CHECK(spool_record_decode(buf, size, &rec_len, dec, &n, NULL) == SPOOL_OK);
    CHECK_EQ_U64(rec_len, size);
    CHECK_EQ_U64(n, 2);
    for (i = 0; i < n && i < res.n; i++) {
        CHECK_EQ_U64(dec[i].time_ms, 1700000000000ULL + i);
        CHECK_EQ_U64(dec[i].visitor_id, 0x0123456789abcdefULL);
        for (f = 1; f <= SPOOL_F_INTERACTIVE; f++) {
            CHECK_EQ_U64(dec[i].field[f].len, res.ev[i].field[f].len);
            CHECK((dec[i].field[f].ptr == NULL)
                  == (res.ev[i].field[f].ptr == NULL));
            if (dec[i].field[f].ptr && res.ev[i].field[f].ptr) {
                CHECK(memcmp(dec[i].field[f].ptr, res.ev[i].field[f].ptr,
                             dec[i].field[f].len) == 0);
            }
        }
    }
    free(buf);
    tb_result_free(&res);
}


static void
test_content_type(void)
{
#define CT(s) tb_content_type_ok(s, strlen(s))
    CHECK(CT("application/json"));
    CHECK(CT("text/plain"));
    CHECK(CT("Application/JSON; charset=utf-8"));
    CHECK(CT("text/plain;charset=UTF-8"));
    CHECK(CT(" text/plain "));
    CHECK(!CT(""));
    CHECK(!CT("text/html"));
    CHECK(!CT("application/jsonx"));
    CHECK(!CT("application/x-www-form-urlencoded"));
    CHECK(!CT("text/plainish; a=b"));
#undef CT
}


/*
 * The parser against the jansson-based reference: same verdict, same error
 * message, same events byte for byte, over tricky JSON and every beacon
 * rule.  (tests/fuzz/fuzz_beacon.c does the same on random inputs.)
 */
static int
same_result(const char *s, size_t len)
{
    tb_result     a;
    tbref_result  b;
    const char   *ea = NULL, *eb = NULL;
    int           ra, rb, same = 1;
    size_t        i, f;

    ra = tb_parse(s, len, &a, &ea);
    rb = tbref_parse(s, len, &b, &eb);

    if (ra != rb) {
        same = 0;
    } else if (ra != 0) {
        same = strcmp(ea, eb) == 0;
    } else if (a.n != b.n) {
        same = 0;
    } else {
        for (i = 0; i < a.n; i++) {
            for (f = 1; f < SPOOL_F_MAX; f++) {
                spool_str x = a.ev[i].field[f], y = b.ev[i].field[f];
                if ((x.ptr == NULL) != (y.ptr == NULL)
                    || (x.ptr && (x.len != y.len
                                  || memcmp(x.ptr, y.ptr, x.len) != 0)))
                {
                    same = 0;
                }
            }
        }
    }

    if (!same) {
        fprintf(stderr, "differs from the reference (%d \"%s\" vs %d \"%s\"):"
                " %.*s\n", ra, ra ? ea : "", rb, rb ? eb : "", (int) len, s);
    }

    tb_result_free(&a);
    tbref_result_free(&b);
    return same;
}


static void
test_differential(void)
{
    static const char *const cases[] = {
        "", " ", "{}", "[]", "null", "1", "\"x\"", "[{}]", "{" PV "} x",
        "{" PV "}  \n", "{" PV ",}", "{" PV ",\"x\":01}", "{" PV ",\"x\":-}",
        "{" PV ",\"x\":1.}", "{" PV ",\"x\":.5}", "{" PV ",\"x\":1e}",
        "{" PV ",\"x\":+1}", "{" PV ",\"x\":-0}", "{" PV ",\"x\":1E+2}",
        "{" PV ",\"x\":99999999999999999999}",
        "{" PV ",\"x\":-9223372036854775808}",
        "{" PV ",\"x\":9223372036854775808}", "{" PV ",\"x\":1e999}",
        "{" PV ",\"x\":1e-999}", "{" PV ",\"x\":tru}", "{" PV ",\"x\":nul}",
        "{" PV ",\"x\":[1,2,{\"a\":[]}]}", "{" PV ",\"x\":[1,]}",
        "{" PV ",\"n\":\"dup\"}", "{" PV ",\"x\":{\"a\":1,\"a\":2}}",
        "{" PV ",\"x\":{\"a\":1,\"\\u0061\":2}}",
        "{" PV ",\"\\u006e\":\"esc-dup\"}",
        "{" PV ",\"x\":\"\\ud83d\\ude00\"}", "{" PV ",\"x\":\"\\ud83d\"}",
        "{" PV ",\"x\":\"\\ude00\"}", "{" PV ",\"x\":\"\\u0000\"}",
        "{" PV ",\"x\":\"\\x\"}", "{" PV ",\"x\":\"a\tb\"}",
        "{" PV ",\"x\":\"\xc3\xa9\"}", "{" PV ",\"x\":\"\xc3\"}",
        "{" PV ",\"x\":\"\xc0\xaf\"}", "{" PV ",\"x\":\"\xed\xa0\x80\"}",
        "{" PV ",\"x\":\"\xf4\x90\x80\x80\"}", "{" PV ",\"x\":\"\xff\"}",
        "{" PV ",\"x\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}",
        "{\"n\":\"p\\u00e9ge\",\"u\":\"https://a.b/\\u00e9?q=\\\"\","
            "\"d\":\"A.b, \\u0043.d ,a.B\",\"r\":\"https://r\\/x\"}",
        "{\"n\":\"x\",\"name\":\"y\",\"u\":\"https://a.b/\",\"d\":\"a.b\"}",
        "{\"n\":null,\"name\":\"y\",\"u\":\"https://a.b/\",\"d\":\"a.b\"}",
        "{\"n\":null,\"name\":null,\"u\":\"https://a.b/\",\"d\":\"a.b\"}",
        "{" PV ",\"p\":{\"a\":1.5,\"b\":-0,\"c\":1e2,\"d\":true,\"e\":null,"
            "\"f\":\" \",\"\":\"v\",\"g\":\"\\n\\u0001\\\"\",\"h\":1e300}}",
        "{" PV ",\"p\":{\"a\":[1]}}", "{" PV ",\"p\":{\"a\":{}}}",
        "{" PV ",\"p\":\"{\\\"k\\\":\\\"v\\\",\\\"n\\\":2}\"}",
        "{" PV ",\"p\":\"{\\\"k\\\":1,\\\"k\\\":2}\"}",
        "{" PV ",\"p\":\"[1]\"}", "{" PV ",\"p\":\"{bad\"}",
        "{" PV ",\"p\":\"\"}", "{" PV ",\"p\":null,\"m\":{\"a\":\"b\"}}",
        "{" PV ",\"props\":{\"a\":\"b\"},\"p\":{\"c\":\"d\"}}",
        "{" PV ",\"p\":{}}", "{" PV ",\"p\":7}",
        "{" PV ",\"$\":{\"currency\":\"EUR\",\"amount\":1e2}}",
        "{" PV ",\"$\":{\"currency\":\"EUR\",\"amount\":-12}}",
        "{" PV ",\"$\":{\"currency\":\"EUR\",\"amount\":\"1.x\"}}",
        "{" PV ",\"$\":{\"currency\":\"EU\",\"amount\":1}}",
        "{" PV ",\"$\":{\"currency\":\"\\u0045UR\",\"amount\":\"3.50\"}}",
        "{" PV ",\"$\":{\"amount\":1}}", "{" PV ",\"$\":[]}",
        "{" PV ",\"revenue\":{\"currency\":\"USD\",\"amount\":true}}",
        "{" PV ",\"i\":false}", "{" PV ",\"i\":0}",
        "{" PV ",\"interactive\":true,\"i\":null}",
        "[{" PV "},{" PV ",\"d\":\"x.y,z.w\"}]", "[{" PV "},1]", "[1,{bad",
        "[{" PV "},{" PV "},{" PV "},{" PV "},{" PV "},{" PV "},{" PV "},"
            "{" PV "},{" PV "},{" PV "},{" PV "}]",
        "[{" PV "},{\"n\":\"x\"}]",
        "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\",, ,\"}",
        "{\"n\":\"x\",\"u\":\"ftp://a.b/\",\"d\":\"a\"}",
        "{\"n\":\"x\",\"u\":\"https:///x\",\"d\":\"a\"}",
        "{\"n\":\"x\",\"u\":\"https://a.b/ x\",\"d\":\"a\"}",
        "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"a\\u0001b\"}",
        "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"a,b,c,d,e,f,g,h,i,j,k\"}",
        "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"a\",\"r\":5}",
        "{\"n\":\"x\",\"u\":\"https://a.b/\",\"d\":\"a\",\"r\":\"\"}",
        "{\"n\":\"\",\"u\":\"https://a.b/\",\"d\":\"a\"}",
        "{\"n\":1,\"u\":2,\"d\":3}",
    };
    size_t  i, j;
    char   *deep, *many;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(same_result(cases[i], strlen(cases[i])));
    }

    /* nesting at and past the limit */
    for (j = 2047; j <= 2049; j++) {
        deep = malloc(2 * j + 1);
        memset(deep, '[', j);
        memset(deep + j, ']', j);
        deep[2 * j] = '\0';
        CHECK(same_result(deep, 2 * j));
        free(deep);
    }

    /* many keys (the sorted duplicate check), with and without a dup */
    many = malloc(64 * 1024);
    for (j = 0; j < 2; j++) {
        char *w = many;
        w += sprintf(w, "{" PV ",\"x\":{");
        for (i = 0; i < 3000; i++) {
            w += sprintf(w, "%s\"k%zu\":%zu", i ? "," : "",
                         (j && i == 2999) ? (size_t) 17 : i, i);
        }
        w += sprintf(w, "}}");
        CHECK(same_result(many, (size_t) (w - many)));
    }
    free(many);
}


static void
test_scratch(void)
{
    static char   scratch[256 * 1024];
    const char   *body = "{\"n\":\"e\\u00e9\",\"u\":\"https://a.b/\","
                         "\"d\":\"a.b\",\"p\":{\"a\":1}}";
    const char   *err;
    tb_result     res;

    CHECK(tb_scratch_size(strlen(body)) <= sizeof(scratch));
    CHECK(tb_parse_scratch(body, strlen(body), &res, scratch,
                           sizeof(scratch), &err) == 0);
    CHECK(res.mem == NULL);                     /* nothing allocated */
    CHECK((char *) res.ev >= scratch
          && (char *) res.ev < scratch + sizeof(scratch));
    CHECK_MEM(res.ev[0].field[SPOOL_F_NAME].ptr,
              res.ev[0].field[SPOOL_F_NAME].len, "e\xc3\xa9");
    CHECK_MEM(res.ev[0].field[SPOOL_F_PROPS].ptr,
              res.ev[0].field[SPOOL_F_PROPS].len, "{\"a\":\"1\"}");
    tb_result_free(&res);

    /* too small: falls back to its own memory */
    CHECK(tb_parse_scratch(body, strlen(body), &res, scratch, 16, &err)
          == 0);
    CHECK(res.mem != NULL && res.n == 1);
    tb_result_free(&res);
}


int
main(void)
{
    RUN(test_minimal);
    RUN(test_full_long_names);
    RUN(test_short_aliases);
    RUN(test_missing_fields);
    RUN(test_invalid_json);
    RUN(test_name_rules);
    RUN(test_url_rules);
    RUN(test_domain_rules);
    RUN(test_referrer_rules);
    RUN(test_props_rules);
    RUN(test_props_as_string);
    RUN(test_revenue_rules);
    RUN(test_interactive_rules);
    RUN(test_batch);
    RUN(test_spool_roundtrip);
    RUN(test_content_type);
    RUN(test_differential);
    RUN(test_scratch);
    return check_summary("tally_beacon");
}
