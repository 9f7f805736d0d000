/*
 * enrich_channel.c -- acquisition channels (see enrich_channel.h).
 *
 * Definitions: Plausible, "Top Sources > Channels"
 * (https://plausible.io/docs/top-referrers), which follow Google
 * Analytics 4's default channel group
 * (https://support.google.com/analytics/answer/9756891).  The first rule
 * that holds names the channel; the order below is that of the
 * definitions (paid before organic, Direct last).
 *
 * Source categories (search / social / email / video / shopping) come from
 * the medium Snowplow's referer data gives a source (enrich_ref.h), not
 * from GA4's own source list, which is not published as data we can ship.
 * Not implemented: Plausible's "AI Assistants" channel and its list of
 * paid utm_source shorthands (both hand-kept lists in Plausible).
 */
#include "aggregator/enrich_channel.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    char source[256], category[16], medium[256], usource[256], campaign[256];
    const char *click;
} ch_ctx;

static void
ch_lower(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap; i++) dst[i] = (char)tolower((unsigned char)s[i]);
    dst[i] = '\0';
}

static int
ch_in(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0) return 1;
    return 0;
}

static int
ch_contains_any(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strstr(v, *list)) return 1;
    return 0;
}

/* utm_medium ^(.*cp.*|ppc|retargeting|paid.*)$ */
static int
ch_paid_medium(const ch_ctx *c)
{
    return strstr(c->medium, "cp") || strcmp(c->medium, "ppc") == 0
        || strcmp(c->medium, "retargeting") == 0 || strncmp(c->medium, "paid", 4) == 0;
}

/* utm_campaign ^(.*(([^a-df-z]|^)shop|shopping).*)$ */
static int
ch_shopping_campaign(const ch_ctx *c)
{
    if (strstr(c->campaign, "shopping")) return 1;
    for (const char *p = c->campaign; (p = strstr(p, "shop")); p++)
        if (p == c->campaign || !(p[-1] >= 'a' && p[-1] <= 'z' && p[-1] != 'e')) return 1;
    return 0;
}

static int ch_cat(const ch_ctx *c, const char *k) { return strcmp(c->category, k) == 0; }

static const char *const ch_display[] = { "display", "banner", "expandable", "interstitial", "cpm", NULL };
static const char *const ch_social[] = { "social", "social-network", "social-media", "sm",
                                         "social network", "social media", NULL };
static const char *const ch_email[] = { "email", "e-mail", "e_mail", "e mail", "newsletter", NULL };
static const char *const ch_referral[] = { "referral", "app", "link", NULL };
static const char *const ch_push[] = { "mobile", "notification", NULL };

static int r_cross(const ch_ctx *c) { return strstr(c->campaign, "cross-network") || strcmp(c->medium, "cross-network") == 0; }
static int r_paid_shop(const ch_ctx *c) { return (ch_cat(c, "shopping") || ch_shopping_campaign(c)) && ch_paid_medium(c); }
static int r_paid_search(const ch_ctx *c)
{
    return (ch_cat(c, "search") && ch_paid_medium(c))
        || (strcmp(c->source, "google") == 0 && c->click && strcmp(c->click, "gclid") == 0)
        || (strcmp(c->source, "bing") == 0 && c->click && strcmp(c->click, "msclkid") == 0);
}
static int r_paid_social(const ch_ctx *c) { return ch_cat(c, "social") && ch_paid_medium(c); }
static int r_paid_video(const ch_ctx *c) { return ch_cat(c, "video") && ch_paid_medium(c); }
static int r_display(const ch_ctx *c) { return ch_in(c->medium, ch_display); }
static int r_paid_other(const ch_ctx *c) { return ch_paid_medium(c); }
static int r_org_shop(const ch_ctx *c) { return ch_cat(c, "shopping") || ch_shopping_campaign(c); }
static int r_org_social(const ch_ctx *c) { return ch_cat(c, "social") || ch_in(c->medium, ch_social); }
static int r_org_video(const ch_ctx *c) { return ch_cat(c, "video") || strstr(c->medium, "video"); }
static int r_org_search(const ch_ctx *c) { return ch_cat(c, "search") || strcmp(c->medium, "organic") == 0; }
static int r_email(const ch_ctx *c)
{
    return ch_cat(c, "email") || ch_contains_any(c->usource, ch_email)
        || ch_contains_any(c->medium, ch_email);
}
static int r_affiliates(const ch_ctx *c) { return strcmp(c->medium, "affiliate") == 0; }
static int r_audio(const ch_ctx *c) { return strcmp(c->medium, "audio") == 0; }
static int r_sms(const ch_ctx *c) { return strcmp(c->usource, "sms") == 0 || strcmp(c->medium, "sms") == 0; }
static int r_push(const ch_ctx *c)
{
    size_t n = strlen(c->medium);
    return (n >= 4 && strcmp(c->medium + n - 4, "push") == 0)
        || ch_contains_any(c->medium, ch_push) || strcmp(c->source, "firebase") == 0;
}
static int r_referral(const ch_ctx *c) { return ch_in(c->medium, ch_referral) || c->source[0]; }

/* The rule table, in order: first match names the channel. */
static const struct {
    const char *channel;
    int (*holds)(const ch_ctx *);
} ch_rules[] = {
    { "Cross-network", r_cross },            /* campaign contains "cross-network" */
    { "Paid Shopping", r_paid_shop },        /* shopping source/campaign + paid medium */
    { "Paid Search", r_paid_search },        /* search source + paid medium; gclid/msclkid */
    { "Paid Social", r_paid_social },        /* social source + paid medium */
    { "Paid Video", r_paid_video },          /* video source + paid medium */
    { "Display", r_display },                /* medium display|banner|expandable|interstitial|cpm */
    { "Paid Other", r_paid_other },          /* paid medium, any source */
    { "Organic Shopping", r_org_shop },      /* shopping source or campaign */
    { "Organic Social", r_org_social },      /* social source or social medium */
    { "Organic Video", r_org_video },        /* video source or medium contains "video" */
    { "Organic Search", r_org_search },      /* search source or medium "organic" */
    { "Email", r_email },                    /* email source, or source/medium has an email tag */
    { "Affiliates", r_affiliates },          /* medium "affiliate" */
    { "Audio", r_audio },                    /* medium "audio" */
    { "SMS", r_sms },                        /* source or medium "sms" */
    { "Mobile Push Notifications", r_push }, /* medium *push|mobile|notification; firebase */
    { "Referral", r_referral },              /* medium referral|app|link, or any source */
};

const char *
en_channel(const en_channel_in *in)
{
    ch_ctx c;
    ch_lower(c.source, sizeof c.source, in->source);
    ch_lower(c.category, sizeof c.category, in->source_category);
    ch_lower(c.medium, sizeof c.medium, in->utm_medium);
    ch_lower(c.usource, sizeof c.usource, in->utm_source);
    ch_lower(c.campaign, sizeof c.campaign, in->utm_campaign);
    c.click = in->click_id;
    for (size_t i = 0; i < sizeof ch_rules / sizeof ch_rules[0]; i++)
        if (ch_rules[i].holds(&c)) return ch_rules[i].channel;
    return "Direct";
}
