/*
 * enrich_uap.c -- uap-core's parser specification on PCRE2 (see
 * enrich_uap.h).
 *
 * uap.json (written by tools/gen-data.mjs):
 *   {"ua":     [{"re", "family"?, "v1"?, "v2"?, "v3"?}, ...],
 *    "os":     [{"re", "family"?, "v1"?, "v2"?, "v3"?, "v4"?}, ...],
 *    "device": [{"re", "flags"?: "i", "family"?}, ...],
 *    "bots":   ["pattern", ...]}
 * A missing replacement key means "use the regex group of the same rank"
 * (group 1 for the family, 2.. for the versions).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "aggregator/enrich_uap.h"

#include "aggregator/enrich_litidx.h"
#include "aggregator/enrich_relit.h"
#include "aggregator/enrich_text.h"

#include <ctype.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UAP_NREP 5            /* family + up to four version parts */
#define UAP_OVEC 10           /* groups 0..9: $1..$9 is all a replacement can name */
#define UAP_MATCH_LIMIT 200000

typedef struct {
    pcre2_code *re;           /* NULL only for bot patterns that are plain literals */
    char *rep[UAP_NREP];      /* NULL: no replacement given */
    int *lits;                /* pre-filter: literal id * 2 + caseless, requirement
                                 after requirement */
    int reqn[EN_RELIT_AND];   /* literals in each requirement; each needs one hit */
    int nreq;                 /* 0: no pre-filter, always run */
    int icase;
    int jit;                  /* JIT-compiled (on its first match: most
                                 rules never run, the pre-filter skips them) */
} uap_rule;

typedef struct {
    uap_rule *r;
    size_t n;
} uap_list;

struct en_uap {
    uap_list ua, os, dev;
    uap_list bots;            /* crawler patterns that are more than a literal */
    en_litidx *lit;           /* required literals of case-sensitive rules */
    en_litidx *lit_ci;        /* ... of caseless rules, lower-cased */
    en_litidx *lit_bots;      /* crawler patterns that are plain literals */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    int prefilter;
    unsigned long errors;
    char lower[EN_UAP_MAX_INPUT];   /* lower-cased input for caseless pre-filters */
};

static void
uap_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static pcre2_code *
uap_compile(const char *re, int icase, const char *what, size_t idx,
            char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                     icase ? PCRE2_CASELESS : 0, &ec, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        uap_err(err, errlen, "uap: %s rule %zu: regex error at offset %zu: %s",
                what, idx, (size_t)off, (const char *)msg);
        return NULL;
    }
    return code;
}

/* Registers the rule's required literals (if any) with the right index. */
static int
uap_add_literals(en_uap *db, uap_rule *r, const char *re)
{
    en_relit_req *req = malloc(sizeof *req);
    size_t total = 0, k = 0;
    r->nreq = 0;
    if (!req) return -1;
    if (en_relit(re, req, NULL) == 0) {
        free(req);
        return 0;
    }
    /* smallest sets first: a miss is usually decided by one lookup */
    for (size_t i = 1; i < req->n; i++)
        for (size_t j = i; j > 0 && req->set[j].n < req->set[j - 1].n; j--) {
            en_relit_set *t = malloc(sizeof *t);
            if (!t) break;                       /* order is only for speed */
            *t = req->set[j];
            req->set[j] = req->set[j - 1];
            req->set[j - 1] = *t;
            free(t);
        }
    for (size_t i = 0; i < req->n; i++) total += req->set[i].n;
    if (!(r->lits = malloc(total * sizeof *r->lits))) {
        free(req);
        return -1;
    }
    for (size_t i = 0; i < req->n; i++) {
        en_relit_set *set = &req->set[i];
        for (size_t j = 0; j < set->n; j++) {
            int ci = r->icase || set->ci[j];
            if (ci)
                for (size_t b = 0; b < set->len[j]; b++)
                    set->lit[j][b] = (char)tolower((unsigned char)set->lit[j][b]);
            int id = en_li_add(ci ? db->lit_ci : db->lit, set->lit[j], set->len[j]);
            if (id < 0) {
                free(req);
                return -1;
            }
            r->lits[k++] = id * 2 + ci;
        }
        r->reqn[r->nreq++] = (int)set->n;
    }
    free(req);
    return 0;
}

static int
uap_load_list(en_uap *db, json_t *root, const char *key, const char *const repkeys[UAP_NREP],
              uap_list *list, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, key);
    if (!json_is_array(arr)) {
        uap_err(err, errlen, "uap: \"%s\" is not an array", key);
        return -1;
    }
    list->n = 0;
    list->r = calloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof *list->r);
    if (!list->r) { uap_err(err, errlen, "uap: out of memory"); return -1; }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        const char *re = json_string_value(json_object_get(o, "re"));
        if (!re) {
            uap_err(err, errlen, "uap: %s rule %zu has no \"re\" string", key, i);
            return -1;
        }
        uap_rule *r = &list->r[list->n++];
        const char *flags = json_string_value(json_object_get(o, "flags"));
        r->icase = flags && strchr(flags, 'i');
        for (int k = 0; k < UAP_NREP; k++) {
            const char *v = repkeys[k] ? json_string_value(json_object_get(o, repkeys[k])) : NULL;
            if (v && !(r->rep[k] = strdup(v))) {
                uap_err(err, errlen, "uap: out of memory");
                return -1;
            }
        }
        if (!(r->re = uap_compile(re, r->icase, key, i, err, errlen))) return -1;
        if (uap_add_literals(db, r, re)) {
            uap_err(err, errlen, "uap: out of memory");
            return -1;
        }
    }
    return 0;
}

/* Crawler patterns that are plain literals go into lit_bots (a hit is a
 * match); the others become rules, pre-filtered like the uap-core ones. */
static int
uap_load_bots_into(en_uap *db, json_t *root, en_relit_req *req, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, "bots");
    if (!json_is_array(arr)) {
        uap_err(err, errlen, "uap: \"bots\" is not an array");
        return -1;
    }
    db->bots.r = calloc(json_array_size(arr) + 1, sizeof *db->bots.r);
    if (!db->bots.r) { uap_err(err, errlen, "uap: out of memory"); return -1; }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *p = json_string_value(json_array_get(arr, i));
        if (!p) { uap_err(err, errlen, "uap: bot pattern %zu is not a string", i); return -1; }
        int exact = 0;
        if (!req) { uap_err(err, errlen, "uap: out of memory"); return -1; }
        en_relit(p, req, &exact);
        if (exact) {
            if (en_li_add(db->lit_bots, req->set[0].lit[0], req->set[0].len[0]) < 0) {
                uap_err(err, errlen, "uap: out of memory");
                return -1;
            }
            continue;
        }
        uap_rule *r = &db->bots.r[db->bots.n++];
        if (!(r->re = uap_compile(p, 0, "bots", i, err, errlen))) return -1;
        if (uap_add_literals(db, r, p)) {
            uap_err(err, errlen, "uap: out of memory");
            return -1;
        }
    }
    return 0;
}

static int
uap_load_bots(en_uap *db, json_t *root, char *err, size_t errlen)
{
    en_relit_req *req = malloc(sizeof *req);   /* ~40 KiB: not on the stack */
    int rc = uap_load_bots_into(db, root, req, err, errlen);
    free(req);
    return rc;
}

en_uap *
en_uap_load(const char *json_path, char *err, size_t errlen)
{
    static const char *const ua_keys[UAP_NREP] = { "family", "v1", "v2", "v3", NULL };
    static const char *const os_keys[UAP_NREP] = { "family", "v1", "v2", "v3", "v4" };
    static const char *const dev_keys[UAP_NREP] = { "family", NULL, NULL, NULL, NULL };
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    if (!root) {
        uap_err(err, errlen, "uap: %s: %s (line %d)", json_path, jerr.text, jerr.line);
        return NULL;
    }
    en_uap *db = calloc(1, sizeof *db);
    if (!db) {
        json_decref(root);
        uap_err(err, errlen, "uap: out of memory");
        return NULL;
    }
    db->prefilter = 1;
    db->lit = en_li_new();
    db->lit_ci = en_li_new();
    db->lit_bots = en_li_new();
    int bad;
    if (!db->lit || !db->lit_ci || !db->lit_bots) {
        uap_err(err, errlen, "uap: out of memory");
        bad = 1;
    } else if (!json_is_object(root)) {
        uap_err(err, errlen, "uap: %s: not a JSON object", json_path);
        bad = 1;
    } else {
        bad = uap_load_list(db, root, "ua", ua_keys, &db->ua, err, errlen)
            || uap_load_list(db, root, "os", os_keys, &db->os, err, errlen)
            || uap_load_list(db, root, "device", dev_keys, &db->dev, err, errlen)
            || uap_load_bots(db, root, err, errlen);
        if (!bad && (en_li_build(db->lit) || en_li_build(db->lit_ci)
                     || en_li_build(db->lit_bots))) {
            uap_err(err, errlen, "uap: out of memory");
            bad = 1;
        }
    }
    json_decref(root);
    if (!bad) {
        db->md = pcre2_match_data_create(UAP_OVEC, NULL);
        db->mctx = pcre2_match_context_create(NULL);
        db->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
        if (!db->md || !db->mctx) {
            uap_err(err, errlen, "uap: out of memory");
            bad = 1;
        } else {
            pcre2_set_match_limit(db->mctx, UAP_MATCH_LIMIT);
            if (db->jit) pcre2_jit_stack_assign(db->mctx, NULL, db->jit);
        }
    }
    if (bad) {
        en_uap_free(db);
        return NULL;
    }
    return db;
}

/* Runs one rule.  Returns the number of usable ovector pairs, 0 if no match. */
static int
uap_try(en_uap *db, uap_rule *r, const char *s, size_t n)
{
    if (db->prefilter && r->nreq) {
        const int *id = r->lits;
        for (int q = 0; q < r->nreq; id += r->reqn[q], q++) {
            int k = 0;
            while (k < r->reqn[q]
                   && !en_li_hit(id[k] & 1 ? db->lit_ci : db->lit, id[k] >> 1))
                k++;
            if (k == r->reqn[q]) return 0;     /* no literal of this requirement */
        }
    }
    if (!r->jit) {
        (void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);  /* interpreter if no JIT */
        r->jit = 1;
    }
    int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, 0, 0, db->md, db->mctx);
    if (rc == 0) return UAP_OVEC;               /* more groups than we keep */
    if (rc > 0) return rc;
    if (rc != PCRE2_ERROR_NOMATCH) db->errors++;
    return 0;
}

/* Copies group k (or "" if it did not take part) into dst. */
static void
uap_group(const char *s, const PCRE2_SIZE *ov, int rc, int k, char *dst, size_t cap)
{
    if (k < rc && ov[2 * k] != PCRE2_UNSET)
        en_text_copy(dst, cap, s + ov[2 * k], ov[2 * k + 1] - ov[2 * k]);
    else
        dst[0] = '\0';
}

/* Writes rep with $1..$9 replaced by the groups into dst. */
static void
uap_subst(const char *rep, const char *s, const PCRE2_SIZE *ov, int rc,
          char *dst, size_t cap)
{
    char buf[512];
    size_t o = 0;
    for (const char *p = rep; *p && o < sizeof buf; p++) {
        if (p[0] == '$' && p[1] >= '1' && p[1] <= '9') {
            int k = p[1] - '0';
            p++;
            if (k < rc && ov[2 * k] != PCRE2_UNSET) {
                size_t len = ov[2 * k + 1] - ov[2 * k];
                if (len > sizeof buf - o) len = sizeof buf - o;
                memcpy(buf + o, s + ov[2 * k], len);
                o += len;
            }
        } else {
            buf[o++] = *p;
        }
    }
    en_text_copy(dst, cap, buf, o);
}

/* Field k of a matched rule: its replacement if given, else group k+1. */
static void
uap_field(const uap_rule *r, int k, const char *s, const PCRE2_SIZE *ov, int rc,
          char *dst, size_t cap)
{
    if (r->rep[k]) uap_subst(r->rep[k], s, ov, rc, dst, cap);
    else uap_group(s, ov, rc, k + 1, dst, cap);
}

/* First matching rule of list, or NULL; *rc gets its ovector count. */
static const uap_rule *
uap_first(en_uap *db, const uap_list *l, const char *s, size_t n, int *rc)
{
    for (size_t i = 0; i < l->n; i++)
        if ((*rc = uap_try(db, &l->r[i], s, n)) > 0) return &l->r[i];
    return NULL;
}

void
en_uap_parse(en_uap *db, const char *ua, size_t len, en_uap_raw *out)
{
    int rc;
    const uap_rule *r;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(db->md);
    memset(out, 0, sizeof *out);
    if (!ua) len = 0;
    if (len > EN_UAP_MAX_INPUT) len = EN_UAP_MAX_INPUT;
    const char *s = ua ? ua : "";
    for (size_t i = 0; i < len; i++) db->lower[i] = (char)tolower((unsigned char)s[i]);
    if (db->prefilter) {
        en_li_scan(db->lit, s, len);
        en_li_scan(db->lit_ci, db->lower, len);
    }

    if ((r = uap_first(db, &db->ua, s, len, &rc))) {
        char *dst[4] = { out->ua_family, out->ua_major, out->ua_minor, out->ua_patch };
        size_t cap[4] = { EN_UAP_STR, EN_UAP_VER, EN_UAP_VER, EN_UAP_VER };
        for (int k = 0; k < 4; k++) uap_field(r, k, s, ov, rc, dst[k], cap[k]);
    }
    if (!out->ua_family[0]) strcpy(out->ua_family, "Other");

    if ((r = uap_first(db, &db->os, s, len, &rc))) {
        char *dst[5] = { out->os_family, out->os_major, out->os_minor, out->os_patch,
                         out->os_patch_minor };
        size_t cap[5] = { EN_UAP_STR, EN_UAP_VER, EN_UAP_VER, EN_UAP_VER, EN_UAP_VER };
        for (int k = 0; k < 5; k++) uap_field(r, k, s, ov, rc, dst[k], cap[k]);
    }
    if (!out->os_family[0]) strcpy(out->os_family, "Other");

    if ((r = uap_first(db, &db->dev, s, len, &rc)))
        uap_field(r, 0, s, ov, rc, out->device_family, EN_UAP_STR);
    if (!out->device_family[0]) strcpy(out->device_family, "Other");

    out->crawler = en_li_scan(db->lit_bots, s, len) > 0
        || uap_first(db, &db->bots, s, len, &rc) != NULL;
}

void
en_uap_set_prefilter(en_uap *db, int on)
{
    db->prefilter = on != 0;
}

void
en_uap_rule_counts(const en_uap *db, size_t *rules, size_t *with_literal)
{
    const uap_list *ls[3] = { &db->ua, &db->os, &db->dev };
    size_t n = 0, lit = 0;
    for (int i = 0; i < 3; i++) {
        n += ls[i]->n;
        for (size_t k = 0; k < ls[i]->n; k++) lit += ls[i]->r[k].nreq > 0;
    }
    if (rules) *rules = n;
    if (with_literal) *with_literal = lit;
}

unsigned long
en_uap_match_errors(const en_uap *db)
{
    return db->errors;
}

static void
uap_free_list(uap_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        pcre2_code_free(l->r[i].re);
        free(l->r[i].lits);
        for (int k = 0; k < UAP_NREP; k++) free(l->r[i].rep[k]);
    }
    free(l->r);
}

void
en_uap_free(en_uap *db)
{
    if (!db) return;
    uap_free_list(&db->ua);
    uap_free_list(&db->os);
    uap_free_list(&db->dev);
    uap_free_list(&db->bots);
    en_li_free(db->lit);
    en_li_free(db->lit_ci);
    en_li_free(db->lit_bots);
    pcre2_match_data_free(db->md);
    pcre2_match_context_free(db->mctx);
    pcre2_jit_stack_free(db->jit);
    free(db);
}
