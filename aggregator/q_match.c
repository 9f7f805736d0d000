/* q_match.c -- see q_match.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "aggregator/q_match.h"

#include <jansson.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QM_MATCH_LIMIT 200000u     /* PCRE2 backtracking steps per subject */
#define QM_DEPTH_LIMIT 2000u

typedef struct {
    enum qm_kind kind;
    int          ci, country;
    char       **cl;
    size_t      *cllen;
    size_t       n;
    pcre2_code **re;
} qm_one;

struct qm_set {
    qm_one            *m;
    size_t             n, cap;
    pcre2_match_data  *md;
    pcre2_match_context *mc;
    char               err[320];
};

qm_set *
qm_new(void)
{
    qm_set *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->md = pcre2_match_data_create(4, NULL);
    m->mc = pcre2_match_context_create(NULL);
    if (m->md == NULL || m->mc == NULL) {
        qm_free(m);
        return NULL;
    }
    pcre2_set_match_limit(m->mc, QM_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mc, QM_DEPTH_LIMIT);
    return m;
}

void
qm_free(qm_set *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        qm_one *o = &m->m[i];
        for (size_t j = 0; j < o->n; j++) {
            free(o->cl[j]);
            if (o->re)
                pcre2_code_free(o->re[j]);
        }
        free(o->cl);
        free(o->cllen);
        free(o->re);
    }
    free(m->m);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    free(m);
}

int
qm_add(qm_set *m, enum qm_kind kind, const char *const *clauses, size_t n,
       int ci, int country_name, char *err, size_t errlen)
{
    if (m->n == m->cap) {
        size_t c = m->cap ? m->cap * 2 : 8;
        qm_one *p = realloc(m->m, c * sizeof(*p));
        if (p == NULL)
            goto oom;
        m->m = p;
        m->cap = c;
    }
    qm_one *o = &m->m[m->n];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->ci = ci;
    o->country = country_name;
    o->cl = calloc(n ? n : 1, sizeof(char *));
    o->cllen = calloc(n ? n : 1, sizeof(size_t));
    if (kind == QM_MATCHES)
        o->re = calloc(n ? n : 1, sizeof(pcre2_code *));
    if (o->cl == NULL || o->cllen == NULL || (kind == QM_MATCHES && o->re == NULL))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        o->cl[i] = strdup(clauses[i]);
        if (o->cl[i] == NULL)
            goto fail;
        o->cllen[i] = strlen(clauses[i]);
        o->n = i + 1;
        if (kind == QM_MATCHES) {
            int ec;
            PCRE2_SIZE eo;
            o->re[i] = pcre2_compile((PCRE2_SPTR)clauses[i], o->cllen[i],
                                     PCRE2_UTF | (ci ? PCRE2_CASELESS : 0),
                                     &ec, &eo, NULL);
            if (o->re[i] == NULL) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(ec, msg, sizeof msg);
                snprintf(err, errlen, "invalid regular expression: %s", (char *)msg);
                goto fail_one;
            }
            pcre2_jit_compile(o->re[i], PCRE2_JIT_COMPLETE);  /* best effort */
        }
    }
    return (int)m->n++;
fail:
    snprintf(err, errlen, "out of memory");
fail_one:
    for (size_t j = 0; j < o->n; j++) {
        free(o->cl[j]);
        if (o->re)
            pcre2_code_free(o->re[j]);
    }
    free(o->cl);
    free(o->cllen);
    free(o->re);
    return -1;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* ASCII case-insensitive search of needle in hay. */
static int
qm_contains_ci(const char *hay, size_t hl, const char *nd, size_t nl)
{
    if (nl == 0)
        return 1;
    for (size_t i = 0; i + nl <= hl; i++)
        if (strncasecmp(hay + i, nd, nl) == 0)
            return 1;
    return 0;
}

static int
qm_contains(const char *hay, size_t hl, const char *nd, size_t nl)
{
    if (nl == 0)
        return 1;
    if (nl > hl)
        return 0;
    return memmem(hay, hl, nd, nl) != NULL;
}

/* Recursive matcher for * (no '/') and ** (anything); bounded by the
 * pattern length (patterns come from the goals table, <= 2000 bytes),
 * memoised per call would be overkill: patterns have few stars. */
static int
qm_glob_at(const char *p, const char *s, const char *end, int budget)
{
    if (budget <= 0)
        return 0;
    while (*p) {
        if (p[0] == '*') {
            int dbl = p[1] == '*';
            const char *rest = p + (dbl ? 2 : 1);
            for (const char *t = s;; t++) {
                if (qm_glob_at(rest, t, end, budget - 1))
                    return 1;
                if (t == end || (!dbl && *t == '/'))
                    return 0;
            }
        }
        if (s == end || *p != *s)
            return 0;
        p++;
        s++;
    }
    return s == end;
}

int
qm_glob(const char *pat, const char *path, size_t len)
{
    return qm_glob_at(pat, path, path + len, 10000);
}

int
qm_match(qm_set *m, int fid, const char *s, size_t len)
{
    if (fid < 0 || (size_t)fid >= m->n || s == NULL)
        return 0;
    qm_one *o = &m->m[fid];
    if (o->country) {
        char code[3];
        if (len != 2)
            return 0;
        memcpy(code, s, 2);
        code[2] = '\0';
        const char *nm = qm_country_name(code);
        if (nm == NULL)
            return 0;
        s = nm;
        len = strlen(nm);
    }
    for (size_t i = 0; i < o->n; i++) {
        const char *c = o->cl[i];
        size_t cl = o->cllen[i];
        switch (o->kind) {
        case QM_IS:
            if (cl == len && (o->ci ? strncasecmp(c, s, len) == 0
                                    : memcmp(c, s, len) == 0))
                return 1;
            break;
        case QM_CONTAINS:
            if (o->ci ? qm_contains_ci(s, len, c, cl) : qm_contains(s, len, c, cl))
                return 1;
            break;
        case QM_GLOB:
            if (qm_glob(c, s, len))
                return 1;
            break;
        case QM_MATCHES: {
            int rc = pcre2_match(o->re[i], (PCRE2_SPTR)s, len, 0, 0, m->md, m->mc);
            if (rc >= 0)
                return 1;
            if (rc != PCRE2_ERROR_NOMATCH && m->err[0] == '\0')
                snprintf(m->err, sizeof m->err, "Invalid filters. The regular"
                         " expression `%.200s` is too expensive to evaluate.", c);
            break;
        }
        }
    }
    return 0;
}

const char *
qm_error(const qm_set *m)
{
    return m->err[0] ? m->err : NULL;
}

/* ---- country names ---- */

static json_t *qm_countries;       /* {"DE": "Germany", ...} */
static pthread_once_t qm_country_once = PTHREAD_ONCE_INIT;

static void
qm_country_load(void)
{
    const char *path = getenv("TALLY_ISO_3166_JSON");
    if (path == NULL)
        path = "/usr/share/iso-codes/json/iso_3166-1.json";
    json_t *root = json_load_file(path, 0, NULL);
    json_t *map = json_object();
    json_t *list = root ? json_object_get(root, "3166-1") : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        json_t *code = json_object_get(e, "alpha_2");
        json_t *nm = json_object_get(e, "common_name");
        if (!json_is_string(nm))
            nm = json_object_get(e, "name");
        if (json_is_string(code) && json_is_string(nm))
            json_object_set(map, json_string_value(code), nm);
    }
    json_decref(root);
    qm_countries = map;
}

const char *
qm_country_name(const char *code)
{
    pthread_once(&qm_country_once, qm_country_load);
    json_t *v = qm_countries ? json_object_get(qm_countries, code) : NULL;
    return v ? json_string_value(v) : NULL;
}
