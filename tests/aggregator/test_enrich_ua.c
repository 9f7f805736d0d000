/*
 * test_enrich_ua.c -- user agent enrichment on real user agents, the
 * uap-core spec details, the pre-filter (same results with and without),
 * the cache, and a timing print (not an assertion).
 *
 * Needs uap.json from tools/gen-data.mjs in $TALLY_DATA_DIR (default
 * build/data); fails loudly without it.
 */
#include "aggregator/enrich_litidx.h"
#include "aggregator/enrich_relit.h"
#include "aggregator/enrich_ua.h"
#include "aggregator/enrich_uap.h"
#include "tests/check.h"

#include <stdlib.h>
#include <time.h>

static en_ua_db *db;

typedef struct {
    const char *ua;
    const char *browser, *browser_version, *os, *os_version, *device;
    int bot;
} ua_case;

/* Expected values written from what these user agents are, in the names
 * Plausible shows (docs/enrichment.md), not copied from a run. */
static const ua_case cases[] = {
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Chrome", "120.0", "Windows", "10", "Desktop", 0 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
      "Firefox", "121.0", "Windows", "10", "Desktop", 0 },
    { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.2 Safari/605.1.15",
      "Safari", "17.2", "Mac", "10.15", "Desktop", 0 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
      "Microsoft Edge", "120.0", "Windows", "10", "Desktop", 0 },
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
      "Safari", "17.2", "iOS", "17.2", "Mobile", 0 },
    { "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/16.6 Mobile/15E148 Safari/604.1",
      "Safari", "16.6", "iOS", "16.6", "Tablet", 0 },
    { "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Mobile Safari/537.36",
      "Chrome", "120.0", "Android", "10", "Mobile", 0 },
    { "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Chrome", "120.0", "Android", "13", "Tablet", 0 },
    { "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
      "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
      "Samsung Internet", "23.0", "Android", "13", "Mobile", 0 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
      "Opera", "106.0", "Windows", "10", "Desktop", 0 },
    { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "Googlebot", "2.1", "Other", "", "Desktop", 1 },
    { "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
      "bingbot", "2.0", "Other", "", "Desktop", 1 },
    { "curl/8.5.0", "curl", "8.5", "Other", "", "Desktop", 1 },
    { "python-requests/2.31.0", "Python Requests", "2.31", "Other", "", "Desktop", 1 },
    { "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
      "Firefox", "121.0", "Android", "14", "Mobile", 0 },
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
      "Chrome", "120.0", "iOS", "17.2", "Mobile", 0 },
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
      "Firefox", "121.0", "iOS", "17.2", "Mobile", 0 },
    { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Chrome", "120.0", "GNU/Linux", "", "Desktop", 0 },
    { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Chrome", "120.0", "Mac", "10.15", "Desktop", 0 },
    { "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
      "Firefox", "121.0", "Ubuntu", "", "Desktop", 0 },
    { "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Chrome", "120.0", "Chrome OS", "14541.0", "Desktop", 0 },
    { "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
      "IE", "11.0", "Windows", "7", "Desktop", 0 },
    { "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2; "
      ".NET CLR 2.0.50727; Tablet PC 2.0)",
      "IE", "8.0", "Windows", "7", "Desktop", 0 },
    { "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Silk/120.3.1 like Chrome/120.0.6099.230 Safari/537.36",
      "Amazon Silk", "120.3", "Android", "9", "Tablet", 0 },
    { "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.115",
      "Microsoft Edge", "120.0", "Android", "10", "Mobile", 0 },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "HeadlessChrome/120.0.6099.28 Safari/537.36",
      "HeadlessChrome", "120.0", "Windows", "10", "Desktop", 1 },
    { "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76880",
      "Opera", "79.0", "Android", "10", "Mobile", 0 },
    { "", "Other", "", "Other", "", "Desktop", 0 },
};
#define NCASES (sizeof cases / sizeof cases[0])

static void
test_real_user_agents(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        const ua_case *c = &cases[i];
        const en_ua_result *r = en_ua_parse(db, c->ua, strlen(c->ua));
        int before = check_failed_now;
        check_failed_now = 0;
        CHECK_STR(r->browser, c->browser);
        CHECK_STR(r->browser_version, c->browser_version);
        CHECK_STR(r->os, c->os);
        CHECK_STR(r->os_version, c->os_version);
        CHECK_STR(r->device_name, c->device);
        CHECK_EQ_U64(r->bot, c->bot);
        if (check_failed_now) fprintf(stderr, "  ^ for \"%s\"\n", c->ua);
        check_failed_now |= before;
    }
}

static void
test_null_and_binary_input(void)
{
    const en_ua_result *r = en_ua_parse(db, NULL, 10);
    CHECK_STR(r->browser, "Other");
    CHECK_STR(r->device_name, "Desktop");
    /* embedded NUL and invalid UTF-8: matched as bytes, output stays clean */
    static const char bin[] = "Mozilla/5.0 (Windows NT 10.0) Chrome/99.1\0\xff\xfe Safari/537.36";
    r = en_ua_parse(db, bin, sizeof bin - 1);
    CHECK_STR(r->browser, "Chrome");
    CHECK_STR(r->browser_version, "99.1");
    /* a family taken from the input ($1) never carries invalid UTF-8 out */
    static const char junk[] = "Mozilla/5.0 (Linux; Android 9; \xc3\x28\x01XY Build/PPR1) "
                               "AppleWebKit/537.36 Chrome/70.0 Safari/537.36";
    en_uap_raw raw;
    en_uap_parse(en_ua_uap(db), junk, sizeof junk - 1, &raw);
    for (const unsigned char *p = (const unsigned char *)raw.device_family; *p; p++)
        CHECK(*p >= 0x20 && *p < 0x80);
}

/* uap-core spec details, against the rules as shipped. */
static void
test_spec_replacements(void)
{
    en_uap_raw raw;
    /* family_replacement with $1 ('Firefox ($1)'), versions from groups */
    const char *m = "Mozilla/5.0 (Windows; Windows NT 5.1; rv:2.0b3pre) Gecko/20100727 "
                    "Minefield/4.0.1pre";
    en_uap_parse(en_ua_uap(db), m, strlen(m), &raw);
    CHECK_STR(raw.ua_family, "Firefox (Minefield)");
    CHECK_STR(raw.ua_major, "4");
    CHECK_STR(raw.ua_minor, "0");
    CHECK_STR(raw.ua_patch, "1pre");
    /* os_replacement 'Windows $1' style and os_v1_replacement constants */
    const char *w = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko";
    en_uap_parse(en_ua_uap(db), w, strlen(w), &raw);
    CHECK_STR(raw.os_family, "Windows");
    CHECK_STR(raw.os_major, "7");
    /* device with a case-insensitive rule and replacement */
    const char *ip = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15";
    en_uap_parse(en_ua_uap(db), ip, strlen(ip), &raw);
    CHECK_STR(raw.device_family, "iPad");
    /* nothing matches: "Other" and unset versions */
    en_uap_parse(en_ua_uap(db), "zzz", 3, &raw);
    CHECK_STR(raw.ua_family, "Other");
    CHECK_STR(raw.ua_major, "");
    CHECK_STR(raw.os_family, "Other");
    CHECK_STR(raw.device_family, "Other");
    CHECK_EQ_U64(raw.crawler, 0);
}

/* Requirements as "a,b&c" (',' = or, '&' = and) for compact checks. */
static const char *
relit_str(const char *re, int *exact)
{
    static char buf[EN_RELIT_AND * EN_RELIT_SET * (EN_RELIT_MAX + 1)];
    static en_relit_req req;
    size_t o = 0;
    en_relit(re, &req, exact);
    buf[0] = '\0';
    for (size_t r = 0; r < req.n; r++)
        for (size_t i = 0; i < req.set[r].n; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s",
                                  i ? "," : r ? "&" : "", req.set[r].lit[i]);
    return buf;
}

static void
test_relit(void)
{
    int ex;
    CHECK_STR(relit_str("(Chrome)/(\\d+)\\.(\\d+)", &ex), "Chrome&/&.");
    CHECK_EQ_U64(ex, 0);
    CHECK_STR(relit_str("Googlebot\\/", &ex), "Googlebot/");
    CHECK_EQ_U64(ex, 1);
    /* optional byte and optional group split runs */
    CHECK_STR(relit_str("Firefoxy?Mobile(?:Safari)?", NULL), "Firefox&Mobile");
    CHECK_STR(relit_str("ab(?:cdefgh)*xyz", NULL), "ab&xyz");
    /* repeated byte: required once, run ends */
    CHECK_STR(relit_str("Xo+Yzzz", &ex), "Xo&Yzzz");
    CHECK_EQ_U64(ex, 0);
    /* alternation: one literal per alternative, or nothing */
    CHECK_STR(relit_str("Chrome|Firefox", &ex), "Chrome,Firefox");
    CHECK_EQ_U64(ex, 0);
    CHECK_STR(relit_str("; *(?:SM-|GT-)(\\w+) Build", NULL), ";&SM-,GT-& Build");
    CHECK_STR(relit_str("; {0,2}(Acer |ACER )([^;/]{1,100}?)(?: Build|\\) AppleWebKit)", NULL),
              ";&Acer ,ACER & Build,) AppleWebKit");
    CHECK_STR(relit_str("(Chrome|Firefox|.)/1", NULL), "/1");
    CHECK_STR(relit_str("a|b*", NULL), "");
    /* at most EN_RELIT_AND requirements: the weakest go */
    CHECK_STR(relit_str("a.bb.ccc.dddd.eeeee", NULL), "eeeee&bb&ccc&dddd");
    /* classes, escapes, lookarounds, quantifier braces */
    CHECK_STR(relit_str("[A-Z](?!abcdefg)\\d{2,3}Build\\b", NULL), "Build");
    CHECK_STR(relit_str("a{0,2}bcde{1}f", NULL), "bcde&f");
    CHECK_STR(relit_str("x{ab", &ex), "x{ab");                /* literal brace */
    CHECK_EQ_U64(ex, 1);
    CHECK_STR(relit_str("[]abc]zz(?<n>named)", NULL), "zz&named");
    /* what it does not understand: gives up */
    CHECK_STR(relit_str("(?i)chrome", NULL), "");
    CHECK_STR(relit_str("\\Qa.b\\E", NULL), "");
    CHECK_STR(relit_str("(a)bc\\1", NULL), "");
    CHECK_STR(relit_str("abc)", NULL), "");
    CHECK_STR(relit_str("(abc", NULL), "");
    CHECK_STR(relit_str("[abc", NULL), "");
    CHECK_STR(relit_str("ab\\", NULL), "");
    /* a run longer than a literal slot is cut, and is then not exact */
    char longre[200];
    memset(longre, 'q', 150);
    longre[150] = '\0';
    const char *l = relit_str(longre, &ex);
    CHECK_EQ_U64(strlen(l), EN_RELIT_MAX - 1);
    CHECK_EQ_U64(ex, 0);
}

static void
test_litidx(void)
{
    en_litidx *li = en_li_new();
    CHECK(li != NULL);
    if (!li) return;
    int a = en_li_add(li, "Chrome", 6), b = en_li_add(li, "Chromium", 8);
    int c = en_li_add(li, "/", 1), d = en_li_add(li, "Edg", 3), e = en_li_add(li, "Ch", 2);
    CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0 && e >= 0);
    CHECK_EQ_U64(en_li_build(li), 0);
    CHECK_EQ_U64(en_li_scan(li, "x Chrome/1 Edg", 14), 4);
    CHECK(en_li_hit(li, a) && !en_li_hit(li, b) && en_li_hit(li, c));
    CHECK(en_li_hit(li, d) && en_li_hit(li, e));
    CHECK_EQ_U64(en_li_scan(li, "Chromiu", 7), 1);           /* marks reset */
    CHECK(!en_li_hit(li, a) && !en_li_hit(li, b) && en_li_hit(li, e));
    CHECK_EQ_U64(en_li_scan(li, "Chromium", 8), 2);
    CHECK(en_li_hit(li, b) && !en_li_hit(li, 99) && !en_li_hit(li, -1));
    CHECK_EQ_U64(en_li_scan(li, "", 0), 0);
    en_li_free(li);
    /* equal literals under different ids are found once, hit under both */
    li = en_li_new();
    if (!li) return;
    a = en_li_add(li, "Build", 5);
    b = en_li_add(li, "Build", 5);
    c = en_li_add(li, ";", 1);
    d = en_li_add(li, ";", 1);
    CHECK_EQ_U64(en_li_build(li), 0);
    CHECK_EQ_U64(en_li_scan(li, "x; Build/1", 10), 2);
    CHECK(en_li_hit(li, a) && en_li_hit(li, b) && en_li_hit(li, c) && en_li_hit(li, d));
    CHECK_EQ_U64(en_li_scan(li, "x Buil", 6), 0);
    CHECK(!en_li_hit(li, a) && !en_li_hit(li, b) && !en_li_hit(li, d));
    CHECK_EQ_U64(en_li_add(li, "late", 4), (uint64_t)-1);    /* after build */
    en_li_free(li);
}

/* The pre-filter must never change a result. */
static void
test_prefilter_same_results(void)
{
    en_uap *u = en_ua_uap(db);
    size_t rules = 0, lit = 0;
    en_uap_rule_counts(u, &rules, &lit);
    CHECK(rules > 1000);
    CHECK(lit * 10 > rules * 9);                             /* > 90% pre-filtered */
    for (size_t i = 0; i < NCASES; i++) {
        en_uap_raw on, off;
        en_uap_set_prefilter(u, 1);
        en_uap_parse(u, cases[i].ua, strlen(cases[i].ua), &on);
        en_uap_set_prefilter(u, 0);
        en_uap_parse(u, cases[i].ua, strlen(cases[i].ua), &off);
        CHECK(memcmp(&on, &off, sizeof on) == 0);
    }
    en_uap_set_prefilter(u, 1);
    CHECK_EQ_U64(en_uap_match_errors(u), 0);
}

/* Rules are JIT-compiled on their first match: a fresh handle gives the
 * same results on the first parse (compiling) and the next (compiled),
 * and the same as the handle every other test has used. */
static char uap_path[1024];

static void
test_lazy_jit_same_results(void)
{
    char err[256];
    en_uap *fresh = en_uap_load(uap_path, err, sizeof err);
    CHECK(fresh != NULL);
    if (fresh == NULL)
        return;
    en_uap *used = en_ua_uap(db);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < NCASES; i++) {
            en_uap_raw a, b;
            en_uap_parse(fresh, cases[i].ua, strlen(cases[i].ua), &a);
            en_uap_parse(used, cases[i].ua, strlen(cases[i].ua), &b);
            CHECK(memcmp(&a, &b, sizeof a) == 0);
        }
    CHECK_EQ_U64(en_uap_match_errors(fresh), 0);
    en_uap_free(fresh);
}

static void
test_cache(void)
{
    char ua[160];
    unsigned long h0, m0, h1, m1;
    const char *c0 = cases[0].ua;
    en_ua_cache_stats(db, &h0, &m0);
    const en_ua_result *a = en_ua_parse(db, c0, strlen(c0));
    char first[EN_UA_NAME];
    snprintf(first, sizeof first, "%s", a->browser);
    a = en_ua_parse(db, c0, strlen(c0));
    en_ua_cache_stats(db, &h1, &m1);
    CHECK(h1 >= h0 + 1);
    CHECK_STR(a->browser, first);
    /* more distinct user agents than the cache holds: evictions, still right */
    for (int v = 0; v < 3 * EN_UA_CACHE_SETS * EN_UA_CACHE_WAYS; v++) {
        int n = snprintf(ua, sizeof ua, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/%d.%d.0.0 Safari/537.36", 60 + v % 97, v);
        const en_ua_result *r = en_ua_parse(db, ua, (size_t)n);
        char want[32];
        snprintf(want, sizeof want, "%d.%d", 60 + v % 97, v);
        if (strcmp(r->browser_version, want) != 0 || strcmp(r->browser, "Chrome") != 0) {
            CHECK_STR(r->browser_version, want);
            break;
        }
    }
    /* a UA that collides in length but not content is not a hit */
    const en_ua_result *r1 = en_ua_parse(db, "Firefox/10.0", 12);
    CHECK_STR(r1->browser_version, "10.0");
    const en_ua_result *r2 = en_ua_parse(db, "Firefox/11.0", 12);
    CHECK_STR(r2->browser_version, "11.0");
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Timing print only: machines differ, bench/ owns budgets. */
static void
test_timing_print(void)
{
    en_uap *u = en_ua_uap(db);
    en_uap_raw raw;
    size_t n = 0;
    double t0 = now_s();
    for (int rep = 0; rep < 40; rep++)
        for (size_t i = 0; i < NCASES; i++, n++)
            en_uap_parse(u, cases[i].ua, strlen(cases[i].ua), &raw);
    double uncached = n / (now_s() - t0);
    en_uap_set_prefilter(u, 0);
    n = 0;
    t0 = now_s();
    for (int rep = 0; rep < 5; rep++)
        for (size_t i = 0; i < NCASES; i++, n++)
            en_uap_parse(u, cases[i].ua, strlen(cases[i].ua), &raw);
    double nofilter = n / (now_s() - t0);
    en_uap_set_prefilter(u, 1);
    n = 0;
    t0 = now_s();
    for (int rep = 0; rep < 20000; rep++)
        for (size_t i = 0; i < NCASES; i++, n++)
            en_ua_parse(db, cases[i].ua, strlen(cases[i].ua));
    double cached = n / (now_s() - t0);
    printf("ua timing: uncached %.0f/s (pre-filter off: %.0f/s), cached %.0f/s\n",
           uncached, nofilter, cached);
}

int
main(void)
{
    const char *dir = getenv("TALLY_DATA_DIR");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/uap.json", dir && *dir ? dir : "build/data");
    snprintf(uap_path, sizeof uap_path, "%s", path);
    db = en_ua_load(path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "cannot load %s: %s (run tools/gen-data.mjs or set TALLY_DATA_DIR)\n",
                path, err);
        RUN(test_relit);
        RUN(test_litidx);
        check_failed_tests++;
        return check_summary("enrich_ua");
    }
    RUN(test_real_user_agents);
    RUN(test_null_and_binary_input);
    RUN(test_spec_replacements);
    RUN(test_relit);
    RUN(test_litidx);
    RUN(test_prefilter_same_results);
    RUN(test_lazy_jit_same_results);
    RUN(test_cache);
    RUN(test_timing_print);
    en_ua_free(db);
    char e2[128];
    CHECK(en_ua_load("/nonexistent/uap.json", e2, sizeof e2) == NULL);
    return check_summary("enrich_ua");
}
