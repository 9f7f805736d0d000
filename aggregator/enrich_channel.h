/*
 * enrich_channel.h -- the acquisition channel of a visit, per Plausible's
 * published channel definitions (which follow GA4's default channel group).
 *
 * Pure function, no state: safe from any thread.  The table and its order
 * are in enrich_channel.c; docs/enrichment.md says it in words.
 */
#ifndef TALLY_ENRICH_CHANNEL_H
#define TALLY_ENRICH_CHANNEL_H

typedef struct en_channel_in {
    const char *source;           /* final source: "Google", "news.ycombinator.com", "" */
    const char *source_category;  /* en_ref_category(source): "search" "social"
                                     "email" "video" "shopping" or "" */
    const char *utm_medium;
    const char *utm_source;
    const char *utm_campaign;
    const char *click_id;         /* "gclid", "msclkid" or NULL */
} en_channel_in;

/*
 * en_channel: one of "Cross-network", "Paid Shopping", "Paid Search",
 * "Paid Social", "Paid Video", "Display", "Paid Other", "Organic Shopping",
 * "Organic Social", "Organic Video", "Organic Search", "Email",
 * "Affiliates", "Audio", "SMS", "Mobile Push Notifications", "Referral",
 * "Direct".  Static string.  NULL fields count as "".  Comparisons ignore
 * ASCII case.
 */
const char *en_channel(const en_channel_in *in);

#endif /* TALLY_ENRICH_CHANNEL_H */
