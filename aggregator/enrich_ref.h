/*
 * enrich_ref.h -- referrer URL -> source ("Google", "news.ycombinator.com"),
 * its medium in Snowplow's referer data, and Plausible's visit:referrer
 * form; and known-source lookups for utm_source values.
 *
 * An en_ref_db is read-only after en_ref_load: share it between threads.
 * Rules in words: docs/enrichment.md.
 */
#ifndef TALLY_ENRICH_REF_H
#define TALLY_ENRICH_REF_H

#include <stddef.h>

#define EN_REF_SOURCE 256
#define EN_REF_REFERRER 2048

typedef struct en_ref_db en_ref_db;

typedef struct en_ref_result {
    int direct;                       /* 1: no usable referrer (empty, invalid,
                                         own site, localhost): no source */
    char source[EN_REF_SOURCE];       /* "Google"; unknown: host without "www." */
    const char *medium;               /* known: "search" "social" "email" "video"
                                         "unknown" (known source, no medium);
                                         unknown host: "referral"; direct: "" */
    char referrer[EN_REF_REFERRER];   /* "news.ycombinator.com/item"; "" if direct */
} en_ref_result;

/*
 * en_ref_load: reads referers.json (tools/gen-data.mjs) at json_path.
 * Returns a handle the caller owns (en_ref_free), or NULL with a one-line
 * reason in err (errlen bytes, caller's buffer).
 */
en_ref_db *en_ref_load(const char *json_path, char *err, size_t errlen);

/*
 * en_ref_parse: classifies referrer ref (len bytes, any bytes; NULL = none)
 * of a page on page_host (NUL-terminated, normalised like en_url_host, may
 * be NULL) into *out (caller's).  Output strings are NUL-terminated valid
 * UTF-8; medium is static.
 */
void en_ref_parse(const en_ref_db *db, const char *ref, size_t len,
                  const char *page_host, en_ref_result *out);

/*
 * en_ref_known_source: the data's spelling of a source name given in any
 * case (utm_source=google -> "Google"), or NULL if the data has no such
 * source.  The string belongs to db.
 */
const char *en_ref_known_source(const en_ref_db *db, const char *name);

/*
 * en_ref_category: the medium the data gives the source name (any case):
 * "search", "social", "email", "video", or "" when unknown or the data has
 * no medium for it.  Static string.  A name listed under several media
 * takes the first of search, social, email, video.
 */
const char *en_ref_category(const en_ref_db *db, const char *name);

/* en_ref_count: number of domains loaded. */
size_t en_ref_count(const en_ref_db *db);

/* en_ref_free: frees db; NULL is fine. */
void en_ref_free(en_ref_db *db);

#endif /* TALLY_ENRICH_REF_H */
