/*
 * enrich_ua.c -- user agent enrichment with a bounded cache (see
 * enrich_ua.h; the rules in words are in docs/enrichment.md).
 *
 * Cache: EN_UA_CACHE_SETS sets of EN_UA_CACHE_WAYS entries, keyed by the
 * (at most EN_UAP_MAX_INPUT bytes of the) user agent, least recently used
 * entry of a set replaced.  Memory is bounded by
 * sets * ways * (sizeof(entry) + EN_UAP_MAX_INPUT), about 5 MiB worst case,
 * typically ~1.5 MiB for ~200-byte user agents.
 */
#include "aggregator/enrich_ua.h"

#include "aggregator/enrich_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    uint64_t used;            /* tick of last use; 0: empty */
    size_t len;
    char *key;
    en_ua_result res;
} ua_entry;

struct en_ua_db {
    en_uap *uap;
    ua_entry *cache;          /* EN_UA_CACHE_SETS * EN_UA_CACHE_WAYS */
    uint64_t tick;
    unsigned long hits, misses;
    en_ua_result scratch;     /* result when an entry cannot be allocated */
};

/*
 * Names that uap-core spells differently from what Plausible's dashboard
 * shows for the same browser or OS: only platform variants of one product.
 */
typedef struct { const char *uap, *shown; } ua_alias;

static const ua_alias ua_browser_names[] = {
    { "Mobile Safari", "Safari" },
    { "Chrome Mobile", "Chrome" },
    { "Chrome Mobile iOS", "Chrome" },
    { "Firefox Mobile", "Firefox" },
    { "Firefox iOS", "Firefox" },
    { "Edge", "Microsoft Edge" },
    { "Edge Mobile", "Microsoft Edge" },
    { "Opera Mobile", "Opera" },
};
static const ua_alias ua_os_names[] = {
    { "Mac OS X", "Mac" },
    { "Linux", "GNU/Linux" },
};

static const char *const ua_device_names[] = { "Desktop", "Mobile", "Tablet" };

static void
ua_name(char *dst, const char *raw, const ua_alias *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(raw, t[i].uap) == 0) {
            raw = t[i].shown;
            break;
        }
    en_text_copy(dst, EN_UA_NAME, raw, strlen(raw));   /* cut at a UTF-8 boundary */
}

static void
ua_version(char *dst, const char *major, const char *minor)
{
    char buf[2 * EN_UAP_VER + 1];
    size_t n = strlen(major);
    memcpy(buf, major, n);
    if (n && minor[0]) {
        buf[n++] = '.';
        memcpy(buf + n, minor, strlen(minor));
        n += strlen(minor);
    }
    en_text_copy(dst, EN_UA_VERSION, buf, n);
}

static int
ua_has(const char *ua, size_t len, const char *needle)
{
    return memmem(ua, len, needle, strlen(needle)) != NULL;
}

/* The device class rule, in order (docs/enrichment.md). */
static en_device
ua_device(const en_uap_raw *raw, const char *ua, size_t len)
{
    const char *dev = raw->device_family, *os = raw->os_family;
    int android = strcmp(os, "Android") == 0;
    int tablet_hint = ua_has(ua, len, "Tablet") && !ua_has(ua, len, "Tablet PC");
    if (strcmp(dev, "iPad") == 0 || strstr(dev, "Tablet") || strstr(dev, "Kindle")
        || ua_has(ua, len, "iPad") || tablet_hint
        || (android && !ua_has(ua, len, "Mobile")))
        return EN_DEVICE_TABLET;
    if (strcmp(dev, "iPhone") == 0 || strcmp(dev, "iPod") == 0
        || strncmp(dev, "Generic Smartphone", 18) == 0
        || strncmp(dev, "Generic Feature Phone", 21) == 0
        || ua_has(ua, len, "Mobi") || android || strcmp(os, "iOS") == 0
        || strcmp(os, "Windows Phone") == 0)
        return EN_DEVICE_MOBILE;
    return EN_DEVICE_DESKTOP;
}

void
en_ua_from_raw(const en_uap_raw *raw, const char *ua, size_t len, en_ua_result *out)
{
    if (!ua) len = 0;
    ua_name(out->browser, raw->ua_family, ua_browser_names,
            sizeof ua_browser_names / sizeof ua_browser_names[0]);
    ua_version(out->browser_version, raw->ua_major, raw->ua_minor);
    ua_name(out->os, raw->os_family, ua_os_names, sizeof ua_os_names / sizeof ua_os_names[0]);
    ua_version(out->os_version, raw->os_major, raw->os_minor);
    out->device = ua_device(raw, ua ? ua : "", len);
    out->device_name = ua_device_names[out->device];
    out->bot = raw->crawler || strcmp(raw->device_family, "Spider") == 0;
}

en_ua_db *
en_ua_load(const char *json_path, char *err, size_t errlen)
{
    en_ua_db *db = calloc(1, sizeof *db);
    if (!db) {
        if (err && errlen) snprintf(err, errlen, "ua: out of memory");
        return NULL;
    }
    db->cache = calloc((size_t)EN_UA_CACHE_SETS * EN_UA_CACHE_WAYS, sizeof *db->cache);
    if (!db->cache) {
        if (err && errlen) snprintf(err, errlen, "ua: out of memory");
        free(db);
        return NULL;
    }
    if (!(db->uap = en_uap_load(json_path, err, errlen))) {
        en_ua_free(db);
        return NULL;
    }
    return db;
}

static uint64_t
ua_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;          /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static void
ua_compute(en_ua_db *db, const char *ua, size_t len, en_ua_result *out)
{
    en_uap_raw raw;
    en_uap_parse(db->uap, ua, len, &raw);
    en_ua_from_raw(&raw, ua, len, out);
}

const en_ua_result *
en_ua_parse(en_ua_db *db, const char *ua, size_t len)
{
    if (!ua) { ua = ""; len = 0; }
    if (len > EN_UAP_MAX_INPUT) len = EN_UAP_MAX_INPUT;
    uint64_t h = ua_hash(ua, len);
    ua_entry *set = &db->cache[(h & (EN_UA_CACHE_SETS - 1)) * EN_UA_CACHE_WAYS];
    ua_entry *victim = &set[0];
    db->tick++;
    for (int w = 0; w < EN_UA_CACHE_WAYS; w++) {
        ua_entry *e = &set[w];
        if (e->used && e->hash == h && e->len == len
            && (len == 0 || memcmp(e->key, ua, len) == 0)) {
            e->used = db->tick;
            db->hits++;
            return &e->res;
        }
        if (e->used < victim->used) victim = e;
    }
    db->misses++;
    char *key = len ? realloc(victim->key, len) : victim->key;
    if (len && !key) {                           /* keep the old entry, don't cache */
        ua_compute(db, ua, len, &db->scratch);
        return &db->scratch;
    }
    victim->key = key;
    if (len) memcpy(victim->key, ua, len);
    victim->len = len;
    victim->hash = h;
    victim->used = db->tick;
    ua_compute(db, ua, len, &victim->res);
    return &victim->res;
}

void
en_ua_cache_stats(const en_ua_db *db, unsigned long *hits, unsigned long *misses)
{
    if (hits) *hits = db->hits;
    if (misses) *misses = db->misses;
}

en_uap *
en_ua_uap(en_ua_db *db)
{
    return db->uap;
}

void
en_ua_free(en_ua_db *db)
{
    if (!db) return;
    if (db->cache)
        for (size_t i = 0; i < (size_t)EN_UA_CACHE_SETS * EN_UA_CACHE_WAYS; i++)
            free(db->cache[i].key);
    free(db->cache);
    en_uap_free(db->uap);
    free(db);
}
