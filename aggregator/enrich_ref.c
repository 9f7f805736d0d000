/*
 * enrich_ref.c -- referrer classification from Snowplow's referer data
 * (see enrich_ref.h).
 *
 * referers.json (tools/gen-data.mjs):
 *   {"referers": [{"name": "Google", "medium": "search",
 *                  "domains": ["google.com", "google.ac/imgres", ...]}, ...]}
 * A domain entry is a host, optionally followed by a path prefix, or an
 * "android-app://package" key.  Two open-addressing tables: domain key ->
 * source, lower-cased source name -> source.
 */
#include "aggregator/enrich_ref.h"

#include "aggregator/enrich_text.h"
#include "aggregator/enrich_url.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_KEY 512   /* longest lookup key we build */

typedef struct {
    char *name;
    const char *medium;       /* static */
} ref_source;

typedef struct {
    char *key;                /* NULL: empty slot */
    uint32_t src;
} ref_slot;

struct en_ref_db {
    ref_source *src;
    size_t nsrc;
    ref_slot *dom;            /* domain key -> source */
    size_t dom_mask, ndom;
    ref_slot *names;          /* lower-cased name -> source (best medium) */
    size_t name_mask;
};

static const char *
ref_medium(const char *m)
{
    static const char *const known[] = { "search", "social", "email", "video", "shopping" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (m && strcmp(m, known[i]) == 0) return known[i];
    return "unknown";
}

/* Rank of a medium when one name has several (lower wins). */
static int
ref_rank(const char *m)
{
    static const char *const order[] = { "search", "social", "email", "video", "shopping" };
    for (int i = 0; i < 5; i++)
        if (strcmp(m, order[i]) == 0) return i;
    return 5;
}

static uint64_t
ref_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 31);
}

/* Slot for key (n bytes) in table: the match or the empty slot to fill. */
static ref_slot *
ref_find(ref_slot *tab, size_t mask, const char *key, size_t n)
{
    size_t h = (size_t)ref_hash(key, n) & mask;
    while (tab[h].key && !(strlen(tab[h].key) == n && memcmp(tab[h].key, key, n) == 0))
        h = (h + 1) & mask;
    return &tab[h];
}

static void
ref_err(char *err, size_t errlen, const char *msg, const char *path)
{
    if (err && errlen) snprintf(err, errlen, "referers: %s: %s", path, msg);
}

en_ref_db *
en_ref_load(const char *json_path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    if (!root) {
        ref_err(err, errlen, jerr.text, json_path);
        return NULL;
    }
    json_t *arr = json_object_get(root, "referers");
    en_ref_db *db = calloc(1, sizeof *db);
    size_t ndom = 0;
    if (!db || !json_is_array(arr)) {
        ref_err(err, errlen, db ? "no \"referers\" array" : "out of memory", json_path);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(arr); i++)
        ndom += json_array_size(json_object_get(json_array_get(arr, i), "domains"));
    size_t dcap = 64, ncap = 64;
    while (dcap < 2 * ndom) dcap *= 2;
    while (ncap < 2 * json_array_size(arr)) ncap *= 2;
    db->src = calloc(json_array_size(arr) + 1, sizeof *db->src);
    db->dom = calloc(dcap, sizeof *db->dom);
    db->names = calloc(ncap, sizeof *db->names);
    db->dom_mask = dcap - 1;
    db->name_mask = ncap - 1;
    if (!db->src || !db->dom || !db->names) {
        ref_err(err, errlen, "out of memory", json_path);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *doms = json_object_get(o, "domains");
        if (!name || !*name || strlen(name) >= EN_REF_SOURCE || !json_is_array(doms)) {
            ref_err(err, errlen, "a referer without name or domains", json_path);
            goto fail;
        }
        ref_source *s = &db->src[db->nsrc];
        if (!(s->name = strdup(name))) {
            ref_err(err, errlen, "out of memory", json_path);
            goto fail;
        }
        s->medium = ref_medium(json_string_value(json_object_get(o, "medium")));
        uint32_t id = (uint32_t)db->nsrc++;
        for (size_t k = 0; k < json_array_size(doms); k++) {
            const char *d = json_string_value(json_array_get(doms, k));
            if (!d || !*d || strlen(d) >= REF_KEY) continue;
            char key[REF_KEY];
            size_t n = strlen(d);
            for (size_t b = 0; b <= n; b++) key[b] = (char)tolower((unsigned char)d[b]);
            ref_slot *slot = ref_find(db->dom, db->dom_mask, key, n);
            if (slot->key) continue;                 /* first listing wins */
            if (!(slot->key = strdup(key))) {
                ref_err(err, errlen, "out of memory", json_path);
                goto fail;
            }
            slot->src = id;
            db->ndom++;
        }
        char low[EN_REF_SOURCE];
        size_t n = strlen(name);
        for (size_t b = 0; b <= n; b++) low[b] = (char)tolower((unsigned char)name[b]);
        ref_slot *ns = ref_find(db->names, db->name_mask, low, n);
        if (!ns->key) {
            if (!(ns->key = strdup(low))) {
                ref_err(err, errlen, "out of memory", json_path);
                goto fail;
            }
            ns->src = id;
        } else if (ref_rank(s->medium) < ref_rank(db->src[ns->src].medium)) {
            ns->src = id;
        }
    }
    json_decref(root);
    return db;
fail:
    json_decref(root);
    en_ref_free(db);
    return NULL;
}

static const ref_source *
ref_get(const en_ref_db *db, const char *key, size_t n)
{
    ref_slot *s = ref_find(db->dom, db->dom_mask, key, n);
    return s->key ? &db->src[s->src] : NULL;
}

/* Snowplow's lookup: host with path prefixes (longest first), then the
 * host alone, then the same for each parent domain. */
static const ref_source *
ref_lookup(const en_ref_db *db, const char *host, const char *path, size_t plen)
{
    char key[REF_KEY];
    size_t cuts[16], ncut = 0;
    for (size_t k = 1; k <= plen && ncut < 15; k++)
        if (k == plen || path[k] == '/') {
            cuts[ncut++] = k;                        /* "/imgres" */
            if (k < plen) cuts[ncut++] = k + 1;      /* "/portal/search/" */
        }
    for (const char *h = host; h && *h;) {
        size_t hl = strlen(h);
        for (size_t c = ncut; c-- > 0;) {
            if (hl + cuts[c] >= sizeof key) continue;
            memcpy(key, h, hl);
            memcpy(key + hl, path, cuts[c]);
            const ref_source *s = ref_get(db, key, hl + cuts[c]);
            if (s) return s;
        }
        const ref_source *s = ref_get(db, h, hl);
        if (s) return s;
        h = strchr(h, '.');
        if (h) h++;
        if (h && !strchr(h, '.')) break;             /* not down to the TLD */
    }
    return NULL;
}

static void
ref_direct(en_ref_result *out)
{
    memset(out, 0, sizeof *out);
    out->direct = 1;
    out->medium = "";
}

void
en_ref_parse(const en_ref_db *db, const char *ref, size_t len, const char *page_host,
             en_ref_result *out)
{
    en_url_parts p;
    char host[EN_URL_HOST], raw[EN_URL_HOST];
    ref_direct(out);
    if (!ref || en_url_split(ref, len, &p) != 0) return;
    int app = p.scheme_len == 11 && strncasecmp(p.scheme, "android-app", 11) == 0;
    int web = (p.scheme_len == 4 && strncasecmp(p.scheme, "http", 4) == 0)
        || (p.scheme_len == 5 && strncasecmp(p.scheme, "https", 5) == 0);
    if (!app && !web) return;
    if (en_url_host(host, sizeof host, p.host, p.host_len) < 0) return;
    if (strcmp(host, "localhost") == 0 || (page_host && strcmp(host, page_host) == 0))
        return;                                      /* own site: not a source */
    for (size_t i = 0; i < p.host_len && i < sizeof raw - 1; i++)
        raw[i] = (char)tolower((unsigned char)p.host[i]);
    raw[p.host_len < sizeof raw - 1 ? p.host_len : sizeof raw - 1] = '\0';
    if (raw[0] && raw[strlen(raw) - 1] == '.') raw[strlen(raw) - 1] = '\0';

    const ref_source *s;
    char key[REF_KEY];
    if (app) {
        snprintf(key, sizeof key, "android-app://%s", host);
        s = ref_get(db, key, strlen(key));
    } else {
        char path[REF_KEY];
        size_t pl = p.path_len < sizeof path ? p.path_len : sizeof path - 1;
        for (size_t i = 0; i < pl; i++) path[i] = (char)tolower((unsigned char)p.path[i]);
        s = ref_lookup(db, raw, path, pl);
    }
    out->direct = 0;
    if (s) {
        en_text_copy(out->source, sizeof out->source, s->name, strlen(s->name));
        out->medium = s->medium;
    } else {
        char src[EN_URL_HOST + 16];
        int n = snprintf(src, sizeof src, "%s%s", app ? "android-app://" : "", host);
        en_text_copy(out->source, sizeof out->source, src, (size_t)n);
        out->medium = "referral";
    }
    /* visit:referrer: host without "www." + path without trailing '/' */
    size_t pl = p.path_len;
    while (pl && p.path[pl - 1] == '/') pl--;
    char buf[EN_REF_REFERRER];
    int n = snprintf(buf, sizeof buf, "%s%s", app ? "android-app://" : "", host);
    size_t room = sizeof buf - (size_t)n;
    if (pl > room) pl = room;
    memcpy(buf + n, p.path, pl);
    en_text_copy(out->referrer, sizeof out->referrer, buf, (size_t)n + pl);
}

static const ref_source *
ref_by_name(const en_ref_db *db, const char *name)
{
    char low[EN_REF_SOURCE];
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    ref_slot *s = ref_find(db->names, db->name_mask, low, n);
    return s->key ? &db->src[s->src] : NULL;
}

const char *
en_ref_known_source(const en_ref_db *db, const char *name)
{
    const ref_source *s = ref_by_name(db, name);
    return s ? s->name : NULL;
}

const char *
en_ref_category(const en_ref_db *db, const char *name)
{
    const ref_source *s = ref_by_name(db, name);
    return s && strcmp(s->medium, "unknown") != 0 ? s->medium : "";
}

size_t
en_ref_count(const en_ref_db *db)
{
    return db->ndom;
}

void
en_ref_free(en_ref_db *db)
{
    if (!db) return;
    for (size_t i = 0; i < db->nsrc; i++) free(db->src[i].name);
    if (db->dom)
        for (size_t i = 0; i <= db->dom_mask; i++) free(db->dom[i].key);
    if (db->names)
        for (size_t i = 0; i <= db->name_mask; i++) free(db->names[i].key);
    free(db->src);
    free(db->dom);
    free(db->names);
    free(db);
}
