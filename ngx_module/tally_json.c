/*
 * tally_json.c -- the allocation-free JSON reader (see tally_json.h):
 * a strict validating pass over a whole document (pass 1) and helpers
 * that read values out of the now known-good text (pass 2).  Plain C, no
 * NGINX types, no JSON library.
 */

#include "ngx_module/tally_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* deepest nesting of arrays and objects accepted (as jansson) */
#define TALLY_JSON_MAX_DEPTH  2048

/* objects with more keys than this are checked for duplicates by sorting */
#define TALLY_JSON_DUP_LINEAR 16


void *
tally_json_alloc(tally_json_ctx *c, size_t n)
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
tally_json_scratch_size(size_t len)
{
    return (len / 4 + 8) * sizeof(tally_json_key) + len + 64;
}


void
tally_json_ctx_init(tally_json_ctx *c, char *mem, size_t cap, size_t len)
{
    memset(c, 0, sizeof(*c));

    c->mem = mem;
    c->cap = cap;
    c->keys = (tally_json_key *) (mem + cap);
    c->capkeys = len / 4 + 8;
    c->kbuf = (char *) (c->keys + c->capkeys);
    c->kcap = len + 64;
}


/* ---- pass 1: strict validation ------------------------------------------ */

const char *
tally_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}


static int
tally_json_hex4(const char *p, const char *end, unsigned *out)
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
tally_json_utf8_len(const unsigned char *p, const unsigned char *end)
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
tally_json_v_string(tally_json_ctx *c, const char **pp, const char **raw,
    size_t *rawlen, int *esc)
{
    const char  *p = *pp + 1, *end = c->end;
    unsigned     cp = 0, lo = 0;
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
                if (tally_json_hex4(p + 2, end, &cp) != 0) {
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
                        || tally_json_hex4(p + 2, end, &lo) != 0
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

        n = tally_json_utf8_len((const unsigned char *) p,
                                (const unsigned char *) end);
        if (n == 0) {
            return -1;
        }
        p += n;
    }

    return -1;
}


static void
tally_json_put_utf8(char **o, unsigned cp)
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
tally_json_decode(const char *raw, size_t rawlen, char *out)
{
    const char  *p = raw, *end = raw + rawlen;
    char        *o = out;
    unsigned     cp = 0, lo = 0;

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
            (void) tally_json_hex4(p + 2, end, &cp);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                (void) tally_json_hex4(p + 2, end, &lo);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            tally_json_put_utf8(&o, cp);
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
tally_json_v_number(tally_json_ctx *c, const char **pp)
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
tally_json_key_cmp(const void *a, const void *b)
{
    const tally_json_key  *x = a, *y = b;
    int                    r;

    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    r = memcmp(x->p, y->p, x->len);
    return r;
}


/* 1 if keys[from..nkeys) hold a duplicate */
static int
tally_json_dup_keys(tally_json_ctx *c, size_t from)
{
    size_t           i, j, n = c->nkeys - from;
    tally_json_key  *k = c->keys + from;

    if (n <= TALLY_JSON_DUP_LINEAR) {
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

    qsort(k, n, sizeof(tally_json_key), tally_json_key_cmp);
    for (i = 1; i < n; i++) {
        if (tally_json_key_cmp(&k[i - 1], &k[i]) == 0) {
            return 1;
        }
    }
    return 0;
}


static int tally_json_v_value(tally_json_ctx *c, const char **pp);


static int
tally_json_v_object(tally_json_ctx *c, const char **pp)
{
    const char      *p = *pp + 1, *raw;
    size_t           from, kmark, rawlen;
    int              esc;
    tally_json_key  *k;

    from = c->nkeys;
    kmark = c->kused;

    p = tally_json_ws(p, c->end);
    if (p < c->end && *p == '}') {
        *pp = p + 1;
        return 0;
    }

    for ( ;; ) {
        if (p >= c->end || *p != '"'
            || tally_json_v_string(c, &p, &raw, &rawlen, &esc) != 0)
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
            k->len = tally_json_decode(raw, rawlen, c->kbuf + c->kused);
            c->kused += k->len;
        } else {
            k->p = raw;
            k->len = rawlen;
        }

        p = tally_json_ws(p, c->end);
        if (p >= c->end || *p != ':') {
            return -1;
        }
        p = tally_json_ws(p + 1, c->end);
        if (tally_json_v_value(c, &p) != 0) {
            return -1;
        }
        p = tally_json_ws(p, c->end);
        if (p < c->end && *p == ',') {
            p = tally_json_ws(p + 1, c->end);
            continue;
        }
        if (p < c->end && *p == '}') {
            break;
        }
        return -1;
    }

    if (tally_json_dup_keys(c, from)) {
        return -1;
    }

    c->nkeys = from;
    c->kused = kmark;
    *pp = p + 1;
    return 0;
}


static int
tally_json_v_array(tally_json_ctx *c, const char **pp)
{
    const char  *p = *pp + 1;

    p = tally_json_ws(p, c->end);
    if (p < c->end && *p == ']') {
        *pp = p + 1;
        return 0;
    }

    for ( ;; ) {
        if (tally_json_v_value(c, &p) != 0) {
            return -1;
        }
        p = tally_json_ws(p, c->end);
        if (p < c->end && *p == ',') {
            p = tally_json_ws(p + 1, c->end);
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
tally_json_literal(const char **pp, const char *end, const char *lit, size_t n)
{
    if ((size_t) (end - *pp) < n || memcmp(*pp, lit, n) != 0) {
        return -1;
    }
    *pp += n;
    return 0;
}


static int
tally_json_v_value(tally_json_ctx *c, const char **pp)
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
        if (++c->depth > TALLY_JSON_MAX_DEPTH) {
            return -1;
        }
        rc = (**pp == '{') ? tally_json_v_object(c, pp)
                           : tally_json_v_array(c, pp);
        c->depth--;
        return rc;
    case '"':
        return tally_json_v_string(c, pp, &raw, &rawlen, &esc);
    case 't':
        return tally_json_literal(pp, c->end, "true", 4);
    case 'f':
        return tally_json_literal(pp, c->end, "false", 5);
    case 'n':
        return tally_json_literal(pp, c->end, "null", 4);
    default:
        return tally_json_v_number(c, pp);
    }
}


/* pass 1 over a whole document: 0 if it is valid JSON */
int
tally_json_validate(tally_json_ctx *c, const char *p, size_t len)
{
    const char  *end = p + len;

    if (memchr(p, '\0', len) != NULL) {
        return -1;
    }

    c->end = end;
    c->depth = 0;
    c->nkeys = 0;
    c->kused = 0;

    p = tally_json_ws(p, end);
    if (tally_json_v_value(c, &p) != 0) {
        return -1;
    }
    p = tally_json_ws(p, end);
    return p == end ? 0 : -1;
}


/* ---- pass 2: extraction from validated text ----------------------------- */

/* skips the validated string at p (on its quote); returns past it and
 * tells whether it holds escapes */
const char *
tally_json_skip_string(const char *p, int *esc)
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
const char *
tally_json_skip_value(const char *p, const char *end)
{
    int  depth, esc;

    switch (*p) {
    case '"':
        return tally_json_skip_string(p, &esc);
    case '{':
    case '[':
        depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = tally_json_skip_string(p, &esc);
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
int
tally_json_string(tally_json_ctx *c, const char *p, const char **s, size_t *len)
{
    const char  *q;
    char        *out;
    int          esc;

    q = tally_json_skip_string(p, &esc);
    if (!esc) {
        *s = p + 1;
        *len = (size_t) (q - p - 2);
        return 0;
    }
    out = tally_json_alloc(c, (size_t) (q - p - 2));
    if (out == NULL) {
        return -1;
    }
    *s = out;
    *len = tally_json_decode(p + 1, (size_t) (q - p - 2), out);
    return 0;
}


void
tally_json_iter_init(tally_json_iter *it, const char *obj, const char *end)
{
    it->p = tally_json_ws(obj + 1, end);
    it->end = end;
}


/* next member: *key (decoded into buf of cap bytes when it has escapes;
 * *klen is then the full decoded length, and *key NULL if it did not fit)
 * and *val; 0 at the end */
int
tally_json_iter_next(tally_json_iter *it, char *buf, size_t cap,
    const char **key, size_t *klen, const char **val)
{
    const char  *q;
    int          esc;

    if (*it->p == '}') {
        return 0;
    }

    q = tally_json_skip_string(it->p, &esc);
    if (!esc) {
        *key = it->p + 1;
        *klen = (size_t) (q - it->p - 2);
    } else if ((size_t) (q - it->p - 2) <= cap) {
        *klen = tally_json_decode(it->p + 1, (size_t) (q - it->p - 2), buf);
        *key = buf;
    } else {
        *key = NULL;
        *klen = (size_t) (q - it->p - 2);    /* long: matches no name */
    }

    q = tally_json_ws(q, it->end);              /* at ':' */
    q = tally_json_ws(q + 1, it->end);
    *val = q;
    q = tally_json_skip_value(q, it->end);
    q = tally_json_ws(q, it->end);
    if (*q == ',') {
        q = tally_json_ws(q + 1, it->end);
    }
    it->p = q;
    return 1;
}


size_t
tally_json_members(const char *obj, const char *end)
{
    tally_json_iter   it;
    const char       *key, *val;
    size_t            klen, n = 0;
    char              buf[8];

    tally_json_iter_init(&it, obj, end);
    while (tally_json_iter_next(&it, buf, 0, &key, &klen, &val)) {
        n++;
    }
    (void) buf;
    return n;
}


/* the value of member `name` of the validated object, or NULL */
const char *
tally_json_member(const char *obj, const char *end, const char *name)
{
    tally_json_iter   it;
    const char       *key, *val;
    size_t            klen, n = strlen(name);
    char              buf[16];

    tally_json_iter_init(&it, obj, end);
    while (tally_json_iter_next(&it, buf, sizeof(buf), &key, &klen, &val)) {
        if (key != NULL && klen == n && memcmp(key, name, n) == 0) {
            return val;
        }
    }
    return NULL;
}


/* a number token at p: 1 integer (in *i), 2 real (in *d) */
int
tally_json_number(const char *p, const char *end, long long *i, double *d)
{
    const char  *q = tally_json_skip_value(p, end);
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


/* ---- writing ---- */

char *
tally_json_write(char *out, const char *s, size_t len)
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


size_t
tally_json_write_len(const char *s, size_t len)
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
