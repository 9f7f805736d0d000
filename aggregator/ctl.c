/* ctl.c -- see ctl.h: the control-entry codec. */
#include "aggregator/ctl.h"

#include <stdio.h>
#include <string.h>

enum {
    K_T = 1u << 0, K_ID = 1u << 1, K_KIND = 1u << 2, K_SITE = 1u << 3,
    K_TZ = 1u << 4, K_NAME = 1u << 5, K_VALUE = 1u << 6,
    K_PWHASH = 1u << 7, K_HASH = 1u << 8
};

static const char *const ctl_keys[] = {
    "t", "id", "kind", "site", "tz", "name", "value", "pwhash", "hash"
};
#define CTL_NKEYS (sizeof(ctl_keys) / sizeof(ctl_keys[0]))

static const struct {
    const char *name;
    unsigned    need, may;        /* may: optional keys besides need */
} ctl_verbs[CTL_VERB_END] = {
    [CTL_SITE_ADD]     = { "site.add",     K_SITE | K_TZ | K_T, 0 },
    [CTL_SITE_REMOVE]  = { "site.remove",  K_SITE, 0 },
    [CTL_GOAL_ADD]     = { "goal.add",     K_SITE | K_KIND | K_VALUE | K_T, 0 },
    [CTL_GOAL_REMOVE]  = { "goal.remove",  K_SITE | K_ID, 0 },
    [CTL_KEY_ADD]      = { "key.add",      K_HASH | K_T, K_NAME | K_SITE },
    [CTL_KEY_REVOKE]   = { "key.revoke",   K_ID | K_T, 0 },
    [CTL_KEY_SCOPE]    = { "key.scope",    K_ID | K_SITE, 0 },
    [CTL_USER_ADD]     = { "user.add",     K_NAME | K_PWHASH | K_T, 0 },
    [CTL_USER_PASSWD]  = { "user.passwd",  K_NAME | K_PWHASH, 0 },
    [CTL_USER_REMOVE]  = { "user.remove",  K_NAME, 0 },
    [CTL_SHARE_ADD]    = { "share.add",    K_HASH | K_SITE | K_T, 0 },
    [CTL_SHARE_REVOKE] = { "share.revoke", K_ID | K_T, 0 },
};

#define CTL_INT_MAX ((int64_t)1 << 62)

const char *
ctl_verb_name(enum ctl_verb v)
{
    return v > CTL_NONE && v < CTL_VERB_END ? ctl_verbs[v].name : "?";
}

const char *
ctl_status_name(int status)
{
    switch (status) {
    case CTL_DONE:     return "applied";
    case CTL_EXISTS:   return "exists";
    case CTL_NOTFOUND: return "not found";
    case CTL_INVALID:  return "invalid";
    default:           return "?";
    }
}

/* ---- value rules, shared by both directions ---- */

/* A domain: 1..CTL_SITE_MAX bytes, no blank, control byte or '/'. */
static int
ok_site(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CTL_SITE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '/')
            return 0;
    return 1;
}

static int
ok_chars(const char *s, size_t min, size_t max, const char *set)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                    || (ch >= '0' && ch <= '9');
        if (set == NULL ? (ch < 0x21 || ch > 0x7e)
                        : (!alnum && strchr(set, ch) == NULL))
            return 0;
    }
    return 1;
}

/* No control bytes (< 0x20, 0x7f); length min..max. */
static int
ok_text(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* The keys present in c, and whether their values are valid.  Returns
 * the mask, or -1 naming the bad key in *bad. */
static long
ctl_check(const ctl_cmd *c, unsigned mask, const char **bad)
{
    int user = c->verb == CTL_USER_ADD || c->verb == CTL_USER_PASSWD
               || c->verb == CTL_USER_REMOVE;
    if ((mask & K_T) && (c->t < 0 || c->t > CTL_INT_MAX))
        return *bad = "t", -1;
    if ((mask & K_ID) && (c->id <= 0 || c->id > CTL_INT_MAX))
        return *bad = "id", -1;
    if ((mask & K_KIND) && c->kind != CTL_GOAL_EVENT && c->kind != CTL_GOAL_PAGE)
        return *bad = "kind", -1;
    if ((mask & K_SITE) && c->verb != CTL_KEY_ADD && !ok_site(c->site))
        return *bad = "site", -1;
    for (size_t i = 0; c->verb == CTL_KEY_ADD && i < c->nsites; i++)
        if (!ok_site(c->sites[i]))
            return *bad = "site", -1;
    if ((mask & K_TZ) && !ok_chars(c->tz, 1, CTL_TZ_MAX, "/_+-"))
        return *bad = "tz", -1;
    if ((mask & K_NAME) && !(user ? ok_chars(c->name, 1, 64, "._@+-")
                                    && c->name[0] != '-'
                                  : ok_text(c->name, 0, CTL_NAME_MAX)))
        return *bad = "name", -1;
    if ((mask & K_VALUE) && !ok_text(c->value, 1, CTL_VALUE_MAX))
        return *bad = "value", -1;
    if ((mask & K_PWHASH) && !ok_chars(c->pwhash, 1, CTL_PWHASH_MAX, NULL))
        return *bad = "pwhash", -1;
    if ((mask & K_HASH) && !c->has_hash)
        return *bad = "hash", -1;
    return (long)mask;
}

/* ---- encoding ---- */

typedef struct {
    char  *p;
    size_t n, cap;
    int    full;
} ctl_buf;

static void
put_raw(ctl_buf *b, const char *s, size_t n)
{
    if (b->full || b->n + n >= b->cap) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void
put_val(ctl_buf *b, const char *key, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    put_raw(b, " ", 1);
    put_raw(b, key, strlen(key));
    put_raw(b, "=", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x21 || ch > 0x7e || ch == '%' || ch == '=') {
            char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
            put_raw(b, e, 3);
        } else {
            put_raw(b, (const char *)&ch, 1);
        }
    }
}

static void
put_str(ctl_buf *b, const char *key, const char *v)
{
    put_val(b, key, v, strlen(v));
}

static void
put_int(ctl_buf *b, const char *key, int64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    put_str(b, key, num);
}

long
ctl_encode(const ctl_cmd *c, char *out, size_t cap)
{
    if (cap == 0 || c->verb <= CTL_NONE || c->verb >= CTL_VERB_END)
        return -1;
    const char *bad;
    unsigned need = ctl_verbs[c->verb].need;
    unsigned use = need | ctl_verbs[c->verb].may;
    if (c->verb == CTL_KEY_ADD && c->nsites > CTL_SITES_MAX)
        return -1;
    if (ctl_check(c, use, &bad) < 0)
        return -1;
    ctl_buf b = { out, 0, cap, 0 };
    out[0] = '\0';
    put_raw(&b, CTL_MAGIC " ", sizeof(CTL_MAGIC));
    put_raw(&b, ctl_verbs[c->verb].name, strlen(ctl_verbs[c->verb].name));
    if (use & K_T)
        put_int(&b, "t", c->t);
    if (use & K_ID)
        put_int(&b, "id", c->id);
    if (use & K_KIND)
        put_str(&b, "kind", c->kind == CTL_GOAL_PAGE ? "page" : "event");
    if ((use & K_SITE) && c->verb != CTL_KEY_ADD)
        put_str(&b, "site", c->site);
    for (size_t i = 0; c->verb == CTL_KEY_ADD && i < c->nsites; i++)
        put_str(&b, "site", c->sites[i]);
    if (use & K_TZ)
        put_str(&b, "tz", c->tz);
    if ((use & K_NAME) && (c->verb != CTL_KEY_ADD || c->name[0]))
        put_str(&b, "name", c->name);
    if (use & K_VALUE)
        put_str(&b, "value", c->value);
    if (use & K_PWHASH)
        put_str(&b, "pwhash", c->pwhash);
    if (use & K_HASH) {
        static const char hex[] = "0123456789abcdef";
        char h[2 * CTL_HASH_SIZE + 1];
        for (size_t i = 0; i < CTL_HASH_SIZE; i++) {
            h[2 * i] = hex[c->hash[i] >> 4];
            h[2 * i + 1] = hex[c->hash[i] & 15];
        }
        h[2 * CTL_HASH_SIZE] = '\0';
        put_str(&b, "hash", h);
    }
    return b.full ? -1 : (long)b.n;
}

/* ---- decoding ---- */

static int
hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s + n) into out (cap bytes, NUL terminated).
 * Returns 0, or -1 (bad escape, a NUL byte, a raw byte outside
 * 0x21..0x7e, too long). */
static int
unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval((unsigned char)s[i + 1])) < 0
                || (lo = hexval((unsigned char)s[i + 2])) < 0)
                return -1;
            ch = (unsigned char)(hi << 4 | lo);
            i += 2;
            if (ch == 0)
                return -1;
        } else if (ch < 0x21 || ch > 0x7e || ch == '=') {
            return -1;
        }
        if (k + 1 >= cap)
            return -1;
        out[k++] = (char)ch;
    }
    out[k] = '\0';
    return 0;
}

/* A decimal integer 0..CTL_INT_MAX.  0 or -1. */
static int
parse_int(const char *s, int64_t *v)
{
    if (*s == '\0' || strlen(s) > 19)
        return -1;
    int64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (CTL_INT_MAX - (*s - '0')) / 10)
            return -1;
        x = x * 10 + (*s - '0');
    }
    *v = x;
    return 0;
}

static int
fail(char *err, size_t errlen, const char *what, const char *key)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, key ? " " : "", key ? key : "");
    return -1;
}

/* Stores value v (NUL terminated, decoded) of key k into c. */
static int
ctl_set(ctl_cmd *c, size_t k, const char *v)
{
    switch (1u << k) {
    case K_T:    return parse_int(v, &c->t);
    case K_ID:   return parse_int(v, &c->id);
    case K_KIND:
        c->kind = strcmp(v, "event") == 0 ? CTL_GOAL_EVENT
                : strcmp(v, "page") == 0 ? CTL_GOAL_PAGE : 0;
        return c->kind ? 0 : -1;
    case K_SITE:
        if (strlen(v) > CTL_SITE_MAX)
            return -1;
        if (c->verb == CTL_KEY_ADD) {
            if (c->nsites >= CTL_SITES_MAX)
                return -1;
            strcpy(c->sites[c->nsites++], v);
        } else {
            strcpy(c->site, v);
        }
        return 0;
    case K_TZ:
        return strlen(v) > CTL_TZ_MAX ? -1 : (strcpy(c->tz, v), 0);
    case K_NAME:
        return strlen(v) > CTL_NAME_MAX ? -1 : (strcpy(c->name, v), 0);
    case K_VALUE:
        return strlen(v) > CTL_VALUE_MAX ? -1 : (strcpy(c->value, v), 0);
    case K_PWHASH:
        return strlen(v) > CTL_PWHASH_MAX ? -1 : (strcpy(c->pwhash, v), 0);
    case K_HASH:
        if (strlen(v) != 2 * CTL_HASH_SIZE)
            return -1;
        for (size_t i = 0; i < CTL_HASH_SIZE; i++) {
            int hi = hexval((unsigned char)v[2 * i]);
            int lo = hexval((unsigned char)v[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            c->hash[i] = (unsigned char)(hi << 4 | lo);
        }
        c->has_hash = 1;
        return 0;
    }
    return -1;
}

int
ctl_decode(const char *in, size_t len, ctl_cmd *c, char *err, size_t errlen)
{
    char buf[CTL_VALUE_MAX + 2];
    memset(c, 0, sizeof(*c));
    if (len > CTL_ENTRY_MAX)
        return fail(err, errlen, "entry too long", NULL);
    const char *p = in, *end = in + len;
    size_t ml = strlen(CTL_MAGIC);
    if (len < ml + 1 || memcmp(p, CTL_MAGIC, ml) != 0 || p[ml] != ' ')
        return fail(err, errlen, "not a tally-ctl/1 entry", NULL);
    p += ml + 1;
    const char *w = p;
    while (p < end && *p != ' ')
        p++;
    size_t wl = (size_t)(p - w);
    for (int v = CTL_NONE + 1; v < CTL_VERB_END; v++)
        if (strlen(ctl_verbs[v].name) == wl
            && memcmp(ctl_verbs[v].name, w, wl) == 0)
            c->verb = (enum ctl_verb)v;
    if (c->verb == CTL_NONE)
        return fail(err, errlen, "unknown verb", NULL);
    unsigned need = ctl_verbs[c->verb].need;
    unsigned allowed = need | ctl_verbs[c->verb].may, seen = 0;
    while (p < end) {
        if (*p != ' ' || p + 1 >= end)
            return fail(err, errlen, "malformed", NULL);
        p++;
        const char *kb = p;
        while (p < end && *p != '=' && *p != ' ')
            p++;
        if (p >= end || *p != '=')
            return fail(err, errlen, "malformed: key without value", NULL);
        size_t kl = (size_t)(p - kb), k = 0;
        while (k < CTL_NKEYS && (strlen(ctl_keys[k]) != kl
                                 || memcmp(ctl_keys[k], kb, kl) != 0))
            k++;
        if (k == CTL_NKEYS)
            return fail(err, errlen, "unknown key", NULL);
        const char *vb = ++p;
        while (p < end && *p != ' ')
            p++;
        unsigned bit = 1u << k;
        if (!(allowed & bit))
            return fail(err, errlen, "key not allowed for this verb:",
                        ctl_keys[k]);
        if ((seen & bit) && !(bit == K_SITE && c->verb == CTL_KEY_ADD))
            return fail(err, errlen, "repeated key", ctl_keys[k]);
        seen |= bit;
        if (unescape(vb, (size_t)(p - vb), buf, sizeof(buf)) != 0
            || ctl_set(c, k, buf) != 0)
            return fail(err, errlen, "bad value of", ctl_keys[k]);
    }
    for (size_t k = 0; k < CTL_NKEYS; k++)
        if ((need & (1u << k)) && !(seen & (1u << k)))
            return fail(err, errlen, "missing key", ctl_keys[k]);
    const char *bad = NULL;
    if (ctl_check(c, seen, &bad) < 0)
        return fail(err, errlen, "bad value of", bad);
    return 0;
}
