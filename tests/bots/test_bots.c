/*
 * test_bots.c -- bots/: the bot User-Agent matcher.
 *
 *   test_bots [REPO_ROOT]
 *
 * Reads the upstream examples from
 * $BOT_PATTERNS_JSON or REPO_ROOT/node_modules/crawler-user-agents/
 * crawler-user-agents.json (REPO_ROOT defaults to "."); every "instances"
 * entry there must classify as a bot and match its own pattern.  Prints the
 * classification speed cached and uncached (informational, never asserted).
 */
#include "bots/bots.h"
#include "bots/bot_hash.h"
#include "bots/bot_internal.h"
#include "bots/bot_patterns.h"
#include "tests/bots/bot_ref.h"
#include "tests/check.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

static const char *json_path;

static const char *const bot_uas[] = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.175 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Googlebot-Image/1.0",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
    "curl/7.88.1",
    "Wget/1.21.3",
    "Wget/1.21.3 (linux-gnu)",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.29 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "Mozilla/5.0 (X11; Linux x86_64; rv:38.0) Gecko/20100101 SlimerJS/0.10.3",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "GOOGLEBOT/2.1",                      /* any case */
};

static const char *const browser_uas[] = {
    /* Chrome desktop */
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    /* Firefox desktop */
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    /* Safari desktop */
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    /* Edge */
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    /* iPhone / iPad */
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
    /* Android */
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64",
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like Chrome/124.0.6367.179 Safari/537.36",
    /* Opera */
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 OPR/81.1.4292.78505",
    /* others people really use, in-app browsers included */
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Vivaldi/6.7.3329.21",
    "Mozilla/5.0 (Linux; U; Android 12; en-US; SM-A127F Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) DuckDuckGo/5 Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.38.108;FBBV/595217307;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 Instagram 328.0.0.42.90 Android (34/14; 480dpi; 1080x2340; samsung; SM-S911B; dm1q; qcom; en_US; 590144937)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bot_matcher *
new_matcher(void)
{
    char err[256] = "";
    bot_matcher *m = bot_matcher_new(err, sizeof err);

    if (m == NULL) {
        fprintf(stderr, "bot_matcher_new: %s\n", err);
    }
    return m;
}

static int
is_bot(bot_matcher *m, const char *ua)
{
    return bot_is_bot(m, ua, strlen(ua));
}

static void
test_siphash_vectors(void)
{
    /* reference vectors of SipHash-2-4: key 00..0f, message 00..(n-1) */
    uint8_t key[16], msg[64];
    size_t i;

    for (i = 0; i < 16; i++) key[i] = (uint8_t)i;
    for (i = 0; i < 64; i++) msg[i] = (uint8_t)i;
    CHECK_EQ_U64(bot_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    CHECK_EQ_U64(bot_siphash24(key, msg, 8), 0x93f5f5799a932462ULL);
    CHECK_EQ_U64(bot_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}

static void
test_every_pattern_compiles(void)
{
    char err[512];
    size_t i, n = bot_pattern_count(), bad = 0;

    CHECK(n >= 1000); /* the upstream list has ~1500 */
    CHECK(strncmp(bot_pattern_source(), "crawler-user-agents@", 20) == 0);
    CHECK(bot_pattern(n) == NULL);
    CHECK(bot_pattern_check(n, NULL, 0, err, sizeof err) == -1);
    for (i = 0; i < n; i++) {
        if (bot_pattern_check(i, NULL, 0, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            bad++;
        }
    }
    CHECK_EQ_U64(bad, 0);
}

static void
test_headless_pattern_present(void)
{
    size_t i, found = 0;

    for (i = 0; i < bot_pattern_count(); i++) {
        if (strstr(bot_pattern(i), "HeadlessChrome") != NULL) found++;
    }
    CHECK(found >= 1);
}

static void
test_bots_are_bots(void)
{
    bot_matcher *m = new_matcher();
    size_t i;

    CHECK(m != NULL);
    if (m == NULL) return;
    for (i = 0; i < NELEM(bot_uas); i++) {
        if (is_bot(m, bot_uas[i]) != 1) {
            fprintf(stderr, "  not a bot?: %s\n", bot_uas[i]);
            check_failed_now = 1;
        }
    }
    bot_matcher_free(m);
}

static void
test_browsers_are_not(void)
{
    bot_matcher *m = new_matcher();
    bot_info info;
    size_t i;

    CHECK(m != NULL);
    if (m == NULL) return;
    for (i = 0; i < NELEM(browser_uas); i++) {
        if (is_bot(m, browser_uas[i]) != 0) {
            fprintf(stderr, "  a bot?: %s\n", browser_uas[i]);
            check_failed_now = 1;
        }
    }
    bot_matcher_info(m, &info);
    CHECK_EQ_U64(info.match_errors, 0);
    bot_matcher_free(m);
}

static void
test_empty_and_binary(void)
{
    bot_matcher *m = new_matcher();
    static const char nul_bot[] = "Mozilla/5.0\0 Googlebot/2.1";
    char buf[512];
    size_t n;

    CHECK(m != NULL);
    if (m == NULL) return;
    CHECK(bot_is_bot(m, "", 0) == 1);
    CHECK(bot_is_bot(m, NULL, 0) == 1);
    CHECK(bot_is_bot_uncached(m, "", 0) == 1);
    /* only len bytes count: the bot name past len is not seen */
    CHECK(bot_is_bot(m, "Mozilla/5.0 Googlebot/2.1", 11) == 0);
    /* bytes after a NUL are matched too */
    CHECK(bot_is_bot(m, nul_bot, sizeof nul_bot - 1) == 1);
    /* a browser UA followed by high bytes stays a browser */
    n = strlen(browser_uas[0]);
    memcpy(buf, browser_uas[0], n);
    memcpy(buf + n, " \xff\xfe\x80\xc3", 5);
    CHECK(bot_is_bot(m, buf, n + 5) == 0);
    /* `^` anchors at the start of the UA only */
    CHECK(is_bot(m, "curl/8.5.0") == 1);
    bot_matcher_free(m);
}

/* Long UAs: linear time up to BOT_UA_MAX, bots beyond it. */
static void
test_long_uas(void)
{
    bot_matcher *m = new_matcher();
    static const char *const units[] = { "spider", "current",
                                          "contextualbot", "a" };
    static char buf[BOT_UA_MAX + 64];
    size_t n, i, u;
    bot_info before, after;
    struct timespec a, b;
    double ms;

    CHECK(m != NULL);
    if (m == NULL) return;
    bot_matcher_info(m, &before);
    /* "spiderspider..." once made "Spider[\s\S]*spider\.com" quadratic */
    for (u = 0; u < NELEM(units); u++) {
        size_t k = strlen(units[u]);

        for (n = 0; n + k <= BOT_UA_MAX; n += k) memcpy(buf + n, units[u], k);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (i = 0; i < 100; i++) CHECK(bot_is_bot_uncached(m, buf, n) == 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms = ((double)(b.tv_sec - a.tv_sec) * 1e3
              + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / 100;
        printf("bots: hostile %zu-byte UA of \"%s\": %.3f ms\n", n, units[u],
               ms);
    }
    /* a browser UA padded to exactly BOT_UA_MAX stays a browser ... */
    n = strlen(browser_uas[0]);
    memcpy(buf, browser_uas[0], n);
    for (i = 0; n + 12 < BOT_UA_MAX; i++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, " Ext%zu/1.%zu", i, i);
    }
    while (n < BOT_UA_MAX) buf[n++] = 'z';
    CHECK(bot_is_bot_uncached(m, buf, n) == 0);
    CHECK(bot_is_bot(m, buf, n) == 0);
    /* ... and one byte more makes it a bot */
    buf[n++] = 'z';
    CHECK(bot_is_bot_uncached(m, buf, n) == 1);
    CHECK(bot_is_bot(m, buf, n) == 1);
    bot_matcher_info(m, &after);
    CHECK_EQ_U64(after.match_errors, before.match_errors);
    bot_matcher_free(m);
}

/* bot_assemble factors as intended (exact output for small sets). */
static void
test_assemble_text(void)
{
    static const struct { const char *pats[4]; const char *want; } t[] = {
        { { "abc", "abd" }, "ab(?:c|d)" },
        { { "abc", "ab", "abcd" }, "ab" },           /* ab covers the rest */
        { { "Foo\\/", "foo-bar" }, "foo(?:\\-bar|\\/)" }, /* sorted */
        { { "[wW]get" }, "wget" },
        { { "^curl", "^Wget" }, "^(?:curl|wget)" },
        { { "ab?c" }, "a(?:b?c)" },                  /* b? stays in the rest */
        { { "a\\.b+" }, "a\\.(?:b+)" },
        { { "x|y", "xz" }, "(?:(?:x|y)|xz)" },
        { { "sp[\\s\\S]*x" }, "(?:^(?>[\\s\\S]*?sp)[\\s\\S]*x)" },
        { { "(^| )pt" }, "(?:(^| )pt)" },
    };
    size_t i, j, n, len;
    char *got;

    for (i = 0; i < NELEM(t); i++) {
        for (n = 0; n < 4 && t[i].pats[n] != NULL; n++) {
        }
        got = bot_assemble(t[i].pats, n, &len);
        CHECK(got != NULL);
        if (got == NULL) continue;
        CHECK_STR(got, t[i].want);
        CHECK_EQ_U64(len, strlen(got));
        free(got);
    }
    (void)j;
}

static pcre2_code *
compile_or_null(const char *src)
{
    int ec;
    PCRE2_SIZE off;

    return pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                         BOT_PCRE2_OPTIONS, &ec, &off, NULL);
}

/* Assembled == plain alternation, on EVERY string up to length 5 over a
 * small alphabet, for a set of awkward patterns. */
static void
test_assemble_exhaustive(void)
{
    static const char *const pats[] = {
        "abc", "abd", "ab", "b[aA]c", "^ca", "c+a", "a\\.b", "d[\\s\\S]*ab",
        "ba|cd", "(^| )dd", "cab$", "a(b|c)d", "\\d", "d[^\\n\\r]a", "^b",
        "Bd[\\s\\S]*c", "[Dd]ac", "aab?b",
    };
    static const char alpha[] = "abcdB. \n1";
    size_t na = sizeof alpha - 1, len, n, i, total = 0, diff = 0;
    char *src = bot_assemble(pats, NELEM(pats), &len);
    pcre2_code *re = src ? compile_or_null(src) : NULL;
    bot_ref *ref = bot_ref_new(pats, NELEM(pats));
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    char s[8];

    CHECK(src != NULL && re != NULL && ref != NULL && md != NULL);
    if (src == NULL || re == NULL || ref == NULL || md == NULL) goto done;
    for (n = 0; n <= 5; n++) {
        size_t idx[5] = { 0 }, count = 1;

        for (i = 0; i < n; i++) count *= na;
        while (count--) {
            int a, b;

            for (i = 0; i < n; i++) s[i] = alpha[idx[i]];
            a = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, NULL) >= 0;
            b = bot_ref_any(ref, s, n);
            total++;
            if (a != b && diff++ < 5) {
                fprintf(stderr, "  assembled %d, reference %d: \"%.*s\"\n",
                        a, b, (int)n, s);
            }
            for (i = 0; i < n && ++idx[i] == na; i++) idx[i] = 0;
        }
    }
    CHECK(total > 60000);
    CHECK_EQ_U64(diff, 0);
done:
    free(src);
    pcre2_code_free(re);
    bot_ref_free(ref);
    pcre2_match_data_free(md);
}

static void
test_cache_equals_uncached(void)
{
    bot_matcher *m = new_matcher();
    bot_info info;
    char buf[600];
    size_t i, j, mism = 0, calls = 0;

    CHECK(m != NULL);
    if (m == NULL) return;
    /* 3 rounds over > BOT_CACHE_SLOTS distinct UAs: hits, misses, evictions */
    for (j = 0; j < 3; j++) {
        for (i = 0; i < 3 * BOT_CACHE_SLOTS; i++) {
            const char *base = (i % 2) ? bot_uas[i % NELEM(bot_uas)]
                                       : browser_uas[i % NELEM(browser_uas)];
            size_t n = (size_t)snprintf(buf, sizeof buf, "%s v%zu", base,
                                        i % (BOT_CACHE_SLOTS + 7));
            int c1 = bot_is_bot(m, buf, n);
            int c2 = bot_is_bot(m, buf, n);
            int u = bot_is_bot_uncached(m, buf, n);

            calls += 2;
            if (c1 != u || c2 != u) {
                if (mism++ < 5) fprintf(stderr, "  cache differs: %s\n", buf);
            }
        }
    }
    CHECK_EQ_U64(mism, 0);
    bot_matcher_info(m, &info);
    CHECK_EQ_U64(info.cache_hits + info.cache_misses, calls);
    CHECK(info.cache_hits >= calls / 2);  /* every second call is a repeat */
    CHECK(info.cache_misses >= 3 * BOT_CACHE_SLOTS); /* first call each */
    bot_matcher_free(m);
}

/* Every upstream example UA is a bot, and matches its own pattern alone. */
static void
test_upstream_instances(void)
{
    json_error_t jerr;
    json_t *root, *e, *inst, *s;
    bot_matcher *m;
    size_t i, j, total = 0, missed = 0, own = 0, idx = 0;
    char err[512];

    root = json_load_file(json_path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "cannot read %s: %s (set BOT_PATTERNS_JSON or run "
                "from the repository root after npm install)\n", json_path,
                jerr.text);
        check_failed_now = 1;
        return;
    }
    m = new_matcher();
    CHECK(m != NULL);
    CHECK(json_is_array(root));
    json_array_foreach(root, i, e) {
        const char *pat = json_string_value(json_object_get(e, "pattern"));

        inst = json_object_get(e, "instances");
        /* upstream entry i became generated pattern i (no duplicates) */
        if (pat == NULL || bot_pattern(idx) == NULL) {
            check_failed_now = 1;
            break;
        }
        json_array_foreach(inst, j, s) {
            const char *ua = json_string_value(s);

            if (ua == NULL || m == NULL) continue;
            total++;
            if (bot_is_bot(m, ua, strlen(ua)) != 1) {
                if (missed++ < 5) fprintf(stderr, "  missed: %s\n", ua);
            }
            if (bot_pattern_check(idx, ua, strlen(ua), err, sizeof err) != 0) {
                if (own++ < 5) fprintf(stderr, "  %s\n", err);
            }
        }
        idx++;
    }
    CHECK(total >= 1000);
    CHECK_EQ_U64(missed, 0);
    CHECK_EQ_U64(own, 0);
    bot_matcher_free(m);
    json_decref(root);
}

/* Variants of s (truncations, shifted starts, case flips) and hostile
 * strings: the assembled matcher must agree with the reference on all. */
static void
test_matcher_equals_reference(void)
{
    bot_matcher *m = new_matcher();
    bot_ref *ref = bot_ref_new(bot_patterns, bot_patterns_count);
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr), *e, *inst, *v;
    size_t i, j, k, total = 0, diff = 0, bots = 0;
    char buf[BOT_UA_MAX + 1];

    CHECK(m != NULL && ref != NULL && root != NULL);
    if (m == NULL || ref == NULL || root == NULL) goto done;
#define SAME(p, n)                                                         \
    do {                                                                   \
        int a_ = bot_is_bot_uncached(m, (p), (n));                         \
        int b_ = bot_ref_is_bot(ref, (p), (n));                            \
        total++;                                                           \
        bots += (size_t)b_;                                                \
        if (a_ != b_ && diff++ < 5)                                        \
            fprintf(stderr, "  matcher %d, reference %d: \"%.*s\"\n", a_, \
                    b_, (int)(n), (p));                                    \
    } while (0)
    for (i = 0; i < NELEM(bot_uas); i++) SAME(bot_uas[i], strlen(bot_uas[i]));
    for (i = 0; i < NELEM(browser_uas); i++)
        SAME(browser_uas[i], strlen(browser_uas[i]));
    json_array_foreach(root, i, e) {
        inst = json_object_get(e, "instances");
        json_array_foreach(inst, j, v) {
            const char *ua = json_string_value(v);
            size_t n = ua ? strlen(ua) : 0;

            if (n == 0 || n > BOT_UA_MAX) continue;
            SAME(ua, n);
            for (k = 1; k < 4; k++) {
                SAME(ua, n * k / 4);          /* truncated */
                SAME(ua + n * k / 4, n - n * k / 4); /* shifted start */
            }
            for (k = 0; k < n; k++) {          /* case flipped */
                char c = ua[k];
                buf[k] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                                ? c ^ 0x20 : c);
            }
            SAME(buf, n);
            buf[0] = 'X';                      /* a ^-anchored one moved */
            memcpy(buf + 1, ua, n < BOT_UA_MAX ? n : BOT_UA_MAX - 1);
            SAME(buf, n < BOT_UA_MAX ? n + 1 : BOT_UA_MAX);
        }
    }
#undef SAME
    printf("bots: matcher == reference on %zu UAs (%zu bots)\n", total, bots);
    CHECK(total > 10000);
    CHECK(bots > total / 4 && bots < total);  /* both verdicts exercised */
    CHECK_EQ_U64(diff, 0);
done:
    json_decref(root);
    bot_ref_free(ref);
    bot_matcher_free(m);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Informational: prints speeds and sizes, asserts only the verdicts. */
static void
test_speed(void)
{
    bot_matcher *m;
    bot_info info;
    double t0, t, nb, nbw;
    size_t i, n, sum = 0;
    char err[256];

    t0 = now_s();
    m = bot_matcher_new(err, sizeof err);
    t = now_s() - t0;
    CHECK(m != NULL);
    if (m == NULL) return;
    bot_matcher_info(m, &info);
    printf("bots: %zu patterns (%s) -> %zu regexes (%zu JIT), "
           "%zu code + %zu JIT bytes, built in %.1f ms\n",
           info.patterns, bot_pattern_source(), info.regexes,
           info.jit_regexes, info.code_bytes, info.jit_bytes, t * 1e3);

    n = 20000;
    t0 = now_s();
    for (i = 0; i < n; i++) {
        const char *ua = browser_uas[i % NELEM(browser_uas)];
        sum += (size_t)bot_is_bot_uncached(m, ua, strlen(ua));
    }
    nbw = (double)n / (now_s() - t0);
    CHECK(sum == 0);
    sum = 0;
    t0 = now_s();
    for (i = 0; i < n; i++) {
        const char *ua = bot_uas[i % NELEM(bot_uas)];
        sum += (size_t)bot_is_bot_uncached(m, ua, strlen(ua));
    }
    nb = (double)n / (now_s() - t0);
    CHECK(sum == n);
    printf("bots: uncached: %.0f browser UAs/s, %.0f bot UAs/s\n", nbw, nb);

    n = 2000000;
    sum = 0;
    t0 = now_s();
    for (i = 0; i < n; i++) {
        const char *ua = browser_uas[i % NELEM(browser_uas)];
        sum += (size_t)bot_is_bot(m, ua, strlen(ua));
    }
    t = now_s() - t0;
    CHECK(sum == 0);
    printf("bots: cached: %.0f UAs/s (%zu distinct browser UAs)\n",
           (double)n / t, NELEM(browser_uas));
    bot_matcher_free(m);
}

int
main(int argc, char **argv)
{
    static char path[4096];
    const char *root = argc > 1 ? argv[1] : ".";

    json_path = getenv("BOT_PATTERNS_JSON");
    if (json_path == NULL || json_path[0] == '\0') {
        snprintf(path, sizeof path,
                 "%s/node_modules/crawler-user-agents/crawler-user-agents.json",
                 root);
        json_path = path;
    }
    RUN(test_siphash_vectors);
    RUN(test_every_pattern_compiles);
    RUN(test_headless_pattern_present);
    RUN(test_bots_are_bots);
    RUN(test_browsers_are_not);
    RUN(test_empty_and_binary);
    RUN(test_long_uas);
    RUN(test_cache_equals_uncached);
    RUN(test_upstream_instances);
    RUN(test_assemble_text);
    RUN(test_assemble_exhaustive);
    RUN(test_matcher_equals_reference);
    RUN(test_speed);
    return check_summary("bots");
}
