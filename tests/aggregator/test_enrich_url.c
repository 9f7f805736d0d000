/*
 * test_enrich_url.c -- page URL parsing, the text sanitiser, and the
 * acquisition channel table (one case per channel at least).
 */
#include "aggregator/enrich_channel.h"
#include "aggregator/enrich_text.h"
#include "aggregator/enrich_url.h"
#include "tests/check.h"

static en_url u;

static int
parse(const char *s)
{
    return en_url_parse(s, strlen(s), &u);
}

static void
test_host_and_path(void)
{
    CHECK_EQ_U64(parse("https://example.com/"), 0);
    CHECK_STR(u.host, "example.com");
    CHECK_STR(u.path, "/");
    CHECK_EQ_U64(parse("https://Example.COM"), 0);            /* no path */
    CHECK_STR(u.host, "example.com");
    CHECK_STR(u.path, "/");
    CHECK_EQ_U64(parse("http://WWW.Example.com.:8080/Blog/Post/?x=1#top"), 0);
    CHECK_STR(u.host, "example.com");
    CHECK_STR(u.path, "/Blog/Post/");                         /* case and slash kept */
    CHECK_EQ_U64(parse("https://user:pw@shop.example.org/a"), 0);
    CHECK_STR(u.host, "shop.example.org");
    /* IDN: UTF-8 kept, punycode kept, only ASCII lower-cased */
    CHECK_EQ_U64(parse("https://B\xc3\xbc" "cher.Example/x"), 0);
    CHECK_STR(u.host, "b\xc3\xbc" "cher.example");
    CHECK_EQ_U64(parse("https://xn--bcher-kva.example/x"), 0);
    CHECK_STR(u.host, "xn--bcher-kva.example");
    CHECK_EQ_U64(parse("http://[::1]:8080/x"), 0);
    CHECK_STR(u.host, "[::1]");
    CHECK_EQ_U64(parse("  https://example.com/p\n"), 0);      /* whitespace around */
    CHECK_STR(u.path, "/p");
}

static void
test_percent_decoding(void)
{
    /* unreserved decoded, reserved kept (hex upper-cased), UTF-8 decoded */
    CHECK_EQ_U64(parse("https://example.com/%7Euser/a%2fb/caf%C3%A9/%41%2D%5f"), 0);
    CHECK_STR(u.path, "/~user/a%2Fb/caf\xc3\xa9/A-_");
    CHECK_EQ_U64(parse("https://example.com/a%20b%00c%"), 0);
    CHECK_STR(u.path, "/a%20b%00c%");
    /* a broken UTF-8 escape stays escaped; a raw control byte is dropped */
    CHECK_EQ_U64(parse("https://example.com/x%C3%28\x01y"), 0);
    CHECK_STR(u.path, "/x%C3%28y");
    /* 4-byte character */
    CHECK_EQ_U64(parse("https://example.com/%F0%9F%98%80"), 0);
    CHECK_STR(u.path, "/\xf0\x9f\x98\x80");
}

static void
test_query_tags(void)
{
    CHECK_EQ_U64(parse("https://example.com/p?utm_source=Newsletter&utm_medium=email"
                       "&utm_campaign=Spring+Sale%202024&utm_content=btn&utm_term=shoes%26socks"
                       "#utm_source=frag"), 0);
    CHECK_STR(u.utm_source, "Newsletter");
    CHECK_STR(u.utm_medium, "email");
    CHECK_STR(u.utm_campaign, "Spring Sale 2024");
    CHECK_STR(u.utm_content, "btn");
    CHECK_STR(u.utm_term, "shoes&socks");
    CHECK_STR(u.tagged_source, "Newsletter");
    CHECK(u.click_id == NULL);
    /* ref and source count as sources when utm_source is missing */
    CHECK_EQ_U64(parse("https://example.com/?ref=producthunt"), 0);
    CHECK_STR(u.tagged_source, "producthunt");
    CHECK_STR(u.utm_source, "");
    CHECK_EQ_U64(parse("https://example.com/?ref=a&source=b"), 0);
    CHECK_STR(u.tagged_source, "b");
    /* first non-empty value wins; empty keys and junk are ignored */
    CHECK_EQ_U64(parse("https://example.com/?utm_source=&utm_source=x&utm_source=y&&=z&utm_medium"), 0);
    CHECK_STR(u.utm_source, "x");
    CHECK_STR(u.utm_medium, "");
    /* fragment is not the query */
    CHECK_EQ_U64(parse("https://example.com/#?utm_source=x"), 0);
    CHECK_STR(u.utm_source, "");
    CHECK_STR(u.path, "/");
    /* click ids */
    CHECK_EQ_U64(parse("https://example.com/?gclid=abc"), 0);
    CHECK_STR(u.click_id, "gclid");
    CHECK_EQ_U64(parse("https://example.com/?msclkid=abc"), 0);
    CHECK_STR(u.click_id, "msclkid");
    /* values are capped at a character boundary and cleaned */
    char longq[2000] = "https://example.com/?utm_campaign=";
    size_t n = strlen(longq);
    for (int i = 0; i < 400; i++) { memcpy(longq + n, "\xc3\xa9", 2); n += 2; }
    longq[n] = '\0';
    CHECK_EQ_U64(parse(longq), 0);
    CHECK(strlen(u.utm_campaign) <= EN_URL_TAG - 1);
    CHECK(strlen(u.utm_campaign) % 2 == 0);
    CHECK_EQ_U64(parse("https://example.com/?utm_source=%00a%0Ab%FF"), 0);
    CHECK_STR(u.utm_source, "ab");
}

static void
test_invalid_urls(void)
{
    CHECK_EQ_U64(parse(""), (uint64_t)-1);
    CHECK_EQ_U64(parse("example.com/page"), (uint64_t)-1);
    CHECK_EQ_U64(parse("ftp://example.com/"), (uint64_t)-1);
    CHECK_EQ_U64(parse("https:///path"), (uint64_t)-1);
    CHECK_EQ_U64(parse("https://exa mple.com/"), (uint64_t)-1);
    CHECK_EQ_U64(parse("https://:80/"), (uint64_t)-1);
    CHECK_EQ_U64(parse("https://user@/"), (uint64_t)-1);
    CHECK_EQ_U64(parse("javascript:alert(1)"), (uint64_t)-1);
    CHECK_STR(u.host, "");
    CHECK(en_url_parse(NULL, 5, &u) == -1);
}

static void
test_text_copy(void)
{
    char b[8];
    CHECK_EQ_U64(en_text_copy(b, sizeof b, "  ab\tc  ", 8), 3);   /* tab is a control */
    CHECK_STR(b, "abc");
    CHECK_EQ_U64(en_text_copy(b, sizeof b, "\xed\xa0\x80x\xc0\xafy", 7), 2);  /* surrogate, overlong */
    CHECK_STR(b, "xy");
    CHECK_EQ_U64(en_text_copy(b, sizeof b, "abcdef\xc3\xa9", 8), 6);          /* no half é */
    CHECK_STR(b, "abcdef");
    CHECK_EQ_U64(en_text_copy(b, 1, "abc", 3), 0);
    CHECK_STR(b, "");
}

static const char *
ch(const char *source, const char *cat, const char *medium, const char *usource,
   const char *campaign, const char *click)
{
    en_channel_in in = { source, cat, medium, usource, campaign, click };
    return en_channel(&in);
}

static void
test_channels(void)
{
    CHECK_STR(ch("", "", "", "", "", NULL), "Direct");
    CHECK_STR(ch(NULL, NULL, NULL, NULL, NULL, NULL), "Direct");
    CHECK_STR(ch("Google", "search", "", "", "", NULL), "Organic Search");
    CHECK_STR(ch("Google", "search", "cpc", "google", "", NULL), "Paid Search");
    CHECK_STR(ch("Google", "search", "", "", "", "gclid"), "Paid Search");
    CHECK_STR(ch("Bing", "search", "", "", "", "msclkid"), "Paid Search");
    CHECK_STR(ch("Bing", "search", "", "", "", "gclid"), "Organic Search");
    CHECK_STR(ch("Facebook", "social", "", "", "", NULL), "Organic Social");
    CHECK_STR(ch("Facebook", "social", "paid_social", "fb", "", NULL), "Paid Social");
    CHECK_STR(ch("mysite.com", "", "Social", "", "", NULL), "Organic Social");
    CHECK_STR(ch("Gmail", "email", "", "", "", NULL), "Email");
    CHECK_STR(ch("Newsletter", "", "", "Newsletter", "", NULL), "Email");
    CHECK_STR(ch("x", "", "E-Mail", "", "", NULL), "Email");
    CHECK_STR(ch("news.ycombinator.com", "", "", "", "", NULL), "Referral");
    CHECK_STR(ch("", "", "referral", "", "", NULL), "Referral");
    CHECK_STR(ch("partner", "", "affiliate", "partner", "", NULL), "Affiliates");
    CHECK_STR(ch("adnet", "", "banner", "adnet", "", NULL), "Display");
    CHECK_STR(ch("adnet", "", "CPM", "adnet", "", NULL), "Display");
    CHECK_STR(ch("YouTube", "video", "", "", "", NULL), "Organic Video");
    CHECK_STR(ch("YouTube", "video", "cpv", "", "", NULL), "Paid Video");
    CHECK_STR(ch("vendor", "", "video", "", "", NULL), "Organic Video");
    CHECK_STR(ch("store", "", "", "", "summer-shopping", NULL), "Organic Shopping");
    CHECK_STR(ch("store", "", "", "", "eshop", NULL), "Organic Shopping");
    CHECK_STR(ch("store", "", "", "", "workshop", NULL), "Referral");    /* "kshop": no */
    CHECK_STR(ch("store", "", "ppc", "", "shop_q3", NULL), "Paid Shopping");
    CHECK_STR(ch("spotify", "", "audio", "", "", NULL), "Audio");
    CHECK_STR(ch("sms", "", "", "sms", "", NULL), "SMS");
    CHECK_STR(ch("x", "", "text", "", "", NULL), "Referral");
    CHECK_STR(ch("firebase", "", "", "firebase", "", NULL), "Mobile Push Notifications");
    CHECK_STR(ch("app", "", "web-push", "", "", NULL), "Mobile Push Notifications");
    CHECK_STR(ch("x", "", "", "", "q1-cross-network", NULL), "Cross-network");
    CHECK_STR(ch("Google", "search", "cpc", "", "cross-network", NULL), "Cross-network");
    CHECK_STR(ch("x", "", "paid", "", "", NULL), "Paid Other");
    CHECK_STR(ch("x", "", "retargeting", "", "", NULL), "Paid Other");
    CHECK_STR(ch("", "", "organic", "", "", NULL), "Organic Search");
}

int
main(void)
{
    RUN(test_host_and_path);
    RUN(test_percent_decoding);
    RUN(test_query_tags);
    RUN(test_invalid_urls);
    RUN(test_text_copy);
    RUN(test_channels);
    return check_summary("enrich_url");
}
