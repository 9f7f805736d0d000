/*
 * enrich_ua.h -- user agent -> browser, OS, device class, bot flag, as
 * Plausible's dashboard shows them.
 *
 * Built on enrich_uap.h (uap-core's rules, raw values) with a small
 * normalisation of names (docs/enrichment.md) and a bounded cache in front.
 *
 * Thread confinement: an en_ua_db and every result it returns belong to
 * one thread (one per drain thread); nothing in it is locked.
 */
#ifndef TALLY_ENRICH_UA_H
#define TALLY_ENRICH_UA_H

#include <stddef.h>

#include "aggregator/enrich_uap.h"

#define EN_UA_NAME 64
#define EN_UA_VERSION 24
#define EN_UA_CACHE_WAYS 4
#define EN_UA_CACHE_SETS 1024   /* 4096 entries */

typedef enum { EN_DEVICE_DESKTOP, EN_DEVICE_MOBILE, EN_DEVICE_TABLET } en_device;

typedef struct en_ua_result {
    char browser[EN_UA_NAME];          /* "Chrome", "Safari", ...; "Other" if unknown */
    char browser_version[EN_UA_VERSION]; /* "120.0" (major.minor), "17" (major only), "" */
    char os[EN_UA_NAME];               /* "Windows", "Mac", "iOS", ...; "Other" */
    char os_version[EN_UA_VERSION];    /* "10", "14.2", ""; like browser_version */
    en_device device;
    const char *device_name;           /* "Desktop" | "Mobile" | "Tablet" (static) */
    int bot;                           /* uap-core "Spider" or a crawler-user-agents match */
} en_ua_result;

typedef struct en_ua_db en_ua_db;

/*
 * en_ua_load: loads uap.json (tools/gen-data.mjs) from json_path.  Returns
 * a handle the caller owns (en_ua_free), or NULL with a one-line reason in
 * err (errlen bytes, caller's buffer).
 */
en_ua_db *en_ua_load(const char *json_path, char *err, size_t errlen);

/*
 * en_ua_parse: enriches one user agent (len bytes, any bytes; NULL or ""
 * gives "Other"/Desktop).  The result belongs to db: it stays valid and
 * unchanged until the next en_ua_parse or en_ua_free on the same db; copy
 * what you keep.  Never NULL.
 */
const en_ua_result *en_ua_parse(en_ua_db *db, const char *ua, size_t len);

/*
 * en_ua_from_raw: the normalisation alone: turns raw uap-core values (and
 * the user agent, for the device hints) into *out (caller's).  Exposed for
 * tests and for callers that already parsed.
 */
void en_ua_from_raw(const en_uap_raw *raw, const char *ua, size_t len, en_ua_result *out);

/* en_ua_cache_stats: cache hits and misses since load (either may be NULL). */
void en_ua_cache_stats(const en_ua_db *db, unsigned long *hits, unsigned long *misses);

/* en_ua_uap: the underlying uap-core parser (owned by db), e.g. to switch
 * its pre-filter off in tests. */
en_uap *en_ua_uap(en_ua_db *db);

/* en_ua_free: frees db, its cache and its results; NULL is fine. */
void en_ua_free(en_ua_db *db);

#endif /* TALLY_ENRICH_UA_H */
