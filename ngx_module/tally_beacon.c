/*
 * tally_beacon.c -- parsing and validation of event beacons (see
 * tally_beacon.h for the rules).  Plain C, no NGINX types, no JSON
 * library: the reader of tally_json.c makes a strict validating pass over
 * the whole body (pass 1, any violation is "invalid JSON", as a strict
 * parser would say first); this file makes an extracting pass over the now
 * known-good text (pass 2) that reads only the fields a beacon has, checks
 * and normalises them.  Strings without escapes are used in place; the rest
 * (decoded strings, lower-cased sites, props and revenue text, the events)
 * goes into one block of memory sized from the body length up front
 * (tb_scratch_size), so a parse makes no allocation when the caller gives
 * scratch memory.
 */

#include "ngx_module/tally_beacon.h"
#include "ngx_module/tally_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* longest text of a number: "%.17g" of a double, or a 64-bit integer */
#define TB_NUM_MAX    40


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


size_t
tb_scratch_size(size_t len)
{
    size_t  nev;

    nev = len / 2 + 1;
    if (nev > SPOOL_MAX_EVENTS) {
        nev = SPOOL_MAX_EVENTS;
    }

    return 16 * len + 8192 + nev * sizeof(spool_event) + 64
           + tally_json_scratch_size(len);
}


/* lays c over mem (tb_scratch_size(len) bytes): the permanent memory,
 * then the JSON reader's pass 1 scratch */
static void
tb_ctx_init(tally_json_ctx *c, char *mem, size_t len)
{
    size_t  nev, perm;

    nev = len / 2 + 1;
    if (nev > SPOOL_MAX_EVENTS) {
        nev = SPOOL_MAX_EVENTS;
    }

    perm = 16 * len + 8192 + nev * sizeof(spool_event) + 64;
    perm = (perm + 7) & ~(size_t) 7;

    tally_json_ctx_init(c, mem, perm, len);
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





/* Text of a validated JSON scalar at v as a property value: NULL for null
 * and for containers (*bad set for containers); numbers are formatted into
 * permanent memory. */
static const char *
tb_scalar_text(tally_json_ctx *c, const char *v, size_t *len, int *bad)
{
    const char  *s;
    char        *num;
    long long    i;
    double       d;

    *bad = 0;

    switch (*v) {
    case '"':
        if (tally_json_string(c, v, &s, len) != 0) {
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
        num = tally_json_alloc(c, TB_NUM_MAX);
        if (num == NULL) {
            *bad = 2;
            return NULL;
        }
        if (tally_json_number(v, c->end, &i, &d) == 1) {
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
tb_props_from_object(tally_json_ctx *c, const char *p, tb_obj *o,
    const char **err)
{
    const char  *key[TB_MAX_PROPS], *text[TB_MAX_PROPS], *q, *kq;
    size_t       klen[TB_MAX_PROPS], vlen[TB_MAX_PROPS], n, i, cap;
    int          bad, esc;
    char        *buf, *w;

    if (tally_json_members(p, c->end) > TB_MAX_PROPS) {
        *err = "props: too many properties (max 30)";
        return -1;
    }

    n = 0;
    q = tally_json_ws(p + 1, c->end);
    while (*q != '}') {
        kq = q;
        if (tally_json_string(c, kq, &key[n], &klen[n]) != 0) {
            goto nomem;
        }
        q = tally_json_skip_string(kq, &esc);
        q = tally_json_ws(tally_json_ws(q, c->end) + 1, c->end);

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

        q = tally_json_ws(tally_json_skip_value(q, c->end), c->end);
        if (*q == ',') {
            q = tally_json_ws(q + 1, c->end);
        }
    }

    cap = 2;
    for (i = 0; i < n; i++) {
        if (text[i] == NULL || tb_blank_only(key[i], klen[i])
            || tb_blank_only(text[i], vlen[i]))
        {
            continue;
        }
        cap += tally_json_write_len(key[i], klen[i]) + 2
               + tally_json_write_len(text[i], vlen[i]);
    }

    buf = tally_json_alloc(c, cap);
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
        w = tally_json_write(w, key[i], klen[i]);
        *w++ = ':';
        w = tally_json_write(w, text[i], vlen[i]);
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

    if (v == NULL || tally_json_is_null(v)) {
        if (f[b] != NULL) {
            return f[b];
        }
    }
    return v;
}


static int
tb_props(tally_json_ctx *c, const char **f, tb_obj *o, const char **err)
{
    const char      *p, *s;
    size_t           len;
    int              rc;
    tally_json_ctx   inner;

    p = tb_get(f, TBF_P, TBF_PROPS);
    if (p == NULL || tally_json_is_null(p)) {
        p = tb_get(f, TBF_M, TBF_META);
    }
    if (p == NULL || tally_json_is_null(p)) {
        return 0;
    }

    if (tally_json_is_object(p)) {
        return tb_props_from_object(c, p, o, err);
    }

    if (!tally_json_is_string(p)) {
        *err = "props: must be an object";
        return -1;
    }

    /* Plausible also takes props as a JSON-encoded string */
    if (tally_json_string(c, p, &s, &len) != 0) {
        *err = "out of memory";
        return -1;
    }

    inner = *c;
    if (tally_json_validate(&inner, s, len) != 0) {
        *err = "props: invalid JSON in string";
        return -1;
    }
    s = tally_json_ws(s, s + len);
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
tb_revenue(tally_json_ctx *c, const char **f, tb_obj *o, const char **err)
{
    const char  *rv, *cur, *amt, *cs, *a;
    char         num[TB_NUM_MAX], *buf;
    size_t       clen, alen;
    long long    i;
    double       d;
    int          n;

    rv = tb_get(f, TBF_REV_SHORT, TBF_REVENUE);
    if (rv == NULL || tally_json_is_null(rv)) {
        return 0;
    }
    if (!tally_json_is_object(rv)) {
        *err = "revenue: must be an object";
        return -1;
    }

    cur = tally_json_member(rv, c->end, "currency");
    if (!tally_json_is_string(cur) || tally_json_string(c, cur, &cs, &clen) != 0
        || clen != 3
        || cs[0] < 'A' || cs[0] > 'Z' || cs[1] < 'A' || cs[1] > 'Z'
        || cs[2] < 'A' || cs[2] > 'Z')
    {
        *err = "revenue: currency must be 3 upper-case letters";
        return -1;
    }

    amt = tally_json_member(rv, c->end, "amount");
    a = NULL;
    alen = 0;

    if (amt != NULL && (*amt == '-' || (*amt >= '0' && *amt <= '9'))) {
        if (tally_json_number(amt, c->end, &i, &d) == 1) {
            snprintf(num, sizeof(num), "%lld", i);
        } else {
            tb_real_text(d, num, sizeof(num));
        }
        a = num;
        alen = strlen(num);

    } else if (tally_json_is_string(amt)) {
        if (tally_json_string(c, amt, &a, &alen) != 0) {
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

    buf = tally_json_alloc(c, 64 + TB_NUM_MAX);
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
tb_domains(tally_json_ctx *c, const char *v, tb_obj *o, const char **err)
{
    const char  *s;
    char        *buf, *p, *end, *start, *stop;
    size_t       len, i, j, n;

    if (tally_json_string(c, v, &s, &len) != 0) {
        *err = "out of memory";
        return -1;
    }

    buf = tally_json_alloc(c, len + 1);
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
tb_object(tally_json_ctx *c, const char *obj, tb_obj *o, const char **err)
{
    const char       *f[TBF_COUNT], *key, *val, *v;
    char              buf[16];
    size_t            klen;
    int               k;
    tally_json_iter   it;

    memset(o, 0, sizeof(*o));
    memset(f, 0, sizeof(f));

    tally_json_iter_init(&it, obj, c->end);
    while (tally_json_iter_next(&it, buf, sizeof(buf), &key, &klen, &val)) {
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
    if (v == NULL || tally_json_is_null(v)) {
        *err = "missing field: name";
        return -1;
    }
    if (!tally_json_is_string(v)) {
        *err = "name: must be a string";
        return -1;
    }
    if (tally_json_string(c, v, &o->name.ptr, &o->name.len) != 0) {
        goto nomem;
    }
    if (o->name.len == 0 || o->name.len > TB_MAX_NAME) {
        *err = "name: must be 1 to 120 bytes";
        return -1;
    }

    v = tb_get(f, TBF_U, TBF_URL);
    if (v == NULL || tally_json_is_null(v)) {
        *err = "missing field: url";
        return -1;
    }
    if (!tally_json_is_string(v)) {
        *err = "url: must be a string";
        return -1;
    }
    if (tally_json_string(c, v, &o->url.ptr, &o->url.len) != 0) {
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
    if (v == NULL || tally_json_is_null(v)) {
        *err = "missing field: domain";
        return -1;
    }
    if (!tally_json_is_string(v)) {
        *err = "domain: must be a string";
        return -1;
    }
    if (tb_domains(c, v, o, err) != 0) {
        return -1;
    }

    v = tb_get(f, TBF_R, TBF_REFERRER);
    if (v != NULL && !tally_json_is_null(v)) {
        if (!tally_json_is_string(v)) {
            *err = "referrer: must be a string or null";
            return -1;
        }
        if (tally_json_string(c, v, &o->referrer.ptr, &o->referrer.len) != 0) {
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
    if (v != NULL && !tally_json_is_null(v)) {
        if (!tally_json_is_bool(v)) {
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
    tb_obj            objs[TB_MAX_BATCH];
    tally_json_ctx    c;
    tally_json_iter   it;
    const char       *p, *item, *end;
    char             *mem;
    spool_event      *ev;
    size_t            need, nobj, i, j, total;

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

    if (tally_json_validate(&c, body, len) != 0) {
        *err = "invalid JSON";
        goto failed;
    }

    end = body + len;
    p = tally_json_ws(body, end);

    if (*p == '{') {
        nobj = 1;
        if (tb_object(&c, p, &objs[0], err) != 0) {
            goto failed;
        }

    } else if (*p == '[') {
        nobj = 0;
        item = tally_json_ws(p + 1, end);
        while (*item != ']') {
            nobj++;
            item = tally_json_ws(tally_json_skip_value(item, end), end);
            if (*item == ',') {
                item = tally_json_ws(item + 1, end);
            }
        }
        if (nobj == 0 || nobj > TB_MAX_BATCH) {
            *err = "batch: must hold 1 to 10 events";
            goto failed;
        }
        i = 0;
        item = tally_json_ws(p + 1, end);
        while (*item != ']') {
            if (*item != '{') {
                *err = "batch: every event must be an object";
                goto failed;
            }
            if (tb_object(&c, item, &objs[i++], err) != 0) {
                goto failed;
            }
            item = tally_json_ws(tally_json_skip_value(item, end), end);
            if (*item == ',') {
                item = tally_json_ws(item + 1, end);
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

    res->ev = tally_json_alloc(&c, total * sizeof(spool_event));
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
