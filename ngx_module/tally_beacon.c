/*
 * tally_beacon.c -- parsing and validation of event beacons (see
 * tally_beacon.h for the rules).  Plain C, no NGINX types, no JSON
 * library: a strict validating pass over the whole body (pass 1, any
 * violation is "invalid JSON", as a strict parser would say first) and an
 * extracting pass over the now known-good text (pass 2) that reads only the
 * fields a beacon has.  Strings without escapes are used in place; the rest
 * (decoded strings, lower-cased sites, props and revenue text, the events)
 * goes into one block of memory sized from the body length up front
 * (tb_scratch_size), so a parse makes no allocation when the caller gives
 * scratch memory.
 */

#include "ngx_module/tally_beacon.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* longest text of a number: "%.17g" of a double, or a 64-bit integer */
#define TB_NUM_MAX    40

/* deepest nesting of arrays and objects accepted (as jansson) */
#define TB_MAX_DEPTH  2048

/* objects with more keys than this are checked for duplicates by sorting */
#define TB_DUP_LINEAR 16


/* a key of an object being validated: its decoded text */
typedef struct {
    const char  *p;
    size_t       len;
} tb_key;


typedef struct {
    /* permanent memory: what the events point into */
    char        *mem;
    size_t       used;
    size_t       cap;

    /* pass 1 scratch: a stack of the keys of the open objects, and the
     * decoded text of keys that hold escapes */
    tb_key      *keys;
    size_t       nkeys;
    size_t       capkeys;
    char        *kbuf;
    size_t       kused;
    size_t       kcap;

    const char  *end;
    int          depth;
    const char  *err;
} tb_ctx;


/* one object of the body, validated, before it becomes spool events */
typedef struct {
    spool_str  name;
    spool_str  url;
    spool_str  referrer;
    spool_str  props;
    spool_str  revenue;
    int        interactive;
    size_t     ndomains;
    spool_str  domain[TB_MAX_DOMAINS];
} tb_obj;


static void *
tb_alloc(tb_ctx *c, size_t n)
{
    char  *p;

    n = (n + 7) & ~(size_t) 7;
    if (c->cap - c->used < n) {
        return NULL;
    }
    p = c->mem + c->used;
    c->used += n;
    return p;
}


size_t
tb_scratch_size(size_t len)
{
    size_t  nev;

    nev = len / 2 + 1;
    if (nev > SPOOL_MAX_EVENTS) {
        nev = SPOOL_MAX_EVENTS;
    }

    return 16 * len + 8192 + nev * sizeof(spool_event) + 64
           + (len / 4 + 8) * sizeof(tb_key) + len + 64;
}


static void
tb_ctx_init(tb_ctx *c, char *mem, size_t len)
{
    size_t  nev, perm;

    memset(c, 0, sizeof(*c));

    nev = len / 2 + 1;
    if (nev > SPOOL_MAX_EVENTS) {
        nev = SPOOL_MAX_EVENTS;
    }

    perm = 16 * len + 8192 + nev * sizeof(spool_event) + 64;
    perm = (perm + 7) & ~(size_t) 7;

    c->mem = mem;
    c->cap = perm;
    c->keys = (tb_key *) (mem + perm);
    c->capkeys = len / 4 + 8;
    c->kbuf = (char *) (c->keys + c->capkeys);
    c->kcap = len + 64;
}


/* ---- pass 1: strict validation ------------------------------------------ */

static const char *
tb_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}


static int
tb_hex4(const char *p, const char *end, unsigned *out)
{
    unsigned  v = 0;
    int       i;
    char      c;

    if (end - p < 4) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned) (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned) (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned) (c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}


/* length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0 */
static size_t
tb_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char  c = p[0], lo = 0x80, hi = 0xBF;
    size_t         n, i;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;                          /* no surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;                          /* <= U+10FFFF */
        }
    } else {
        return 0;
    }

    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}


/*
 * Validates the string starting at *pp (on the opening quote) and moves
 * *pp past the closing one.  Sets *raw and *rawlen to the bytes between the
 * quotes and *esc when they hold escapes.  Returns 0 or -1.
 */
static int
tb_v_string(tb_ctx *c, const char **pp, const char **raw, size_t *rawlen,
    int *esc)
{
    const char  *p = *pp + 1, *end = c->end;
    unsigned     cp, lo;
    size_t       n;

    *esc = 0;
    *raw = p;

    while (p < end) {
        unsigned char ch = (unsigned char) *p;

        if (ch == '"') {
            *rawlen = (size_t) (p - *raw);
            *pp = p + 1;
            return 0;
        }

        if (ch == '\\') {
            *esc = 1;
            if (end - p < 2) {
                return -1;
            }
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                continue;
            case 'u':
                if (tb_hex4(p + 2, end, &cp) != 0) {
                    return -1;
                }
                p += 6;
                if (cp == 0) {
                    return -1;                  /* no NUL */
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return -1;                  /* lone low surrogate */
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                        || tb_hex4(p + 2, end, &lo) != 0
                        || lo < 0xDC00 || lo > 0xDFFF)
                    {
                        return -1;
                    }
                    p += 6;
                }
                continue;
            default:
                return -1;
            }
        }

        if (ch < 0x20) {
            return -1;
        }

        if (ch < 0x80) {
            p++;
            continue;
        }

        n = tb_utf8_len((const unsigned char *) p, (const unsigned char *) end);
        if (n == 0) {
            return -1;
        }
        p += n;
    }

    return -1;
}


static void
tb_put_utf8(char **o, unsigned cp)
{
    char  *q = *o;

    if (cp < 0x80) {
        *q++ = (char) cp;
    } else if (cp < 0x800) {
        *q++ = (char) (0xC0 | (cp >> 6));
        *q++ = (char) (0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *q++ = (char) (0xE0 | (cp >> 12));
        *q++ = (char) (0x80 | ((cp >> 6) & 0x3F));
        *q++ = (char) (0x80 | (cp & 0x3F));
    } else {
        *q++ = (char) (0xF0 | (cp >> 18));
        *q++ = (char) (0x80 | ((cp >> 12) & 0x3F));
        *q++ = (char) (0x80 | ((cp >> 6) & 0x3F));
        *q++ = (char) (0x80 | (cp & 0x3F));
    }
    *o = q;
}


/* Decodes the validated raw string bytes (escapes) into out, which has
 * room for rawlen bytes (decoding never grows).  Returns the length. */
static size_t
tb_decode(const char *raw, size_t rawlen, char *out)
{
    const char  *p = raw, *end = raw + rawlen;
    char        *o = out;
    unsigned     cp, lo;

    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        switch (p[1]) {
        case 'b': *o++ = '\b'; p += 2; continue;
        case 'f': *o++ = '\f'; p += 2; continue;
        case 'n': *o++ = '\n'; p += 2; continue;
        case 'r': *o++ = '\r'; p += 2; continue;
        case 't': *o++ = '\t'; p += 2; continue;
        case 'u':
            (void) tb_hex4(p + 2, end, &cp);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                (void) tb_hex4(p + 2, end, &lo);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            tb_put_utf8(&o, cp);
            continue;
        default:                                /* " \ / */
            *o++ = p[1];
            p += 2;
            continue;
        }
    }

    return (size_t) (o - out);
}


/* a number token: grammar, and range as jansson checks it */
static int
tb_v_number(tb_ctx *c, const char **pp)
{
    const char  *p = *pp, *start = *pp, *end = c->end;
    char         local[64], *text, *stop;
    int          real = 0, rc = 0;
    size_t       n;
    double       d;

    if (p < end && *p == '-') {
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') {
        return -1;
    }
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9') {
            return -1;
        }
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < end && *p == '.') {
        real = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= end || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    n = (size_t) (p - start);
    text = local;
    if (n >= sizeof(local)) {
        text = malloc(n + 1);
        if (text == NULL) {
            return -1;
        }
    }
    memcpy(text, start, n);
    text[n] = '\0';

    errno = 0;
    if (!real) {
        (void) strtoll(text, &stop, 10);
        if (errno == ERANGE) {
            rc = -1;
        }
    } else {
        d = strtod(text, &stop);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) {
            rc = -1;
        }
    }

    if (text != local) {
        free(text);
    }

    *pp = p;
    return rc;
}


static int
tb_key_cmp(const void *a, const void *b)
{
    const tb_key  *x = a, *y = b;
    int            r;

    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    r = memcmp(x->p, y->p, x->len);
    return r;
}


/* 1 if keys[from..nkeys) hold a duplicate */
static int
tb_dup_keys(tb_ctx *c, size_t from)
{
    size_t   i, j, n = c->nkeys - from;
    tb_key  *k = c->keys + from;

    if (n <= TB_DUP_LINEAR) {
        for (i = 1; i < n; i++) {
            for (j = 0; j < i; j++) {
                if (k[i].len == k[j].len
                    && memcmp(k[i].p, k[j].p, k[i].len) == 0)
                {
                    return 1;
                }
            }
        }
        return 0;
    }

    qsort(k, n, sizeof(tb_key), tb_key_cmp);
    for (i = 1; i < n; i++) {
        if (tb_key_cmp(&k[i - 1], &k[i]) == 0) {
            return 1;
        }
    }
    return 0;
}


static int tb_v_value(tb_ctx *c, const char **pp);


static int
tb_v_object(tb_ctx *c, const char **pp)
{
    const char  *p = *pp + 1, *raw;
    size_t       from, kmark, rawlen;
    int          esc;
    tb_key      *k;

    from = c->nkeys;
    kmark = c->kused;

    p = tb_ws(p, c->end);
    if (p < c->end && *p == '}') {
        *pp = p + 1;
        return 0;
    }

    for ( ;; ) {
        if (p >= c->end || *p != '"' || tb_v_string(c, &p, &raw, &rawlen, &esc)
                                        != 0)
        {
            return -1;
        }

        if (c->nkeys == c->capkeys) {
            return -1;                          /* cannot happen: sized */
        }
        k = &c->keys[c->nkeys++];
        if (esc) {
            if (c->kcap - c->kused < rawlen) {
                return -1;
            }
            k->p = c->kbuf + c->kused;
            k->len = tb_decode(raw, rawlen, c->kbuf + c->kused);
            c->kused += k->len;
        } else {
            k->p = raw;
            k->len = rawlen;
        }

        p = tb_ws(p, c->end);
        if (p >= c->end || *p != ':') {
            return -1;
        }
        p = tb_ws(p + 1, c->end);
        if (tb_v_value(c, &p) != 0) {
            return -1;
        }
        p = tb_ws(p, c->end);
        if (p < c->end && *p == ',') {
            p = tb_ws(p + 1, c->end);
            continue;
        }
        if (p < c->end && *p == '}') {
            break;
        }
        return -1;
    }

    if (tb_dup_keys(c, from)) {
        return -1;
    }

    c->nkeys = from;
    c->kused = kmark;
    *pp = p + 1;
    return 0;
}


static int
tb_v_array(tb_ctx *c, const char **pp)
{
    const char  *p = *pp + 1;

    p = tb_ws(p, c->end);
    if (p < c->end && *p == ']') {
        *pp = p + 1;
        return 0;
    }

    for ( ;; ) {
        if (tb_v_value(c, &p) != 0) {
            return -1;
        }
        p = tb_ws(p, c->end);
        if (p < c->end && *p == ',') {
            p = tb_ws(p + 1, c->end);
            continue;
        }
        if (p < c->end && *p == ']') {
            *pp = p + 1;
            return 0;
        }
        return -1;
    }
}


static int
tb_literal(const char **pp, const char *end, const char *lit, size_t n)
{
    if ((size_t) (end - *pp) < n || memcmp(*pp, lit, n) != 0) {
        return -1;
    }
    *pp += n;
    return 0;
}


static int
tb_v_value(tb_ctx *c, const char **pp)
{
    const char  *raw;
    size_t       rawlen;
    int          esc, rc;

    if (*pp >= c->end) {
        return -1;
    }

    switch (**pp) {
    case '{':
    case '[':
        if (++c->depth > TB_MAX_DEPTH) {
            return -1;
        }
        rc = (**pp == '{') ? tb_v_object(c, pp) : tb_v_array(c, pp);
        c->depth--;
        return rc;
    case '"':
        return tb_v_string(c, pp, &raw, &rawlen, &esc);
    case 't':
        return tb_literal(pp, c->end, "true", 4);
    case 'f':
        return tb_literal(pp, c->end, "false", 5);
    case 'n':
        return tb_literal(pp, c->end, "null", 4);
    default:
        return tb_v_number(c, pp);
    }
}


/* pass 1 over a whole document: 0 if it is valid JSON */
static int
tb_validate(tb_ctx *c, const char *p, size_t len)
{
    const char  *end = p + len;

    if (memchr(p, '\0', len) != NULL) {
        return -1;
    }

    c->end = end;
    c->depth = 0;
    c->nkeys = 0;
    c->kused = 0;

    p = tb_ws(p, end);
    if (tb_v_value(c, &p) != 0) {
        return -1;
    }
    p = tb_ws(p, end);
    return p == end ? 0 : -1;
}


/* ---- pass 2: extraction from validated text ----------------------------- */

/* skips the validated string at p (on its quote); returns past it and
 * tells whether it holds escapes */
static const char *
tb_skip_string(const char *p, int *esc)
{
    *esc = 0;
    p++;
    for ( ;; ) {
        if (*p == '"') {
            return p + 1;
        }
        if (*p == '\\') {
            *esc = 1;
            p += 2;
            continue;
        }
        p++;
    }
}


/* skips the validated value at p; returns past it */
static const char *
tb_skip_value(const char *p, const char *end)
{
    int  depth, esc;

    switch (*p) {
    case '"':
        return tb_skip_string(p, &esc);
    case '{':
    case '[':
        depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = tb_skip_string(p, &esc);
                continue;
            }
            if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) {
                    return p + 1;
                }
            }
            p++;
        }
        return p;
    default:                                    /* number, literal */
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' '
               && *p != '\t' && *p != '\n' && *p != '\r')
        {
            p++;
        }
        return p;
    }
}


/* the text of the validated string at p: in place, or decoded into the
 * permanent memory; -1 when out of memory */
static int
tb_string(tb_ctx *c, const char *p, const char **s, size_t *len)
{
    const char  *q;
    char        *out;
    int          esc;

    q = tb_skip_string(p, &esc);
    if (!esc) {
        *s = p + 1;
        *len = (size_t) (q - p - 2);
        return 0;
    }
    out = tb_alloc(c, (size_t) (q - p - 2));
    if (out == NULL) {
        return -1;
    }
    *s = out;
    *len = tb_decode(p + 1, (size_t) (q - p - 2), out);
    return 0;
}


/* member iteration over a validated object */
typedef struct {
    const char  *p;
    const char  *end;
} tb_iter;


static void
tb_iter_init(tb_iter *it, const char *obj, const char *end)
{
    it->p = tb_ws(obj + 1, end);
    it->end = end;
}


/* next member: *key (decoded into buf of cap bytes when it has escapes;
 * *klen is then the full decoded length, and *key NULL if it did not fit)
 * and *val; 0 at the end */
static int
tb_iter_next(tb_iter *it, char *buf, size_t cap, const char **key,
    size_t *klen, const char **val)
{
    const char  *q;
    int          esc;

    if (*it->p == '}') {
        return 0;
    }

    q = tb_skip_string(it->p, &esc);
    if (!esc) {
        *key = it->p + 1;
        *klen = (size_t) (q - it->p - 2);
    } else if ((size_t) (q - it->p - 2) <= cap) {
        *klen = tb_decode(it->p + 1, (size_t) (q - it->p - 2), buf);
        *key = buf;
    } else {
        *key = NULL;
        *klen = (size_t) (q - it->p - 2);    /* long: matches no name */
    }

    q = tb_ws(q, it->end);                      /* at ':' */
    q = tb_ws(q + 1, it->end);
    *val = q;
    q = tb_skip_value(q, it->end);
    q = tb_ws(q, it->end);
    if (*q == ',') {
        q = tb_ws(q + 1, it->end);
    }
    it->p = q;
    return 1;
}


static size_t
tb_members(const char *obj, const char *end)
{
    tb_iter      it;
    const char  *key, *val;
    size_t       klen, n = 0;
    char         buf[8];

    tb_iter_init(&it, obj, end);
    while (tb_iter_next(&it, buf, 0, &key, &klen, &val)) {
        n++;
    }
    (void) buf;
    return n;
}


/* JSON value types by their first byte */
#define tb_is_null(v)    ((v) != NULL && *(v) == 'n')
#define tb_is_string(v)  ((v) != NULL && *(v) == '"')
#define tb_is_object(v)  ((v) != NULL && *(v) == '{')
#define tb_is_bool(v)    ((v) != NULL && (*(v) == 't' || *(v) == 'f'))


/* the value of member `name` of the validated object, or NULL */
static const char *
tb_member(const char *obj, const char *end, const char *name)
{
    tb_iter      it;
    const char  *key, *val;
    size_t       klen, n = strlen(name);
    char         buf[16];

    tb_iter_init(&it, obj, end);
    while (tb_iter_next(&it, buf, sizeof(buf), &key, &klen, &val)) {
        if (key != NULL && klen == n && memcmp(key, name, n) == 0) {
            return val;
        }
    }
    return NULL;
}


/* a number token at p: 1 integer (in *i), 2 real (in *d) */
static int
tb_number(const char *p, const char *end, long long *i, double *d)
{
    const char  *q = tb_skip_value(p, end);
    char         local[64], *text;
    size_t       n = (size_t) (q - p);
    int          real;

    real = memchr(p, '.', n) || memchr(p, 'e', n) || memchr(p, 'E', n);

    text = local;
    if (n >= sizeof(local)) {
        text = malloc(n + 1);
        if (text == NULL) {
            *d = 0;
            *i = 0;
            return 2;
        }
    }
    memcpy(text, p, n);
    text[n] = '\0';

    if (real) {
        *d = strtod(text, NULL);
    } else {
        *i = strtoll(text, NULL, 10);
    }

    if (text != local) {
        free(text);
    }
    return real ? 2 : 1;
}
static int
tb_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


static int
tb_has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t i, n = strlen(prefix);

    if (len < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (tb_lower((unsigned char) s[i]) != prefix[i]) {
            return 0;
        }
    }
    return 1;
}


/* absolute http(s) URL: scheme, "//", a non-empty authority, no control
 * characters or blanks anywhere */
static int
tb_url_ok(const char *s, size_t len)
{
    size_t i, start;

    if (tb_has_prefix_ci(s, len, "https://")) {
        start = 8;
    } else if (tb_has_prefix_ci(s, len, "http://")) {
        start = 7;
    } else {
        return 0;
    }
    if (start == len || s[start] == '/' || s[start] == '?'
        || s[start] == '#')
    {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}


/* shortest "%.Ng" text that reads back as d */
static void
tb_real_text(double d, char *buf, size_t cap)
{
    int prec;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            return;
        }
    }
}


/* Writes s as a JSON string (with quotes) at out, which has room for
 * 6 * len + 2 bytes; returns the end. */
static char *
tb_json_string(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    *out++ = '"';
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char) c;
        } else if (c == '\n') {
            *out++ = '\\';
            *out++ = 'n';
        } else if (c == '\r') {
            *out++ = '\\';
            *out++ = 'r';
        } else if (c == '\t') {
            *out++ = '\\';
            *out++ = 't';
        } else if (c < 0x20) {
            *out++ = '\\';
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 0xf];
        } else {
            *out++ = (char) c;
        }
    }
    *out++ = '"';
    return out;
}


static int
tb_blank_only(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return 0;
        }
    }
    return 1;
}


/* -?digits(.digits)? -- a plain decimal, at most TB_NUM_MAX - 1 bytes */
static int
tb_decimal_ok(const char *s, size_t len)
{
    size_t i = 0, digits = 0;

    if (len == 0 || len >= TB_NUM_MAX) {
        return 0;
    }
    if (s[i] == '-') {
        i++;
    }
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (digits == 0) {
        return 0;
    }
    if (i < len && s[i] == '.') {
        i++;
        digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
    }
    return i == len;
}



/* exact length of s written by tb_json_string */
static size_t
tb_json_string_len(const char *s, size_t len)
{
    size_t  i, n = 2;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) s[i];
        if (ch == '"' || ch == '\\' || ch == '\n' || ch == '\r'
            || ch == '\t')
        {
            n += 2;
        } else if (ch < 0x20) {
            n += 6;
        } else {
            n++;
        }
    }
    return n;
}


/* Text of a validated JSON scalar at v as a property value: NULL for null
 * and for containers (*bad set for containers); numbers are formatted into
 * permanent memory. */
static const char *
tb_scalar_text(tb_ctx *c, const char *v, size_t *len, int *bad)
{
    const char  *s;
    char        *num;
    long long    i;
    double       d;

    *bad = 0;

    switch (*v) {
    case '"':
        if (tb_string(c, v, &s, len) != 0) {
            *bad = 2;
            return NULL;
        }
        return s;
    case 't':
        *len = 4;
        return "true";
    case 'f':
        *len = 5;
        return "false";
    case 'n':
        return NULL;
    case '{':
    case '[':
        *bad = 1;
        return NULL;
    default:
        num = tb_alloc(c, TB_NUM_MAX);
        if (num == NULL) {
            *bad = 2;
            return NULL;
        }
        if (tb_number(v, c->end, &i, &d) == 1) {
            snprintf(num, TB_NUM_MAX, "%lld", i);
        } else {
            tb_real_text(d, num, TB_NUM_MAX);
        }
        *len = strlen(num);
        return num;
    }
}


/* Serialises the validated props object at p into a compact JSON object
 * with string values; leaves o->props absent when no pair survives. */
static int
tb_props_from_object(tb_ctx *c, const char *p, tb_obj *o, const char **err)
{
    const char  *key[TB_MAX_PROPS], *text[TB_MAX_PROPS], *q, *kq;
    size_t       klen[TB_MAX_PROPS], vlen[TB_MAX_PROPS], n, i, cap;
    int          bad, esc;
    char        *buf, *w;

    if (tb_members(p, c->end) > TB_MAX_PROPS) {
        *err = "props: too many properties (max 30)";
        return -1;
    }

    n = 0;
    q = tb_ws(p + 1, c->end);
    while (*q != '}') {
        kq = q;
        if (tb_string(c, kq, &key[n], &klen[n]) != 0) {
            goto nomem;
        }
        q = tb_skip_string(kq, &esc);
        q = tb_ws(tb_ws(q, c->end) + 1, c->end);

        if (klen[n] > TB_MAX_PROP_KEY) {
            *err = "props: key longer than 300 bytes";
            return -1;
        }
        text[n] = tb_scalar_text(c, q, &vlen[n], &bad);
        if (bad == 2) {
            goto nomem;
        }
        if (bad) {
            *err = "props: values must be strings, numbers or booleans";
            return -1;
        }
        if (text[n] != NULL && vlen[n] > TB_MAX_PROP_VALUE) {
            *err = "props: value longer than 2000 bytes";
            return -1;
        }
        n++;

        q = tb_ws(tb_skip_value(q, c->end), c->end);
        if (*q == ',') {
            q = tb_ws(q + 1, c->end);
        }
    }

    cap = 2;
    for (i = 0; i < n; i++) {
        if (text[i] == NULL || tb_blank_only(key[i], klen[i])
            || tb_blank_only(text[i], vlen[i]))
        {
            continue;
        }
        cap += tb_json_string_len(key[i], klen[i]) + 2
               + tb_json_string_len(text[i], vlen[i]);
    }

    buf = tb_alloc(c, cap);
    if (buf == NULL) {
        goto nomem;
    }

    w = buf;
    *w++ = '{';
    for (i = 0; i < n; i++) {
        if (text[i] == NULL || tb_blank_only(key[i], klen[i])
            || tb_blank_only(text[i], vlen[i]))
        {
            continue;       /* dropped like Plausible does */
        }
        if (w != buf + 1) {
            *w++ = ',';
        }
        w = tb_json_string(w, key[i], klen[i]);
        *w++ = ':';
        w = tb_json_string(w, text[i], vlen[i]);
    }
    *w++ = '}';

    if (w != buf + 2) {
        o->props.ptr = buf;
        o->props.len = (size_t) (w - buf);
    }
    return 0;

nomem:

    *err = "out of memory";
    return -1;
}


/* the fields of an event object */
enum {
    TBF_N = 0, TBF_NAME, TBF_U, TBF_URL, TBF_D, TBF_DOMAIN, TBF_R,
    TBF_REFERRER, TBF_P, TBF_PROPS, TBF_M, TBF_META, TBF_REV_SHORT,
    TBF_REVENUE, TBF_I, TBF_INTERACTIVE, TBF_COUNT
};

static const char *const  tb_field_names[TBF_COUNT] = {
    "n", "name", "u", "url", "d", "domain", "r", "referrer", "p", "props",
    "m", "meta", "$", "revenue", "i", "interactive"
};


/* The value of field a, or of field b when a is absent or null; NULL when
 * both are absent (a JSON null is returned only if both are null). */
static const char *
tb_get(const char **f, int a, int b)
{
    const char  *v = f[a];

    if (v == NULL || tb_is_null(v)) {
        if (f[b] != NULL) {
            return f[b];
        }
    }
    return v;
}


static int
tb_props(tb_ctx *c, const char **f, tb_obj *o, const char **err)
{
    const char  *p, *s;
    size_t       len;
    int          rc;
    tb_ctx       inner;

    p = tb_get(f, TBF_P, TBF_PROPS);
    if (p == NULL || tb_is_null(p)) {
        p = tb_get(f, TBF_M, TBF_META);
    }
    if (p == NULL || tb_is_null(p)) {
        return 0;
    }

    if (tb_is_object(p)) {
        return tb_props_from_object(c, p, o, err);
    }

    if (!tb_is_string(p)) {
        *err = "props: must be an object";
        return -1;
    }

    /* Plausible also takes props as a JSON-encoded string */
    if (tb_string(c, p, &s, &len) != 0) {
        *err = "out of memory";
        return -1;
    }

    inner = *c;
    if (tb_validate(&inner, s, len) != 0) {
        *err = "props: invalid JSON in string";
        return -1;
    }
    s = tb_ws(s, s + len);
    if (*s != '{') {
        *err = "props: must be an object";
        return -1;
    }

    /* the permanent memory is shared: carry the allocations back */
    inner.err = NULL;
    rc = tb_props_from_object(&inner, s, o, err);
    c->used = inner.used;
    return rc;
}


static int
tb_revenue(tb_ctx *c, const char **f, tb_obj *o, const char **err)
{
    const char  *rv, *cur, *amt, *cs, *a;
    char         num[TB_NUM_MAX], *buf;
    size_t       clen, alen;
    long long    i;
    double       d;
    int          n;

    rv = tb_get(f, TBF_REV_SHORT, TBF_REVENUE);
    if (rv == NULL || tb_is_null(rv)) {
        return 0;
    }
    if (!tb_is_object(rv)) {
        *err = "revenue: must be an object";
        return -1;
    }

    cur = tb_member(rv, c->end, "currency");
    if (!tb_is_string(cur) || tb_string(c, cur, &cs, &clen) != 0
        || clen != 3
        || cs[0] < 'A' || cs[0] > 'Z' || cs[1] < 'A' || cs[1] > 'Z'
        || cs[2] < 'A' || cs[2] > 'Z')
    {
        *err = "revenue: currency must be 3 upper-case letters";
        return -1;
    }

    amt = tb_member(rv, c->end, "amount");
    a = NULL;
    alen = 0;

    if (amt != NULL && (*amt == '-' || (*amt >= '0' && *amt <= '9'))) {
        if (tb_number(amt, c->end, &i, &d) == 1) {
            snprintf(num, sizeof(num), "%lld", i);
        } else {
            tb_real_text(d, num, sizeof(num));
        }
        a = num;
        alen = strlen(num);

    } else if (tb_is_string(amt)) {
        if (tb_string(c, amt, &a, &alen) != 0) {
            *err = "out of memory";
            return -1;
        }
        if (!tb_decimal_ok(a, alen)) {
            a = NULL;
        }
    }

    if (a == NULL) {
        *err = "revenue: amount must be a number";
        return -1;
    }

    buf = tb_alloc(c, 64 + TB_NUM_MAX);
    if (buf == NULL) {
        *err = "out of memory";
        return -1;
    }
    n = snprintf(buf, 64 + TB_NUM_MAX,
                 "{\"currency\":\"%.3s\",\"amount\":\"%.*s\"}",
                 cs, (int) alen, a);
    o->revenue.ptr = buf;
    o->revenue.len = (size_t) n;
    return 0;
}


/* Splits the domain list into trimmed, lower-cased, distinct sites. */
static int
tb_domains(tb_ctx *c, const char *v, tb_obj *o, const char **err)
{
    const char  *s;
    char        *buf, *p, *end, *start, *stop;
    size_t       len, i, j, n;

    if (tb_string(c, v, &s, &len) != 0) {
        *err = "out of memory";
        return -1;
    }

    buf = tb_alloc(c, len + 1);
    if (buf == NULL) {
        *err = "out of memory";
        return -1;
    }
    for (i = 0; i < len; i++) {
        buf[i] = (char) tb_lower((unsigned char) s[i]);
    }
    buf[len] = '\0';

    p = buf;
    end = buf + len;
    while (p <= end) {
        start = p;
        while (p < end && *p != ',') {
            p++;
        }
        stop = p;
        p++;                                    /* past the comma */

        while (start < stop && (*start == ' ' || *start == '\t')) {
            start++;
        }
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) {
            stop--;
        }
        n = (size_t) (stop - start);
        if (n == 0) {
            continue;
        }
        if (n > TB_MAX_DOMAIN) {
            *err = "domain: longer than 255 bytes";
            return -1;
        }
        for (i = 0; i < n; i++) {
            unsigned char ch = (unsigned char) start[i];
            if (ch <= 0x20 || ch == 0x7f) {
                *err = "domain: invalid character";
                return -1;
            }
        }
        for (j = 0; j < o->ndomains; j++) {
            if (o->domain[j].len == n
                && memcmp(o->domain[j].ptr, start, n) == 0)
            {
                break;
            }
        }
        if (j < o->ndomains) {
            continue;                           /* listed twice */
        }
        if (o->ndomains == TB_MAX_DOMAINS) {
            *err = "domain: too many domains (max 10)";
            return -1;
        }
        o->domain[o->ndomains].ptr = start;
        o->domain[o->ndomains].len = n;
        o->ndomains++;
    }

    if (o->ndomains == 0) {
        *err = "domain: must not be empty";
        return -1;
    }
    return 0;
}


static int
tb_object(tb_ctx *c, const char *obj, tb_obj *o, const char **err)
{
    const char  *f[TBF_COUNT], *key, *val, *v;
    char         buf[16];
    size_t       klen;
    int          k;
    tb_iter      it;

    memset(o, 0, sizeof(*o));
    memset(f, 0, sizeof(f));

    tb_iter_init(&it, obj, c->end);
    while (tb_iter_next(&it, buf, sizeof(buf), &key, &klen, &val)) {
        if (key == NULL || klen > 11) {
            continue;
        }
        for (k = 0; k < TBF_COUNT; k++) {
            if (strlen(tb_field_names[k]) == klen
                && memcmp(tb_field_names[k], key, klen) == 0)
            {
                f[k] = val;
                break;
            }
        }
    }

    v = tb_get(f, TBF_N, TBF_NAME);
    if (v == NULL || tb_is_null(v)) {
        *err = "missing field: name";
        return -1;
    }
    if (!tb_is_string(v)) {
        *err = "name: must be a string";
        return -1;
    }
    if (tb_string(c, v, &o->name.ptr, &o->name.len) != 0) {
        goto nomem;
    }
    if (o->name.len == 0 || o->name.len > TB_MAX_NAME) {
        *err = "name: must be 1 to 120 bytes";
        return -1;
    }

    v = tb_get(f, TBF_U, TBF_URL);
    if (v == NULL || tb_is_null(v)) {
        *err = "missing field: url";
        return -1;
    }
    if (!tb_is_string(v)) {
        *err = "url: must be a string";
        return -1;
    }
    if (tb_string(c, v, &o->url.ptr, &o->url.len) != 0) {
        goto nomem;
    }
    if (o->url.len > TB_MAX_URL) {
        *err = "url: longer than 2000 bytes";
        return -1;
    }
    if (!tb_url_ok(o->url.ptr, o->url.len)) {
        *err = "url: must be an absolute http(s) URL";
        return -1;
    }

    v = tb_get(f, TBF_D, TBF_DOMAIN);
    if (v == NULL || tb_is_null(v)) {
        *err = "missing field: domain";
        return -1;
    }
    if (!tb_is_string(v)) {
        *err = "domain: must be a string";
        return -1;
    }
    if (tb_domains(c, v, o, err) != 0) {
        return -1;
    }

    v = tb_get(f, TBF_R, TBF_REFERRER);
    if (v != NULL && !tb_is_null(v)) {
        if (!tb_is_string(v)) {
            *err = "referrer: must be a string or null";
            return -1;
        }
        if (tb_string(c, v, &o->referrer.ptr, &o->referrer.len) != 0) {
            goto nomem;
        }
        if (o->referrer.len > TB_MAX_REFERRER) {
            *err = "referrer: longer than 2000 bytes";
            return -1;
        }
        if (o->referrer.len == 0) {
            o->referrer.ptr = NULL;
        }
    }

    if (tb_props(c, f, o, err) != 0) {
        return -1;
    }

    if (tb_revenue(c, f, o, err) != 0) {
        return -1;
    }

    o->interactive = 1;
    v = tb_get(f, TBF_I, TBF_INTERACTIVE);
    if (v != NULL && !tb_is_null(v)) {
        if (!tb_is_bool(v)) {
            *err = "interactive: must be a boolean";
            return -1;
        }
        o->interactive = (*v == 't');
    }

    return 0;

nomem:

    *err = "out of memory";
    return -1;
}


int
tb_parse_scratch(const char *body, size_t len, tb_result *res,
    void *scratch, size_t scratch_cap, const char **err)
{
    tb_obj        objs[TB_MAX_BATCH];
    tb_ctx        c;
    tb_iter       it;
    const char   *p, *item, *end;
    char         *mem;
    spool_event  *ev;
    size_t        need, nobj, i, j, total;

    memset(res, 0, sizeof(*res));

    need = tb_scratch_size(len);
    if (scratch != NULL && scratch_cap >= need) {
        mem = scratch;
    } else {
        mem = malloc(need);
        if (mem == NULL) {
            *err = "out of memory";
            return -1;
        }
        res->mem = mem;
    }

    tb_ctx_init(&c, mem, len);

    if (tb_validate(&c, body, len) != 0) {
        *err = "invalid JSON";
        goto failed;
    }

    end = body + len;
    p = tb_ws(body, end);

    if (*p == '{') {
        nobj = 1;
        if (tb_object(&c, p, &objs[0], err) != 0) {
            goto failed;
        }

    } else if (*p == '[') {
        nobj = 0;
        item = tb_ws(p + 1, end);
        while (*item != ']') {
            nobj++;
            item = tb_ws(tb_skip_value(item, end), end);
            if (*item == ',') {
                item = tb_ws(item + 1, end);
            }
        }
        if (nobj == 0 || nobj > TB_MAX_BATCH) {
            *err = "batch: must hold 1 to 10 events";
            goto failed;
        }
        i = 0;
        item = tb_ws(p + 1, end);
        while (*item != ']') {
            if (*item != '{') {
                *err = "batch: every event must be an object";
                goto failed;
            }
            if (tb_object(&c, item, &objs[i++], err) != 0) {
                goto failed;
            }
            item = tb_ws(tb_skip_value(item, end), end);
            if (*item == ',') {
                item = tb_ws(item + 1, end);
            }
        }

    } else {
        *err = "body must be a JSON object";
        goto failed;
    }

    (void) it;

    total = 0;
    for (i = 0; i < nobj; i++) {
        total += objs[i].ndomains;
    }

    res->ev = tb_alloc(&c, total * sizeof(spool_event));
    if (res->ev == NULL) {
        *err = "out of memory";
        goto failed;
    }
    memset(res->ev, 0, total * sizeof(spool_event));

    for (i = 0; i < nobj; i++) {
        for (j = 0; j < objs[i].ndomains; j++) {
            ev = &res->ev[res->n++];
            ev->field[SPOOL_F_SITE] = objs[i].domain[j];
            ev->field[SPOOL_F_NAME] = objs[i].name;
            ev->field[SPOOL_F_URL] = objs[i].url;
            ev->field[SPOOL_F_REFERRER] = objs[i].referrer;
            ev->field[SPOOL_F_PROPS] = objs[i].props;
            ev->field[SPOOL_F_REVENUE] = objs[i].revenue;
            if (!objs[i].interactive) {
                ev->field[SPOOL_F_INTERACTIVE].ptr = "0";
                ev->field[SPOOL_F_INTERACTIVE].len = 1;
            }
        }
    }

    return 0;

failed:

    tb_result_free(res);
    return -1;
}


int
tb_parse(const char *body, size_t len, tb_result *res, const char **err)
{
    return tb_parse_scratch(body, len, res, NULL, 0, err);
}


void
tb_result_free(tb_result *res)
{
    free(res->mem);
    memset(res, 0, sizeof(*res));
}


int
tb_content_type_ok(const char *value, size_t len)
{
    size_t i, end;

    end = 0;
    while (end < len && value[end] != ';') {
        end++;
    }
    i = 0;
    while (i < end && (value[i] == ' ' || value[i] == '\t')) {
        i++;
    }
    while (end > i && (value[end - 1] == ' ' || value[end - 1] == '\t')) {
        end--;
    }

    if (end - i == 16 && tb_has_prefix_ci(value + i, 16, "application/json"))
    {
        return 1;
    }
    if (end - i == 10 && tb_has_prefix_ci(value + i, 10, "text/plain")) {
        return 1;
    }
    return 0;
}
