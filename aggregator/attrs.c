/* attrs.c -- see attrs.h. */
#include "aggregator/attrs.h"
#include "aggregator/enrich_channel.h"
#include "aggregator/enrich_ref.h"
#include "aggregator/enrich_ua.h"
#include "aggregator/enrich_url.h"
#include "aggregator/log.h"
#include "aggregator/norm.h"
#include "aggregator/strcache.h"
#include "aggregator/vmap.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTRS_CACHE 4096          /* UA and referrer cache entries */
#define ATTRS_CHAN  1024          /* channel cache slots (a power of 2) */
#define ATTRS_SHORT 256           /* short string cache slots (a power of 2) */

typedef struct {
    int64_t id[5];                /* browser, version, os, version, device */
    int     bot;
} ua_entry;

typedef struct {
    int64_t     source, referrer; /* string ids (0 = direct) */
    char        name[EN_REF_SOURCE];
} ref_entry;

/* What a page URL gives: string ids, and the strings the channel and the
 * referrer classification still need (in one malloc'd block `s`). */
typedef struct {
    int64_t     path, host, tag, utm[5];  /* tag: id of the tagged source */
    const char *click_id;
    char       *s;            /* host, source, utm_medium, utm_source,
                               * utm_campaign; each NUL-terminated */
    uint16_t    o_src, o_med, o_usrc, o_camp;
    int         tagged;
} url_entry;

typedef struct {
    int64_t a[ATTR_COUNT];
} attrs_tuple_t;

/* A dictionary string of at most 8 bytes (event names like "pageview",
 * country codes) and its id (0 = empty slot). */
typedef struct {
    uint64_t w;                   /* the bytes, little-endian, zero-padded */
    int64_t  id;
    size_t   len;
} short_entry;

/* A channel computed before: the string ids of its inputs (source,
 * utm_medium, utm_source, utm_campaign; the source category follows from
 * the source), the click id (a static string, compared by address) and
 * the channel's string id (0 = empty slot). */
typedef struct {
    int64_t     in[4];
    const char *click_id;
    int64_t     channel;
} chan_entry;

struct attrs_ctx {
    en_ua_db  *ua;
    en_ref_db *ref;
    strcache  *ua_cache;
    ua_entry  *ua_v;
    size_t     ua_n;
    strcache  *ref_cache;
    ref_entry *ref_v;
    size_t     ref_n;
    ref_entry  ref_tmp;           /* an answer too long to cache */
    strcache  *url_cache;         /* page URL -> index into url_v */
    url_entry *url_v;
    size_t     url_n;
    url_entry  url_tmp;           /* an answer too long to cache */
    /* attrs id -> tuple (ids are dense), and tuple -> id */
    attrs_tuple_t *tup;           /* index = id; tup_known[id] says valid */
    unsigned char *tup_known;
    size_t     tup_cap;
    uint32_t  *tup_idx;           /* hash slots: id, 0 = empty */
    size_t     tup_mask, tup_n;
    /* props id -> pairs */
    vmap       props_map;         /* props id -> index + 1 into props_at */
    attrs_prop *pairs;
    size_t     pairs_n, pairs_cap;
    uint32_t  *props_at;          /* start in pairs; count in props_cnt */
    uint32_t  *props_cnt;
    size_t     props_n, props_cap;
    chan_entry *chan;             /* ATTRS_CHAN slots, direct-mapped */
    short_entry *shorts;          /* ATTRS_SHORT slots, direct-mapped */
    uint64_t   ua_misses, ref_misses;
    char       scratch[EN_URL_HOST + 4 + 65536];
};

/* ---- data directory ---- */

static int
attrs_dir_ok(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s/uap.json", dir) >= (int)sizeof(p)
        || access(p, R_OK) != 0)
        return 0;
    if (snprintf(p, sizeof(p), "%s/referers.json", dir) >= (int)sizeof(p)
        || access(p, R_OK) != 0)
        return 0;
    return 1;
}

int
attrs_find_data_dir(const char *flag, char *out, size_t cap, char *err,
                    size_t errlen)
{
    out[0] = '\0';
    if (flag && flag[0]) {
        if (!attrs_dir_ok(flag) || strlen(flag) >= cap) {
            snprintf(err, errlen, "--data-dir %s: uap.json and referers.json"
                     " not found there (build them with tools/gen-data.mjs)", flag);
            return -1;
        }
        strcpy(out, flag);
        return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char cand[4][PATH_MAX + 32];
    int nc = 0;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[nc++], sizeof(cand[0]), "%s/data", exe);
            snprintf(cand[nc++], sizeof(cand[0]), "%s/../build/data", exe);
            /* an instrumented build: build/<sanitizer>/tallyd */
            snprintf(cand[nc++], sizeof(cand[0]), "%s/../data", exe);
        }
    }
    snprintf(cand[nc++], sizeof(cand[0]), "/usr/share/tally/data");
    for (int i = 0; i < nc; i++) {
        if (attrs_dir_ok(cand[i]) && strlen(cand[i]) < cap) {
            char *r = realpath(cand[i], NULL);
            snprintf(out, cap, "%s", r ? r : cand[i]);
            free(r);
            return 1;
        }
    }
    return 0;
}

/* ---- lifetime ---- */

attrs_ctx *
attrs_new(const char *data_dir, char *err, size_t errlen)
{
    attrs_ctx *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    vmap_init(&x->props_map);
    x->ua_cache = sc_new(ATTRS_CACHE, 2u << 20);
    x->ref_cache = sc_new(ATTRS_CACHE, 4u << 20);
    x->ua_v = calloc(ATTRS_CACHE, sizeof(*x->ua_v));
    x->ref_v = calloc(ATTRS_CACHE, sizeof(*x->ref_v));
    x->url_cache = sc_new(ATTRS_CACHE, 4u << 20);
    x->url_v = calloc(ATTRS_CACHE, sizeof(*x->url_v));
    x->tup_mask = 1023;
    x->tup_idx = calloc(x->tup_mask + 1, sizeof(*x->tup_idx));
    x->chan = calloc(ATTRS_CHAN, sizeof(*x->chan));
    x->shorts = calloc(ATTRS_SHORT, sizeof(*x->shorts));
    if (!x->chan || !x->shorts || !x->ua_cache || !x->ref_cache || !x->ua_v || !x->ref_v || !x->tup_idx
        || !x->url_cache || !x->url_v) {
        snprintf(err, errlen, "out of memory");
        attrs_free(x);
        return NULL;
    }
    if (data_dir && data_dir[0]) {
        char p[PATH_MAX], msg[512];
        snprintf(p, sizeof(p), "%s/uap.json", data_dir);
        x->ua = en_ua_load(p, msg, sizeof(msg));
        if (x->ua == NULL) {
            snprintf(err, errlen, "%s: %s", p, msg);
            attrs_free(x);
            return NULL;
        }
        snprintf(p, sizeof(p), "%s/referers.json", data_dir);
        x->ref = en_ref_load(p, msg, sizeof(msg));
        if (x->ref == NULL) {
            snprintf(err, errlen, "%s: %s", p, msg);
            attrs_free(x);
            return NULL;
        }
    }
    return x;
}

static void
attrs_url_clear(attrs_ctx *x)
{
    if (x->url_cache)
        sc_clear(x->url_cache);
    for (size_t i = 0; x->url_v && i < x->url_n; i++) {
        free(x->url_v[i].s);
        x->url_v[i].s = NULL;
    }
    x->url_n = 0;
    free(x->url_tmp.s);
    x->url_tmp.s = NULL;
}

void
attrs_free(attrs_ctx *x)
{
    if (x == NULL)
        return;
    attrs_url_clear(x);
    sc_free(x->url_cache);
    free(x->url_v);
    en_ua_free(x->ua);
    en_ref_free(x->ref);
    sc_free(x->ua_cache);
    sc_free(x->ref_cache);
    free(x->ua_v);
    free(x->ref_v);
    free(x->tup);
    free(x->tup_known);
    free(x->tup_idx);
    free(x->chan);
    free(x->shorts);
    vmap_free(&x->props_map);
    free(x->pairs);
    free(x->props_at);
    free(x->props_cnt);
    free(x);
}

int
attrs_has_data(const attrs_ctx *x)
{
    return x->ua != NULL && x->ref != NULL;
}

void
attrs_reset(attrs_ctx *x)
{
    sc_clear(x->ua_cache);
    sc_clear(x->ref_cache);
    x->ua_n = x->ref_n = 0;
    attrs_url_clear(x);
    if (x->tup_known)
        memset(x->tup_known, 0, x->tup_cap);
    memset(x->tup_idx, 0, (x->tup_mask + 1) * sizeof(*x->tup_idx));
    x->tup_n = 0;
    memset(x->chan, 0, ATTRS_CHAN * sizeof(*x->chan));
    memset(x->shorts, 0, ATTRS_SHORT * sizeof(*x->shorts));
    vmap_free(&x->props_map);
    x->pairs_n = x->props_n = 0;
}

void
attrs_stats(const attrs_ctx *x, uint64_t *ua_misses, uint64_t *ref_misses)
{
    if (ua_misses)
        *ua_misses = x->ua_misses;
    if (ref_misses)
        *ref_misses = x->ref_misses;
}

/* ---- user agent ---- */

static const ua_entry *
attrs_ua(attrs_ctx *x, db *d, const spool_str *ua)
{
    static const ua_entry none = { { 0, 0, 0, 0, 0 }, 0 };
    if (x->ua == NULL)
        return &none;
    const char *s = ua->ptr ? ua->ptr : "";
    size_t len = ua->ptr ? ua->len : 0;
    int64_t idx;
    if (sc_get(x->ua_cache, s, len, &idx) && (size_t)idx < x->ua_n)
        return &x->ua_v[idx];
    x->ua_misses++;
    const en_ua_result *r = en_ua_parse(x->ua, s, len);
    ua_entry e = { .bot = r->bot };
    const char *v[5] = { r->browser, r->browser_version, r->os, r->os_version,
                         r->device_name ? r->device_name : "" };
    for (int i = 0; i < 5; i++)
        if ((e.id[i] = db_string_id(d, v[i], strlen(v[i]))) < 0)
            return NULL;
    if (x->ua_n == ATTRS_CACHE) {
        sc_clear(x->ua_cache);
        x->ua_n = 0;
    }
    size_t n0 = sc_count(x->ua_cache);
    sc_put(x->ua_cache, s, len, (int64_t)x->ua_n);
    if (sc_count(x->ua_cache) < n0)        /* the cache cleared itself */
        x->ua_n = 0, sc_put(x->ua_cache, s, len, 0);
    x->ua_v[x->ua_n] = e;
    return &x->ua_v[x->ua_n++];
}

/* ---- referrer ---- */

/* The degraded classification without referers.json: source = host,
 * visit:referrer = host + path without a trailing '/'. */
static void
attrs_ref_fallback(const char *ref, size_t len, const char *page_host,
                   en_ref_result *out)
{
    memset(out, 0, sizeof(*out));
    out->direct = 1;
    out->medium = "";
    en_url_parts p;
    char host[EN_URL_HOST];
    if (ref == NULL || en_url_split(ref, len, &p) != 0
        || en_url_host(host, sizeof(host), p.host, p.host_len) < 0
        || strcmp(host, "localhost") == 0
        || (page_host && strcmp(host, page_host) == 0))
        return;
    out->direct = 0;
    out->medium = "referral";
    snprintf(out->source, sizeof(out->source), "%s", host);
    size_t pl = p.path_len;
    while (pl > 0 && p.path[pl - 1] == '/')
        pl--;
    snprintf(out->referrer, sizeof(out->referrer), "%s%.*s", host,
             (int)(pl < 1024 ? pl : 1024), p.path);
}

static const ref_entry *
attrs_ref(attrs_ctx *x, db *d, const spool_str *ref, const char *page_host)
{
    static const ref_entry direct = { 0, 0, "" };
    if (ref->ptr == NULL || ref->len == 0)
        return &direct;
    size_t hl = strlen(page_host);
    if (ref->len + hl + 1 > sizeof(x->scratch))
        return &direct;
    memcpy(x->scratch, ref->ptr, ref->len);
    x->scratch[ref->len] = '\x01';
    memcpy(x->scratch + ref->len + 1, page_host, hl);
    size_t kl = ref->len + 1 + hl;
    int64_t idx;
    if (sc_get(x->ref_cache, x->scratch, kl, &idx) && (size_t)idx < x->ref_n)
        return &x->ref_v[idx];
    x->ref_misses++;
    en_ref_result r;
    if (x->ref)
        en_ref_parse(x->ref, ref->ptr, ref->len, page_host, &r);
    else
        attrs_ref_fallback(ref->ptr, ref->len, page_host, &r);
    ref_entry e;
    memset(&e, 0, sizeof(e));
    if (!r.direct) {
        snprintf(e.name, sizeof(e.name), "%s", r.source);
        if ((e.source = db_string_id(d, r.source, strlen(r.source))) < 0
            || (e.referrer = db_string_id(d, r.referrer, strlen(r.referrer))) < 0)
            return NULL;
    }
    if (x->ref_n == ATTRS_CACHE || kl > SC_MAX_KEY) {
        if (kl > SC_MAX_KEY) {        /* not cacheable: answer once */
            x->ref_tmp = e;
            return &x->ref_tmp;
        }
        sc_clear(x->ref_cache);
        x->ref_n = 0;
    }
    size_t n0 = sc_count(x->ref_cache);
    sc_put(x->ref_cache, x->scratch, kl, (int64_t)x->ref_n);
    if (sc_count(x->ref_cache) < n0)
        x->ref_n = 0, sc_put(x->ref_cache, x->scratch, kl, 0);
    x->ref_v[x->ref_n] = e;
    return &x->ref_v[x->ref_n++];
}

/* ---- page URL ---- */

/* Appends str (with its NUL) to the block b at *n; returns its offset. */
static uint16_t
attrs_blob_add(char *b, size_t *n, const char *str)
{
    size_t l = strlen(str) + 1, at = *n;
    memcpy(b + at, str, l);
    *n += l;
    return (uint16_t)at;
}

/* The URL's pathname, hostname, UTM tags and tagged source, parsed once
 * per distinct URL string.  NULL on a database error. */
static const url_entry *
attrs_url(attrs_ctx *x, db *d, const spool_str *url)
{
    int64_t idx;
    if (sc_get(x->url_cache, url->ptr, url->len, &idx) && (size_t)idx < x->url_n)
        return &x->url_v[idx];
    static __thread en_url u;
    const char *path, *host;
    size_t path_len;
    if (en_url_parse(url->ptr, url->len, &u) == 0) {
        path = u.path;
        path_len = strlen(u.path);
        host = u.host;
    } else {                     /* not an http(s) URL: take it as a path */
        norm_url nu;
        norm_url_split(url->ptr, url->len, &nu);
        memset(&u, 0, sizeof(u));
        path = nu.path;
        path_len = nu.path_len;
        memcpy(u.host, nu.host, nu.host_len + 1);
        host = u.host;
    }
    url_entry e;
    memset(&e, 0, sizeof(e));
    if ((e.path = db_string_id(d, path, path_len)) < 0
        || (e.host = db_string_id(d, host, strlen(host))) < 0)
        return NULL;
    const char *source = "";
    if (u.tagged_source[0]) {
        /* a tagged source wins over the referrer (Plausible) */
        const char *known = x->ref ? en_ref_known_source(x->ref, u.tagged_source) : NULL;
        source = known ? known : u.tagged_source;
        e.tagged = 1;
        if ((e.tag = db_string_id(d, source, strlen(source))) < 0)
            return NULL;
    }
    const char *utm[5] = { u.utm_medium, u.utm_source, u.utm_campaign,
                           u.utm_content, u.utm_term };
    for (int i = 0; i < 5; i++)
        if ((e.utm[i] = db_string_id(d, utm[i], strlen(utm[i]))) < 0)
            return NULL;
    e.click_id = u.click_id;
    size_t need = strlen(host) + strlen(source) + strlen(u.utm_medium)
                  + strlen(u.utm_source) + strlen(u.utm_campaign) + 5, n = 0;
    if ((e.s = malloc(need)) == NULL)
        return NULL;
    attrs_blob_add(e.s, &n, host);
    e.o_src = attrs_blob_add(e.s, &n, source);
    e.o_med = attrs_blob_add(e.s, &n, u.utm_medium);
    e.o_usrc = attrs_blob_add(e.s, &n, u.utm_source);
    e.o_camp = attrs_blob_add(e.s, &n, u.utm_campaign);
    if (url->len > SC_MAX_KEY) {         /* not cacheable: answer once */
        free(x->url_tmp.s);
        x->url_tmp = e;
        return &x->url_tmp;
    }
    if (x->url_n == ATTRS_CACHE)
        attrs_url_clear(x);
    size_t n0 = sc_count(x->url_cache);
    sc_put(x->url_cache, url->ptr, url->len, (int64_t)x->url_n);
    if (sc_count(x->url_cache) < n0) {   /* the cache cleared itself */
        for (size_t i = 0; i < x->url_n; i++) {
            free(x->url_v[i].s);
            x->url_v[i].s = NULL;
        }
        x->url_n = 0;
        sc_put(x->url_cache, url->ptr, url->len, 0);
    }
    x->url_v[x->url_n] = e;
    return &x->url_v[x->url_n++];
}

/* ---- attribute tuples ---- */

static size_t
attrs_tup_hash(const int64_t *a)
{
    return (size_t)vmap_key(a, ATTR_COUNT);
}

static int
attrs_tup_remember(attrs_ctx *x, int64_t id, const int64_t *a)
{
    if (id <= 0 || id > INT32_MAX)
        return 0;                          /* not cacheable; still valid */
    if ((size_t)id >= x->tup_cap) {
        size_t ncap = x->tup_cap ? x->tup_cap : 1024;
        while (ncap <= (size_t)id)
            ncap *= 2;
        attrs_tuple_t *t = realloc(x->tup, ncap * sizeof(*t));
        if (t == NULL)
            return -1;
        x->tup = t;
        unsigned char *k = realloc(x->tup_known, ncap);
        if (k == NULL)
            return -1;
        memset(k + x->tup_cap, 0, ncap - x->tup_cap);
        x->tup_known = k;
        x->tup_cap = ncap;
    }
    if (x->tup_known[id])
        return 0;
    if ((x->tup_n + 1) * 2 > x->tup_mask + 1) {
        size_t ncap = (x->tup_mask + 1) * 2;
        uint32_t *ni = calloc(ncap, sizeof(*ni));
        if (ni == NULL)
            return -1;
        for (size_t i = 0; i <= x->tup_mask; i++) {
            uint32_t v = x->tup_idx[i];
            if (v == 0)
                continue;
            size_t j = attrs_tup_hash(x->tup[v].a) & (ncap - 1);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = v;
        }
        free(x->tup_idx);
        x->tup_idx = ni;
        x->tup_mask = ncap - 1;
    }
    memcpy(x->tup[id].a, a, sizeof(x->tup[id].a));
    x->tup_known[id] = 1;
    size_t j = attrs_tup_hash(a) & x->tup_mask;
    while (x->tup_idx[j])
        j = (j + 1) & x->tup_mask;
    x->tup_idx[j] = (uint32_t)id;
    x->tup_n++;
    return 0;
}

/* The id of tuple a (0 when every attribute is none). */
static int64_t
attrs_tup_id(attrs_ctx *x, db *d, const int64_t *a)
{
    int any = 0;
    for (int i = 0; i < ATTR_COUNT; i++)
        any |= a[i] != 0;
    if (!any)
        return 0;
    size_t j = attrs_tup_hash(a) & x->tup_mask;
    for (uint32_t v; (v = x->tup_idx[j]) != 0; j = (j + 1) & x->tup_mask)
        if (memcmp(x->tup[v].a, a, sizeof(x->tup[v].a)) == 0)
            return v;
    int64_t id = db_attrs_id(d, a);
    if (id < 0 || attrs_tup_remember(x, id, a) != 0)
        return -1;
    return id;
}

int
attrs_tuple(attrs_ctx *x, db *d, int64_t id, int64_t a[])
{
    if (id == 0) {
        memset(a, 0, ATTR_COUNT * sizeof(a[0]));
        return 0;
    }
    if (id > 0 && (size_t)id < x->tup_cap && x->tup_known[id]) {
        memcpy(a, x->tup[id].a, ATTR_COUNT * sizeof(a[0]));
        return 0;
    }
    if (db_attrs_get(d, id, a) != 1)
        return -1;
    return attrs_tup_remember(x, id, a);
}

/* ---- custom properties ---- */

static int
attrs_pair_add(attrs_ctx *x, int64_t k, int64_t v)
{
    if (x->pairs_n == x->pairs_cap) {
        size_t ncap = x->pairs_cap ? x->pairs_cap * 2 : 1024;
        attrs_prop *p = realloc(x->pairs, ncap * sizeof(*p));
        if (p == NULL)
            return -1;
        x->pairs = p;
        x->pairs_cap = ncap;
    }
    x->pairs[x->pairs_n++] = (attrs_prop){ k, v };
    return 0;
}

/* Parses the props JSON object into pairs appended to x->pairs. */
static int
attrs_props_parse(attrs_ctx *x, db *d, const char *json, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return 0;                 /* not an object: no properties */
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, k, v) {
        char *dump = NULL;
        const char *vs;
        size_t vl;
        if (json_is_string(v)) {
            vs = json_string_value(v);
            vl = json_string_length(v);
        } else if (json_is_null(v)) {
            continue;
        } else {
            dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            vs = dump ? dump : "";
            vl = strlen(vs);
        }
        int64_t kid = db_string_id(d, k, strlen(k));
        int64_t vid = kid >= 0 ? db_string_id(d, vs, vl) : -1;
        free(dump);
        if (kid < 0 || vid < 0 || attrs_pair_add(x, kid, vid) != 0) {
            rc = -1;
            break;
        }
    }
    json_decref(o);
    return rc;
}

int
attrs_props(attrs_ctx *x, db *d, int64_t props_id, const char *json,
            size_t len, const attrs_prop **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (props_id <= 0)
        return 0;
    uint64_t key = (uint64_t)props_id;        /* ids are > 0: never 0 */
    uint32_t at = vmap_get(&x->props_map, key);
    if (at != 0) {
        *out = x->pairs + x->props_at[at - 1];
        *n = x->props_cnt[at - 1];
        return 0;
    }
    if (x->props_n >= 65536 || x->pairs_n >= (1u << 20)) {
        vmap_free(&x->props_map);             /* bounded: start over */
        x->props_n = x->pairs_n = 0;
    }
    char *own = NULL;
    if (json == NULL) {
        if (db_string_get(d, props_id, &own) != 1)
            return -1;
        json = own;
        len = strlen(own);
    }
    size_t start = x->pairs_n;
    int rc = attrs_props_parse(x, d, json, len);
    free(own);
    if (rc != 0)
        return -1;
    if (x->props_n == x->props_cap) {
        size_t ncap = x->props_cap ? x->props_cap * 2 : 1024;
        uint32_t *a = realloc(x->props_at, ncap * sizeof(*a));
        if (a == NULL)
            return -1;
        x->props_at = a;
        uint32_t *c = realloc(x->props_cnt, ncap * sizeof(*c));
        if (c == NULL)
            return -1;
        x->props_cnt = c;
        x->props_cap = ncap;
    }
    x->props_at[x->props_n] = (uint32_t)start;
    x->props_cnt[x->props_n] = (uint32_t)(x->pairs_n - start);
    uint32_t *slot = vmap_slot(&x->props_map, key);
    if (slot == NULL)
        return -1;
    *slot = (uint32_t)++x->props_n;
    *out = x->pairs + start;
    *n = x->pairs_n - start;
    return 0;
}

/* ---- one event ---- */

/* db_string_id of (s, len), strings of up to 8 bytes answered from a
 * small direct-mapped cache (compared in full; attrs_reset empties it
 * with the dictionary). */
static int64_t
attrs_short_id(attrs_ctx *x, db *d, const char *s, size_t len)
{
    if (len == 0 || len > 8)
        return db_string_id(d, s, len);
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    short_entry *e = &x->shorts[((w + len) * 0x9e3779b97f4a7c15ull) >> 56
                                & (ATTRS_SHORT - 1)];
    if (e->id > 0 && e->w == w && e->len == len)
        return e->id;
    int64_t id = db_string_id(d, s, len);
    if (id > 0)
        *e = (short_entry){ .w = w, .id = id, .len = len };
    return id;
}

/* The string id of the channel of a visit from `source` (string id
 * a[ATTR_SOURCE]) landing on ue, or -1.  Computed once per distinct
 * input (the cache is keyed by the inputs' string ids, which identify
 * the strings exactly; attrs_reset empties it with the dictionary). */
static int64_t
attrs_channel(attrs_ctx *x, db *d, const char *source, const url_entry *ue,
              const int64_t *a)
{
    int64_t in[4] = { a[ATTR_SOURCE], ue->utm[0], ue->utm[1], ue->utm[2] };
    int64_t kv[5] = { in[0], in[1], in[2], in[3], (int64_t)(uintptr_t)ue->click_id };
    chan_entry *c = &x->chan[vmap_key(kv, 5) & (ATTRS_CHAN - 1)];
    if (c->channel > 0 && memcmp(c->in, in, sizeof(in)) == 0
        && c->click_id == ue->click_id)
        return c->channel;
    const char *utm_medium = ue->s + ue->o_med, *utm_source = ue->s + ue->o_usrc,
               *utm_campaign = ue->s + ue->o_camp;
    const char *channel = "Direct";
    if (source[0] || utm_medium[0] || utm_source[0] || utm_campaign[0]
        || ue->click_id) {
        en_channel_in ci = {
            .source = source,
            .source_category = x->ref ? en_ref_category(x->ref, source) : "",
            .utm_medium = utm_medium, .utm_source = utm_source,
            .utm_campaign = utm_campaign, .click_id = ue->click_id,
        };
        channel = en_channel(&ci);
    }
    int64_t id = db_string_id(d, channel, strlen(channel));
    if (id > 0) {
        memcpy(c->in, in, sizeof(in));
        c->click_id = ue->click_id;
        c->channel = id;
    }
    return id;
}

int
attrs_encode(attrs_ctx *x, db *d, const spool_event *e, attrs_event *o,
             const char **why)
{
    const spool_str *f = e->field;
    memset(o, 0, sizeof(*o));
    if (f[SPOOL_F_SITE].ptr == NULL || f[SPOOL_F_NAME].ptr == NULL
        || f[SPOOL_F_URL].ptr == NULL) {
        *why = "lacks site, name or url";
        return 0;
    }
    const ua_entry *ua = attrs_ua(x, d, &f[SPOOL_F_UA]);
    if (ua == NULL)
        return -1;
    if (ua->bot) {
        *why = "bot";
        return 0;
    }

    const url_entry *ue = attrs_url(x, d, &f[SPOOL_F_URL]);
    if (ue == NULL)
        return -1;
    const char *host = ue->s;
    o->pathname = ue->path;
    o->hostname = ue->host;
    if ((o->site = db_site_id(d, f[SPOOL_F_SITE].ptr, f[SPOOL_F_SITE].len)) < 0
        || (o->name = attrs_short_id(x, d, f[SPOOL_F_NAME].ptr, f[SPOOL_F_NAME].len)) < 0)
        return -1;
    o->pageview = f[SPOOL_F_NAME].len == 8
                  && memcmp(f[SPOOL_F_NAME].ptr, "pageview", 8) == 0;
    if (f[SPOOL_F_INTERACTIVE].ptr && f[SPOOL_F_INTERACTIVE].len == 1
        && f[SPOOL_F_INTERACTIVE].ptr[0] == '0')
        o->flags |= DB_EV_NONINTERACTIVE;
    if (f[SPOOL_F_PROPS].ptr && f[SPOOL_F_PROPS].len > 2
        && (o->props = db_string_id(d, f[SPOOL_F_PROPS].ptr, f[SPOOL_F_PROPS].len)) < 0)
        return -1;
    if (f[SPOOL_F_REVENUE].ptr
        && (o->revenue = db_string_id(d, f[SPOOL_F_REVENUE].ptr, f[SPOOL_F_REVENUE].len)) < 0)
        return -1;

    const ref_entry *r = attrs_ref(x, d, &f[SPOOL_F_REFERRER], host);
    if (r == NULL)
        return -1;
    int64_t *a = o->a;
    const char *source = r->name;
    a[ATTR_SOURCE] = r->source;
    a[ATTR_REFERRER] = r->referrer;
    if (ue->tagged) {
        /* a tagged source wins over the referrer (Plausible) */
        source = ue->s + ue->o_src;
        a[ATTR_SOURCE] = ue->tag;
    }
    for (int i = 0; i < 5; i++)
        a[ATTR_UTM_MEDIUM + i] = ue->utm[i];
    if ((a[ATTR_CHANNEL] = attrs_channel(x, d, source, ue, a)) < 0)
        return -1;
    const spool_str *c = &f[SPOOL_F_COUNTRY];
    if (c->ptr && (a[ATTR_COUNTRY] = attrs_short_id(x, d, c->ptr, c->len)) < 0)
        return -1;
    a[ATTR_BROWSER] = ua->id[0];
    a[ATTR_BROWSER_VERSION] = ua->id[1];
    a[ATTR_OS] = ua->id[2];
    a[ATTR_OS_VERSION] = ua->id[3];
    a[ATTR_DEVICE] = ua->id[4];
    if ((o->attrs = attrs_tup_id(x, d, a)) < 0)
        return -1;
    return 1;
}
