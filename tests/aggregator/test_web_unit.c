/* Tests for the request helpers and the login rate limiter of
 * aggregator/web_*.c (web_int.h): form decoding, token syntax, and the
 * "5 failures per 15 minutes" window with injected clocks. */
#include "aggregator/crypto.h"
#include "aggregator/web_int.h"
#include "tests/check.h"

#include <stdio.h>

static void
test_form(void)
{
    const char *b = "username=ad%6Din&password=a+b%26c%3D%25&empty=&flag";
    char out[64];
    size_t n = 99;
    CHECK(web_form_field(b, strlen(b), "username", out, sizeof(out), &n) == 1);
    CHECK_STR(out, "admin");
    CHECK(n == 5);
    CHECK(web_form_field(b, strlen(b), "password", out, sizeof(out), &n) == 1);
    CHECK_STR(out, "a b&c=%");
    CHECK(web_form_field(b, strlen(b), "empty", out, sizeof(out), &n) == 1);
    CHECK(n == 0 && out[0] == '\0');
    CHECK(web_form_field(b, strlen(b), "flag", out, sizeof(out), &n) == 1);
    CHECK(n == 0);
    CHECK(web_form_field(b, strlen(b), "user", out, sizeof(out), &n) == 0);
    CHECK(web_form_field(b, strlen(b), "name", out, sizeof(out), &n) == 0);
    /* only the first len bytes count */
    CHECK(web_form_field(b, 7, "username", out, sizeof(out), &n) == 0);
    CHECK(web_form_field(b, 12, "username", out, sizeof(out), &n) == -1);
    CHECK(web_form_field(b, 13, "username", out, sizeof(out), &n) == -1);
    CHECK(web_form_field(b, 14, "username", out, sizeof(out), &n) == 1);
    CHECK_STR(out, "adm");
    /* bad escapes and values too long for out */
    const char *bad = "a=%zz&b=%4&c=%";
    CHECK(web_form_field(bad, strlen(bad), "a", out, sizeof(out), &n) == -1);
    CHECK(web_form_field(bad, strlen(bad), "b", out, sizeof(out), &n) == -1);
    CHECK(web_form_field(bad, strlen(bad), "c", out, sizeof(out), &n) == -1);
    CHECK(web_form_field("a=123456", 8, "a", out, 6, &n) == -1);
    CHECK(web_form_field("a=12345", 7, "a", out, 6, &n) == 1);
    /* a NUL escape is kept, with the length telling */
    CHECK(web_form_field("p=x%00y", 7, "p", out, sizeof(out), &n) == 1);
    CHECK(n == 3 && out[1] == '\0' && out[2] == 'y');
}

static void
test_tokens(void)
{
    char t1[WEB_TOKEN_BUF], t2[WEB_TOKEN_BUF];
    CHECK(crypto_start() == 0);
    web_token_new(t1);
    web_token_new(t2);
    CHECK(strlen(t1) == WEB_TOKEN_LEN);
    CHECK(web_token_valid(t1));
    CHECK(strcmp(t1, t2) != 0);
    char bad[WEB_TOKEN_BUF + 1];
    strcpy(bad, t1);
    bad[5] = '=';
    CHECK(!web_token_valid(bad));
    strcpy(bad, t1);
    strcat(bad, "A");
    CHECK(!web_token_valid(bad));
    bad[WEB_TOKEN_LEN - 1] = '\0';
    CHECK(!web_token_valid(bad));
    CHECK(!web_token_valid(""));
    CHECK(!web_token_valid(NULL));
}

static void
test_rate(void)
{
    unsigned char a[WEB_RATE_KEY], b[WEB_RATE_KEY], a2[WEB_RATE_KEY];
    CHECK(web_rate_init() == 0);
    web_rate_key_user("Admin", a);
    web_rate_key_user("admin", a2);
    web_rate_key_user("admin2", b);
    CHECK(memcmp(a, a2, WEB_RATE_KEY) == 0);      /* case-insensitive */
    CHECK(memcmp(a, b, WEB_RATE_KEY) != 0);
    int64_t t = 1000000;
    for (int i = 0; i < WEB_RATE_FAILS; i++) {
        CHECK(web_rate_wait(a, t + i) == 0);
        web_rate_fail(a, t + i);
    }
    /* the 6th try waits until the first failure leaves the window */
    CHECK(web_rate_wait(a, t + 10) == WEB_RATE_WINDOW - 10);
    CHECK(web_rate_wait(b, t + 10) == 0);             /* other keys free */
    CHECK(web_rate_wait(a, t + WEB_RATE_WINDOW - 1) == 1);
    CHECK(web_rate_wait(a, t + WEB_RATE_WINDOW) == 0);
    /* one more failure then blocks again until the second one expires */
    web_rate_fail(a, t + WEB_RATE_WINDOW);
    CHECK(web_rate_wait(a, t + WEB_RATE_WINDOW) == 1);
    web_rate_clear(a);
    CHECK(web_rate_wait(a, t + WEB_RATE_WINDOW) == 0);

    /* many keys: the table stays bounded, evicting the entries whose last
     * failure is oldest -- a key failing now keeps its state through a
     * flood of older ones */
    unsigned char c[WEB_RATE_KEY];
    web_rate_key_user("victim", c);
    for (int i = 0; i < WEB_RATE_FAILS; i++)
        web_rate_fail(c, t + 150);
    char name[32];
    for (int i = 0; i < 20000; i++) {
        unsigned char k[WEB_RATE_KEY];
        snprintf(name, sizeof(name), "user%d", i);
        web_rate_key_user(name, k);
        web_rate_fail(k, t + 100);
    }
    CHECK(web_rate_wait(c, t + 200) == WEB_RATE_WINDOW - 50);
    /* and a flood of newer failures does evict stale entries */
    for (int i = 0; i < 20000; i++) {
        unsigned char k[WEB_RATE_KEY];
        snprintf(name, sizeof(name), "later%d", i);
        web_rate_key_user(name, k);
        web_rate_fail(k, t + 2000);
    }
    CHECK(web_rate_wait(c, t + 200) == 0);
}

int
main(void)
{
    RUN(test_form);
    RUN(test_tokens);
    RUN(test_rate);
    return check_summary("web_unit");
}
