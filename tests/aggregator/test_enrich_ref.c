/*
 * test_enrich_ref.c -- referrer classification on real referrers, known
 * source names for utm_source, and the whole source -> channel path.
 *
 * Needs referers.json from tools/gen-data.mjs in $TALLY_DATA_DIR (default
 * build/data); fails loudly without it.
 */
#include "aggregator/enrich_channel.h"
#include "aggregator/enrich_ref.h"
#include "aggregator/enrich_url.h"
#include "tests/check.h"

#include <stdlib.h>

static en_ref_db *db;
static en_ref_result r;

static void
ref(const char *referrer, const char *page_host)
{
    en_ref_parse(db, referrer, referrer ? strlen(referrer) : 0, page_host, &r);
}

static void
test_search_engines(void)
{
    ref("https://www.google.com/search?q=tally+analytics", "example.com");
    CHECK_EQ_U64(r.direct, 0);
    CHECK_STR(r.source, "Google");
    CHECK_STR(r.medium, "search");
    CHECK_STR(r.referrer, "google.com/search");
    ref("https://www.google.co.uk/", "example.com");
    CHECK_STR(r.source, "Google");
    CHECK_STR(r.medium, "search");
    CHECK_STR(r.referrer, "google.co.uk");
    ref("https://duckduckgo.com/", "example.com");
    CHECK_STR(r.source, "DuckDuckGo");
    CHECK_STR(r.medium, "search");
    ref("https://www.bing.com/search?q=x&form=QBLH", "example.com");
    CHECK_STR(r.source, "Bing");
    CHECK_STR(r.medium, "search");
    /* path prefix rule: google.<tld>/imgres is Google Images */
    ref("https://google.de/imgres?imgurl=x", "example.com");
    CHECK_STR(r.source, "Google Images");
}

static void
test_social_and_email(void)
{
    ref("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com", "example.com");
    CHECK_STR(r.source, "Facebook");                 /* parent domain facebook.com */
    CHECK_STR(r.medium, "social");
    CHECK_STR(r.referrer, "l.facebook.com/l.php");
    ref("https://t.co/AbCdEf123", "example.com");
    CHECK_STR(r.source, "Twitter");
    CHECK_STR(r.medium, "social");
    ref("https://x.com/someone/status/1", "example.com");
    CHECK_STR(r.source, "Twitter");
    ref("https://news.ycombinator.com/item?id=38000000", "example.com");
    CHECK_STR(r.source, "Hacker News");
    CHECK_STR(r.medium, "social");
    CHECK_STR(r.referrer, "news.ycombinator.com/item");
    ref("https://mail.google.com/mail/u/0/", "example.com");
    CHECK_STR(r.source, "Gmail");                    /* before parent google.com */
    CHECK_STR(r.medium, "email");
    CHECK_STR(r.referrer, "mail.google.com/mail/u/0");
    ref("android-app://com.google.android.gm/", "example.com");
    CHECK_EQ_U64(r.direct, 0);
    CHECK_STR(r.source, "Gmail");
    CHECK_STR(r.medium, "email");
    CHECK_STR(r.referrer, "android-app://com.google.android.gm");
    ref("android-app://org.example.reader", "example.com");
    CHECK_STR(r.source, "android-app://org.example.reader");
    CHECK_STR(r.medium, "referral");
}

static void
test_unknown_and_direct(void)
{
    ref("https://www.someblog.net/2024/01/post.html?utm=1#c", "example.com");
    CHECK_EQ_U64(r.direct, 0);
    CHECK_STR(r.source, "someblog.net");
    CHECK_STR(r.medium, "referral");
    CHECK_STR(r.referrer, "someblog.net/2024/01/post.html");
    ref("HTTPS://WWW.SomeBlog.NET/", "example.com");
    CHECK_STR(r.source, "someblog.net");
    CHECK_STR(r.referrer, "someblog.net");
    /* own site, with or without www, any case: not a source */
    ref("https://www.Example.com/pricing", "example.com");
    CHECK_EQ_U64(r.direct, 1);
    CHECK_STR(r.source, "");
    CHECK_STR(r.medium, "");
    CHECK_STR(r.referrer, "");
    ref("https://blog.example.com/", "example.com");  /* a subdomain is another site */
    CHECK_EQ_U64(r.direct, 0);
    CHECK_STR(r.source, "blog.example.com");
    ref("http://localhost:3000/x", "example.com");
    CHECK_EQ_U64(r.direct, 1);
    ref("", "example.com");
    CHECK_EQ_U64(r.direct, 1);
    ref(NULL, "example.com");
    CHECK_EQ_U64(r.direct, 1);
    ref("not a url at all", "example.com");
    CHECK_EQ_U64(r.direct, 1);
    ref("javascript:alert(1)", "example.com");
    CHECK_EQ_U64(r.direct, 1);
    ref("file:///etc/passwd", NULL);
    CHECK_EQ_U64(r.direct, 1);
    ref("https://exa mple.com/", NULL);
    CHECK_EQ_U64(r.direct, 1);
    static const char bin[] = "https://ok.example\0/\xff\xfe";
    en_ref_parse(db, bin, sizeof bin - 1, NULL, &r);
    CHECK(r.direct == 1 || strchr(r.referrer, '\xff') == NULL);
}

static void
test_known_source_names(void)
{
    CHECK_STR(en_ref_known_source(db, "google"), "Google");
    CHECK_STR(en_ref_known_source(db, "FACEBOOK"), "Facebook");
    CHECK_STR(en_ref_known_source(db, "duckduckgo"), "DuckDuckGo");
    CHECK(en_ref_known_source(db, "my-newsletter") == NULL);
    CHECK(en_ref_known_source(db, "") == NULL);
    CHECK(en_ref_known_source(db, NULL) == NULL);
    /* Google is listed as "unknown" medium and as "search": search wins */
    CHECK_STR(en_ref_category(db, "Google"), "search");
    CHECK_STR(en_ref_category(db, "twitter"), "social");
    CHECK_STR(en_ref_category(db, "Gmail"), "email");
    CHECK_STR(en_ref_category(db, "YouTube"), "video");
    CHECK_STR(en_ref_category(db, "someblog.net"), "");
    CHECK(en_ref_count(db) > 1000);
}

/* The chain tallyd runs: page URL + referrer -> source -> channel. */
static const char *
channel_of(const char *page, const char *referrer, char *source_out)
{
    en_url u;
    if (en_url_parse(page, strlen(page), &u) != 0) return "(bad url)";
    en_ref_parse(db, referrer, strlen(referrer), u.host, &r);
    const char *source = r.source;
    if (u.tagged_source[0]) {
        const char *known = en_ref_known_source(db, u.tagged_source);
        source = known ? known : u.tagged_source;
    }
    strcpy(source_out, source);
    en_channel_in in = { source, en_ref_category(db, source), u.utm_medium,
                         u.utm_source, u.utm_campaign, u.click_id };
    return en_channel(&in);
}

static void
test_source_to_channel(void)
{
    char s[EN_REF_SOURCE];
    CHECK_STR(channel_of("https://example.com/", "https://www.google.com/", s), "Organic Search");
    CHECK_STR(s, "Google");
    CHECK_STR(channel_of("https://example.com/?gclid=x", "https://www.google.com/", s),
              "Paid Search");
    CHECK_STR(channel_of("https://example.com/?utm_source=google&utm_medium=cpc", "", s),
              "Paid Search");
    CHECK_STR(s, "Google");
    CHECK_STR(channel_of("https://example.com/", "https://t.co/x", s), "Organic Social");
    CHECK_STR(channel_of("https://example.com/?utm_source=facebook&utm_medium=paid", "", s),
              "Paid Social");
    CHECK_STR(channel_of("https://example.com/", "https://mail.google.com/", s), "Email");
    CHECK_STR(channel_of("https://example.com/?utm_source=newsletter", "", s), "Email");
    CHECK_STR(s, "newsletter");
    /* ref= names the source, but the email rule reads utm_source/utm_medium */
    CHECK_STR(channel_of("https://example.com/?ref=newsletter", "", s), "Referral");
    CHECK_STR(channel_of("https://example.com/", "https://www.youtube.com/watch?v=1", s),
              "Organic Video");
    CHECK_STR(channel_of("https://example.com/", "https://someblog.net/p", s), "Referral");
    CHECK_STR(channel_of("https://example.com/", "https://example.com/other", s), "Direct");
    CHECK_STR(s, "");
    CHECK_STR(channel_of("https://example.com/", "", s), "Direct");
}

int
main(void)
{
    const char *dir = getenv("TALLY_DATA_DIR");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/referers.json", dir && *dir ? dir : "build/data");
    db = en_ref_load(path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "cannot load %s: %s (run tools/gen-data.mjs or set TALLY_DATA_DIR)\n",
                path, err);
        check_failed_tests++;
        return check_summary("enrich_ref");
    }
    RUN(test_search_engines);
    RUN(test_social_and_email);
    RUN(test_unknown_and_direct);
    RUN(test_known_source_names);
    RUN(test_source_to_channel);
    en_ref_free(db);
    CHECK(en_ref_load("/nonexistent/referers.json", err, sizeof err) == NULL);
    return check_summary("enrich_ref");
}
