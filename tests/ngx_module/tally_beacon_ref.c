/*
 * tally_beacon_ref.c -- the previous, jansson-based beacon parser, kept
 * only as the reference for differential tests of ngx_module/tally_beacon.c
 * (tests/ngx_module/test_tally_beacon.c and tests/fuzz/fuzz_beacon.c
 * #include it; it is not part of the module).  Same rules, same error
 * messages; symbols prefixed tbref_.
 */

#include <jansson.h>

#include "ngx_module/tally_beacon.h"
#include "ngx_module/tally_json.h"

/* per object: the lower-cased domain list, props text, revenue text */
#define TBREF_MAX_OWNED       (3 * TB_MAX_BATCH)

/* A parsed beacon.  It owns everything its events point into: the parsed
 * JSON tree (name, url, referrer point into its strings) and a few heap
 * buffers (sites, props and revenue text).  Free with tbref_result_free. */
typedef struct {
    json_t      *root;
    spool_event *ev;                 /* n events, heap */
    size_t       n;
    char        *owned[TBREF_MAX_OWNED];
    size_t       nowned;
} tbref_result;

int tbref_parse(const char *body, size_t len, tbref_result *res,
    const char **err);
void tbref_result_free(tbref_result *res);

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} tbref_obj;

/* longest text of a number: "%.17g" of a double, or a 64-bit integer */
#define TB_NUM_MAX 40


static int
tbref_own(tbref_result *res, char *p)
{
    if (res->nowned == TBREF_MAX_OWNED) {
        free(p);
        return -1;
    }
    res->owned[res->nowned++] = p;
    return 0;
}


/* The value of key `a`, or of key `b` when `a` is absent or null; NULL when
 * both are absent (a JSON null is returned only if both are null). */
static json_t *
tbref_get(json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);

    if (v == NULL || json_is_null(v)) {
        json_t *w = json_object_get(obj, b);
        if (w != NULL) {
            return w;
        }
    }
    return v;
}


static int
tbref_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


static int
tbref_has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t i, n = strlen(prefix);

    if (len < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (tbref_lower((unsigned char) s[i]) != prefix[i]) {
            return 0;
        }
    }
    return 1;
}


/* absolute http(s) URL: scheme, "//", a non-empty authority, no control
 * characters or blanks anywhere */
static int
tbref_url_ok(const char *s, size_t len)
{
    size_t i, start;

    if (tbref_has_prefix_ci(s, len, "https://")) {
        start = 8;
    } else if (tbref_has_prefix_ci(s, len, "http://")) {
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
tbref_real_text(double d, char *buf, size_t cap)
{
    int prec;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            return;
        }
    }
}


/* Text of a JSON scalar as a property value; NULL for null and for
 * containers (*bad set for containers). */
static const char *
tbref_scalar_text(json_t *v, char *num, size_t cap, size_t *len, int *bad)
{
    *bad = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(num, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *len = strlen(num);
        return num;
    case JSON_REAL:
        tbref_real_text(json_real_value(v), num, cap);
        *len = strlen(num);
        return num;
    case JSON_TRUE:
        *len = 4;
        return "true";
    case JSON_FALSE:
        *len = 5;
        return "false";
    case JSON_NULL:
        return NULL;
    default:
        *bad = 1;
        return NULL;
    }
}




static int
tbref_blank_only(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return 0;
        }
    }
    return 1;
}


/* Serialises the props object p into an owned compact JSON object with
 * string values; leaves o->props absent when no pair survives. */
static int
tbref_props_from_object(json_t *p, tbref_obj *o, tbref_result *res, const char **err)
{
    const char *key, *text;
    char        num[TB_NUM_MAX], *buf, *q;
    size_t      cap, klen, vlen;
    int         bad;
    json_t     *v;

    if (json_object_size(p) > TB_MAX_PROPS) {
        *err = "props: too many properties (max 30)";
        return -1;
    }

    cap = 2;
    json_object_foreach(p, key, v) {
        klen = strlen(key);
        if (klen > TB_MAX_PROP_KEY) {
            *err = "props: key longer than 300 bytes";
            return -1;
        }
        text = tbref_scalar_text(v, num, sizeof(num), &vlen, &bad);
        if (bad) {
            *err = "props: values must be strings, numbers or booleans";
            return -1;
        }
        if (text != NULL && vlen > TB_MAX_PROP_VALUE) {
            *err = "props: value longer than 2000 bytes";
            return -1;
        }
        cap += 6 * klen + 6 * (text ? vlen : 0) + 6;
    }

    buf = malloc(cap);
    if (buf == NULL || tbref_own(res, buf) != 0) {
        *err = "out of memory";
        return -1;
    }

    q = buf;
    *q++ = '{';
    json_object_foreach(p, key, v) {
        klen = strlen(key);
        text = tbref_scalar_text(v, num, sizeof(num), &vlen, &bad);
        if (text == NULL || tbref_blank_only(key, klen)
            || tbref_blank_only(text, vlen))
        {
            continue;       /* dropped like Plausible does */
        }
        if (q != buf + 1) {
            *q++ = ',';
        }
        q = tally_json_write(q, key, klen);
        *q++ = ':';
        q = tally_json_write(q, text, vlen);
    }
    *q++ = '}';

    if (q != buf + 2) {
        o->props.ptr = buf;
        o->props.len = (size_t) (q - buf);
    }
    return 0;
}


static int
tbref_props(json_t *obj, tbref_obj *o, tbref_result *res, const char **err)
{
    json_t      *p, *inner;
    json_error_t je;
    int          rc;

    p = tbref_get(obj, "p", "props");
    if (p == NULL || json_is_null(p)) {
        p = tbref_get(obj, "m", "meta");
    }
    if (p == NULL || json_is_null(p)) {
        return 0;
    }

    if (json_is_object(p)) {
        return tbref_props_from_object(p, o, res, err);
    }

    if (!json_is_string(p)) {
        *err = "props: must be an object";
        return -1;
    }

    /* Plausible also takes props as a JSON-encoded string */
    inner = json_loadb(json_string_value(p), json_string_length(p),
                       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (inner == NULL) {
        *err = "props: invalid JSON in string";
        return -1;
    }
    if (!json_is_object(inner)) {
        json_decref(inner);
        *err = "props: must be an object";
        return -1;
    }
    rc = tbref_props_from_object(inner, o, res, err);
    json_decref(inner);
    return rc;
}


/* -?digits(.digits)? -- a plain decimal, at most TB_NUM_MAX - 1 bytes */
static int
tbref_decimal_ok(const char *s, size_t len)
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


static int
tbref_revenue(json_t *obj, tbref_obj *o, tbref_result *res, const char **err)
{
    json_t     *rv, *cur, *amt;
    const char *c, *a;
    char        num[TB_NUM_MAX], *buf;
    size_t      alen;
    int         n;

    rv = tbref_get(obj, "$", "revenue");
    if (rv == NULL || json_is_null(rv)) {
        return 0;
    }
    if (!json_is_object(rv)) {
        *err = "revenue: must be an object";
        return -1;
    }

    cur = json_object_get(rv, "currency");
    c = json_string_value(cur);
    if (c == NULL || json_string_length(cur) != 3
        || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z'
        || c[2] < 'A' || c[2] > 'Z')
    {
        *err = "revenue: currency must be 3 upper-case letters";
        return -1;
    }

    amt = json_object_get(rv, "amount");
    if (json_is_integer(amt)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(amt));
        a = num;
        alen = strlen(num);
    } else if (json_is_real(amt)) {
        tbref_real_text(json_real_value(amt), num, sizeof(num));
        a = num;
        alen = strlen(num);
    } else if (json_is_string(amt)
               && tbref_decimal_ok(json_string_value(amt),
                                json_string_length(amt)))
    {
        a = json_string_value(amt);
        alen = json_string_length(amt);
    } else {
        *err = "revenue: amount must be a number";
        return -1;
    }

    buf = malloc(64 + TB_NUM_MAX);
    if (buf == NULL || tbref_own(res, buf) != 0) {
        *err = "out of memory";
        return -1;
    }
    n = snprintf(buf, 64 + TB_NUM_MAX,
                 "{\"currency\":\"%.3s\",\"amount\":\"%.*s\"}",
                 c, (int) alen, a);
    o->revenue.ptr = buf;
    o->revenue.len = (size_t) n;
    return 0;
}


/* Splits the domain list into trimmed, lower-cased, distinct sites. */
static int
tbref_domains(json_t *v, tbref_obj *o, tbref_result *res, const char **err)
{
    const char *s;
    char       *buf, *p, *end, *start, *stop;
    size_t      len, i, j, n;

    s = json_string_value(v);
    len = json_string_length(v);

    buf = malloc(len + 1);
    if (buf == NULL || tbref_own(res, buf) != 0) {
        *err = "out of memory";
        return -1;
    }
    for (i = 0; i < len; i++) {
        buf[i] = (char) tbref_lower((unsigned char) s[i]);
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
            unsigned char c = (unsigned char) start[i];
            if (c <= 0x20 || c == 0x7f) {
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
tbref_object(json_t *obj, tbref_obj *o, tbref_result *res, const char **err)
{
    json_t *v;

    memset(o, 0, sizeof(*o));

    v = tbref_get(obj, "n", "name");
    if (v == NULL || json_is_null(v)) {
        *err = "missing field: name";
        return -1;
    }
    if (!json_is_string(v)) {
        *err = "name: must be a string";
        return -1;
    }
    o->name.ptr = json_string_value(v);
    o->name.len = json_string_length(v);
    if (o->name.len == 0 || o->name.len > TB_MAX_NAME) {
        *err = "name: must be 1 to 120 bytes";
        return -1;
    }

    v = tbref_get(obj, "u", "url");
    if (v == NULL || json_is_null(v)) {
        *err = "missing field: url";
        return -1;
    }
    if (!json_is_string(v)) {
        *err = "url: must be a string";
        return -1;
    }
    o->url.ptr = json_string_value(v);
    o->url.len = json_string_length(v);
    if (o->url.len > TB_MAX_URL) {
        *err = "url: longer than 2000 bytes";
        return -1;
    }
    if (!tbref_url_ok(o->url.ptr, o->url.len)) {
        *err = "url: must be an absolute http(s) URL";
        return -1;
    }

    v = tbref_get(obj, "d", "domain");
    if (v == NULL || json_is_null(v)) {
        *err = "missing field: domain";
        return -1;
    }
    if (!json_is_string(v)) {
        *err = "domain: must be a string";
        return -1;
    }
    if (tbref_domains(v, o, res, err) != 0) {
        return -1;
    }

    v = tbref_get(obj, "r", "referrer");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v)) {
            *err = "referrer: must be a string or null";
            return -1;
        }
        if (json_string_length(v) > TB_MAX_REFERRER) {
            *err = "referrer: longer than 2000 bytes";
            return -1;
        }
        if (json_string_length(v) > 0) {
            o->referrer.ptr = json_string_value(v);
            o->referrer.len = json_string_length(v);
        }
    }

    if (tbref_props(obj, o, res, err) != 0) {
        return -1;
    }

    if (tbref_revenue(obj, o, res, err) != 0) {
        return -1;
    }

    o->interactive = 1;
    v = tbref_get(obj, "i", "interactive");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            *err = "interactive: must be a boolean";
            return -1;
        }
        o->interactive = json_is_true(v);
    }

    return 0;
}


int
tbref_parse(const char *body, size_t len, tbref_result *res, const char **err)
{
    tbref_obj        objs[TB_MAX_BATCH];
    json_t       *item;
    json_error_t  je;
    spool_event  *ev;
    size_t        nobj, i, j, total;

    memset(res, 0, sizeof(*res));

    if (memchr(body, '\0', len) != NULL) {
        *err = "invalid JSON";
        return -1;
    }

    res->root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                           &je);
    if (res->root == NULL) {
        *err = "invalid JSON";
        return -1;
    }

    if (json_is_object(res->root)) {
        nobj = 1;
        if (tbref_object(res->root, &objs[0], res, err) != 0) {
            goto failed;
        }

    } else if (json_is_array(res->root)) {
        nobj = json_array_size(res->root);
        if (nobj == 0 || nobj > TB_MAX_BATCH) {
            *err = "batch: must hold 1 to 10 events";
            goto failed;
        }
        json_array_foreach(res->root, i, item) {
            if (!json_is_object(item)) {
                *err = "batch: every event must be an object";
                goto failed;
            }
            if (tbref_object(item, &objs[i], res, err) != 0) {
                goto failed;
            }
        }

    } else {
        *err = "body must be a JSON object";
        goto failed;
    }

    total = 0;
    for (i = 0; i < nobj; i++) {
        total += objs[i].ndomains;
    }

    res->ev = calloc(total, sizeof(spool_event));
    if (res->ev == NULL) {
        *err = "out of memory";
        goto failed;
    }

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

    tbref_result_free(res);
    return -1;
}


void
tbref_result_free(tbref_result *res)
{
    size_t i;

    for (i = 0; i < res->nowned; i++) {
        free(res->owned[i]);
    }
    free(res->ev);
    if (res->root != NULL) {
        json_decref(res->root);
    }
    memset(res, 0, sizeof(*res));
}


int
tbref_content_type_ok(const char *value, size_t len)
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

    if (end - i == 16 && tbref_has_prefix_ci(value + i, 16, "application/json"))
    {
        return 1;
    }
    if (end - i == 10 && tbref_has_prefix_ci(value + i, 10, "text/plain")) {
        return 1;
    }
    return 0;
}
