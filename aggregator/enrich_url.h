/*
 * enrich_url.h -- page URL -> hostname, pathname, UTM tags, click ids;
 * plus the URL splitter the referrer enricher shares.
 *
 * Pure functions, no state: safe from any thread.  Rules in words:
 * docs/enrichment.md.
 */
#ifndef TALLY_ENRICH_URL_H
#define TALLY_ENRICH_URL_H

#include <stddef.h>

#define EN_URL_HOST 256
#define EN_URL_PATH 2048
#define EN_URL_TAG 256     /* each UTM value, bytes incl. NUL */

/* Spans into the caller's string (not NUL-terminated). */
typedef struct en_url_parts {
    const char *scheme; size_t scheme_len;
    const char *host; size_t host_len;       /* without userinfo and port */
    const char *path; size_t path_len;       /* "" when absent */
    const char *query; size_t query_len;     /* after '?', without it */
    int has_query;
} en_url_parts;

/*
 * en_url_split: splits an absolute URL "scheme://authority/path?query#frag"
 * (len bytes, surrounding whitespace ignored) into *out (caller's; spans
 * point into s).  Returns 0, or -1 when there is no "scheme://" or the
 * host is empty.
 */
int en_url_split(const char *s, size_t len, en_url_parts *out);

/*
 * en_url_host: writes the normalised host of host/len into dst (cap bytes,
 * caller's): ASCII lower-cased, one trailing '.' and a leading "www."
 * removed, non-ASCII (IDN in UTF-8) kept as sent, punycode kept as sent.
 * Returns the length, or -1 (dst = "") if the host is empty or has a byte
 * no hostname has (space, control, one of "/?#@<>\"'\\%{}|^`").
 */
int en_url_host(char *dst, size_t cap, const char *host, size_t len);

typedef struct en_url {
    char host[EN_URL_HOST];           /* "example.com" (see en_url_host) */
    char path[EN_URL_PATH];           /* "/blog/post", "/" for none; see docs */
    char utm_source[EN_URL_TAG];
    char utm_medium[EN_URL_TAG];
    char utm_campaign[EN_URL_TAG];
    char utm_content[EN_URL_TAG];
    char utm_term[EN_URL_TAG];
    char tagged_source[EN_URL_TAG];   /* utm_source, else source=, else ref= */
    const char *click_id;             /* "gclid", "msclkid" or NULL (static) */
} en_url;

/*
 * en_url_parse: parses the page URL u (len bytes, any bytes) into *out
 * (caller's).  Every string is NUL-terminated valid UTF-8 without control
 * characters, cut to its buffer at a character boundary; "" = absent.
 * Returns 0, or -1 (out zeroed) when u is not an http(s) URL with a valid
 * host.
 */
int en_url_parse(const char *u, size_t len, en_url *out);

#endif /* TALLY_ENRICH_URL_H */
