/*
 * test_tally_json.c -- unit tests of ngx_module/tally_json.c, the JSON
 * reader under the beacon parser: what pass 1 accepts and rejects (the
 * tricky documents of test_tally_beacon.c's differential test, here on
 * their own), and the pass 2 helpers on validated text.
 */

#include <limits.h>
#include <stdlib.h>

#include "ngx_module/tally_json.h"
#include "tests/check.h"

#define PERM 4096


/* a context over fresh memory for documents of up to len bytes; the
 * caller frees *mem */
static void
ctx(tally_json_ctx *c, char **mem, size_t len)
{
    *mem = malloc(PERM + tally_json_scratch_size(len));
    tally_json_ctx_init(c, *mem, PERM, len);
}


static int
valid_n(const char *s, size_t len)
{
    tally_json_ctx   c;
    char            *mem;
    int              rc;

    ctx(&c, &mem, len);
    rc = tally_json_validate(&c, s, len);
    free(mem);
    return rc == 0;
}


static int
valid(const char *s)
{
    return valid_n(s, strlen(s));
}


static void
test_accepts(void)
{
    static const char *const ok[] = {
        "{}", "[]", " null ", "true", "false", "\n\t\r 1 ", "0", "-0",
        "1E+2", "1e-2", "-1.5", "\"x\"", "\"\"", "[1,2,{\"a\":[]}]",
        "{\"a\":{\"a\":1}}", "{\"\":0}", "\"\\ud83d\\ude00\"",
        "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9\"", "\"\xc3\xa9\"",
        "\"\xe2\x82\xac\xf0\x9f\x98\x80\"", "-9223372036854775808",
        "9223372036854775807", "1e-999",
    };
    size_t  i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!valid(ok[i])) {
            fprintf(stderr, "rejected: %s\n", ok[i]);
            CHECK(0);
        }
    }
}


static void
test_rejects(void)
{
    static const char *const bad[] = {
        "", " ", "{", "[", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}",
        "[1 2]", "01", "-", "1.", ".5", "1e", "+1", "tru", "nul", "True",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "\"\\ud83d\"",
        "\"\\ude00\"", "\"\\u0000\"", "\"\\x\"", "\"\\u12\"", "\"a\tb\"",
        "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xff\"", "\"abc", "99999999999999999999",
        "9223372036854775808", "-9223372036854775809", "1e999", "{} x",
        "1 2", "'a'",
    };
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (valid(bad[i])) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CHECK(0);
        }
    }

    /* a raw NUL byte, inside a string and outside */
    CHECK(!valid_n("\"a\0b\"", 5));
    CHECK(!valid_n("1\0", 2));
}


static void
test_limits(void)
{
    size_t   i, j;
    char    *deep, *many, *w;

    /* nesting: 2048 deep is fine, 2049 is not */
    for (j = 2047; j <= 2049; j++) {
        deep = malloc(2 * j);
        memset(deep, '[', j);
        memset(deep + j, ']', j);
        CHECK(valid_n(deep, 2 * j) == (j <= 2048));
        free(deep);
    }

    /* many keys (the sorted duplicate check), with and without a dup */
    many = malloc(64 * 1024);
    for (j = 0; j < 2; j++) {
        w = many;
        w += sprintf(w, "{\"x\":{");
        for (i = 0; i < 3000; i++) {
            w += sprintf(w, "%s\"k%zu\":%zu", i ? "," : "",
                         (j && i == 2999) ? (size_t) 17 : i, i);
        }
        w += sprintf(w, "},\"y\":1}");
        CHECK(valid_n(many, (size_t) (w - many)) == (j == 0));
    }
    free(many);

    /* the same key in sibling and nested objects is no duplicate */
    CHECK(valid("[{\"a\":1},{\"a\":2,\"b\":{\"a\":3}}]"));
    CHECK(valid("{\"\\u0061\":{\"a\":1},\"b\":1}"));
}


static void
test_strings(void)
{
    const char      *doc = "[\"abc\",\"a\\u00e9\\n\\ud83d\\ude00\\/\"]";
    const char      *s, *p;
    size_t           len;
    int              esc;
    char            *mem;
    tally_json_ctx   c;

    ctx(&c, &mem, strlen(doc));
    CHECK(tally_json_validate(&c, doc, strlen(doc)) == 0);
    CHECK(c.end == doc + strlen(doc));

    /* no escapes: in place, nothing allocated */
    p = doc + 1;
    CHECK(tally_json_string(&c, p, &s, &len) == 0);
    CHECK(s == p + 1 && len == 3 && c.used == 0);
    p = tally_json_skip_string(p, &esc);
    CHECK(esc == 0 && *p == ',');

    /* escapes: decoded into the permanent memory */
    p++;
    CHECK(tally_json_string(&c, p, &s, &len) == 0);
    CHECK_MEM(s, len, "a\xc3\xa9\n\xf0\x9f\x98\x80/");
    CHECK(s >= mem && s < mem + PERM && c.used > 0);
    p = tally_json_skip_string(p, &esc);
    CHECK(esc == 1 && *p == ']');

    /* the permanent memory runs out */
    c.used = c.cap;
    CHECK(tally_json_string(&c, doc + 7, &s, &len) == -1);
    free(mem);
}


static void
test_alloc(void)
{
    char            *mem, *a, *b;
    tally_json_ctx   c;

    ctx(&c, &mem, 0);
    a = tally_json_alloc(&c, 1);
    b = tally_json_alloc(&c, 9);
    CHECK(a == mem && b == mem + 8 && c.used == 24);
    CHECK(tally_json_alloc(&c, PERM - 24) != NULL);
    CHECK(tally_json_alloc(&c, 1) == NULL);
    CHECK((char *) c.keys == mem + PERM);
    free(mem);
}


static void
test_objects(void)
{
    const char       *doc = "{ \"a\" : 1 , \"b\":[1,{\"c\":\"}]\"}],"
                            "\"\\u0063\":\"x\",\"long\\u0021key\":null,"
                            "\"e\":{\"f\":[]}}";
    const char       *end = doc + strlen(doc), *key, *val, *v;
    char              buf[8];
    size_t            klen, n = 0;
    tally_json_iter   it;

    CHECK(valid(doc));
    CHECK(tally_json_members(doc, end) == 5);
    CHECK(tally_json_members("{}", "{}" + 2) == 0);

    tally_json_iter_init(&it, doc, end);
    while (tally_json_iter_next(&it, buf, sizeof(buf), &key, &klen, &val)) {
        switch (n++) {
        case 0:
            CHECK_MEM(key, klen, "a");
            CHECK(*val == '1');
            break;
        case 1:
            CHECK_MEM(key, klen, "b");
            CHECK(*val == '[');
            CHECK(tally_json_skip_value(val, end) == strstr(doc, "],") + 1);
            break;
        case 2:
            CHECK(key == buf);                  /* decoded */
            CHECK_MEM(key, klen, "c");
            CHECK(*val == '"');
            break;
        case 3:
            CHECK(key == NULL && klen == 13);   /* too long for buf */
            CHECK(*val == 'n');
            CHECK(tally_json_is_null(val));
            break;
        case 4:
            CHECK_MEM(key, klen, "e");
            CHECK(tally_json_is_object(val));
            CHECK(tally_json_skip_value(val, end) == end - 1);
            break;
        }
    }
    CHECK(n == 5);

    v = tally_json_member(doc, end, "c");       /* the escaped key */
    CHECK(tally_json_is_string(v) && v[1] == 'x');
    CHECK(!tally_json_is_bool(v) && !tally_json_is_object(v));
    v = tally_json_member(doc, end, "long!key");  /* decodes to 8 bytes */
    CHECK(tally_json_is_null(v));
    CHECK(tally_json_member(doc, end, "b") == strchr(doc, '['));
    v = tally_json_member(doc, end, "zz");
    CHECK(v == NULL && !tally_json_is_null(v) && !tally_json_is_string(v));
}


static void
test_numbers(void)
{
    const char  *doc = "[42,-1.5e1,-9223372036854775808,1E2,0.1]";
    const char  *end = doc + strlen(doc), *p;
    long long    i = 0;
    double       d = 0;

    CHECK(valid(doc));

    p = doc + 1;
    CHECK(tally_json_number(p, end, &i, &d) == 1 && i == 42);
    CHECK(tally_json_skip_value(p, end) == p + 2);
    p = strchr(p, ',') + 1;
    CHECK(tally_json_number(p, end, &i, &d) == 2 && d == -15.0);
    p = strchr(p, ',') + 1;
    CHECK(tally_json_number(p, end, &i, &d) == 1 && i == LLONG_MIN);
    p = strchr(p, ',') + 1;
    CHECK(tally_json_number(p, end, &i, &d) == 2 && d == 100.0);
    p = strchr(p, ',') + 1;
    CHECK(tally_json_number(p, end, &i, &d) == 2 && d == 0.1);

    p = " \t\r\nx";
    CHECK(tally_json_ws(p, p + 5) == p + 4);
    CHECK(tally_json_ws(p, p + 2) == p + 2);
}


/* writing: escapes, the exact length, and bytes the reader accepts */
static void
test_write(void)
{
    static const struct { const char *in; size_t len; const char *out; } c[] = {
        { "", 0, "\"\"" },
        { "plain /path?q=1", 15, "\"plain /path?q=1\"" },
        { "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
        { "\n\r\t", 3, "\"\\n\\r\\t\"" },
        { "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
        { "nul\0x", 5, "\"nul\\u0000x\"" },
        { "\xc3\xa9", 2, "\"\xc3\xa9\"" },
    };
    char buf[64];

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        size_t n = tally_json_write_len(c[i].in, c[i].len);
        char *end = tally_json_write(buf, c[i].in, c[i].len);
        CHECK_EQ_U64((size_t) (end - buf), n);
        CHECK_EQ_U64(n, strlen(c[i].out));
        CHECK(memcmp(buf, c[i].out, n) == 0);
    }
}


int
main(void)
{
    RUN(test_accepts);
    RUN(test_rejects);
    RUN(test_limits);
    RUN(test_strings);
    RUN(test_alloc);
    RUN(test_objects);
    RUN(test_numbers);
    RUN(test_write);
    return check_summary("tally_json");
}
