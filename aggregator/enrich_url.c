/*
 * enrich_url.c -- page URL parsing (see enrich_url.h).
 */
#include "aggregator/enrich_url.h"

#include "aggregator/enrich_text.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static int
url_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
en_url_split(const char *s, size_t len, en_url_parts *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return -1;
    while (len && url_space(s[0])) { s++; len--; }
    while (len && url_space(s[len - 1])) len--;
    size_t i = 0;
    if (len == 0 || !isalpha((unsigned char)s[0])) return -1;
    while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (len - i < 3 || memcmp(s + i, "://", 3) != 0) return -1;
    out->scheme = s;
    out->scheme_len = i;
    size_t a = i + 3, e = a;
    while (e < len && s[e] != '/' && s[e] != '?' && s[e] != '#') e++;
    /* authority s[a..e): [userinfo@]host[:port] */
    size_t h = a;
    for (size_t k = a; k < e; k++)
        if (s[k] == '@') h = k + 1;
    size_t he = h;
    if (h < e && s[h] == '[') {                    /* IPv6 literal */
        while (he < e && s[he] != ']') he++;
        if (he < e) he++;
    } else {
        while (he < e && s[he] != ':') he++;
    }
    if (he == h) return -1;
    out->host = s + h;
    out->host_len = he - h;
    size_t p = e;
    while (p < len && s[p] != '?' && s[p] != '#') p++;
    out->path = s + e;
    out->path_len = p - e;
    if (p < len && s[p] == '?') {
        size_t q = p + 1, qe = q;
        while (qe < len && s[qe] != '#') qe++;
        out->query = s + q;
        out->query_len = qe - q;
        out->has_query = 1;
    } else {
        out->query = s + p;
    }
    return 0;
}

int
en_url_host(char *dst, size_t cap, const char *host, size_t len)
{
    char buf[EN_URL_HOST];
    size_t n = 0;
    dst[0] = '\0';
    if (len && host[len - 1] == '.') len--;
    if (len >= 4 && strncasecmp(host, "www.", 4) == 0) { host += 4; len -= 4; }
    if (len == 0 || len >= sizeof buf) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= 0x20 || c == 0x7F || strchr("/?#@<>\"'\\%{}|^`", c)) return -1;
        buf[n++] = (char)(c < 0x80 ? tolower(c) : c);
    }
    size_t w = en_text_copy(dst, cap, buf, n);
    if (w != n) {                                  /* invalid UTF-8 or too long */
        dst[0] = '\0';
        return -1;
    }
    return (int)w;
}

static int
url_hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Byte of "%XX" at s[i], or -1 if there is none there. */
static int
url_pct(const char *s, size_t n, size_t i)
{
    if (i + 2 >= n || s[i] != '%') return -1;
    int hi = url_hex(s[i + 1]), lo = url_hex(s[i + 2]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int
url_unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Path: decodes %XX of unreserved characters and of whole valid UTF-8
 * characters, upper-cases the hex of the escapes it keeps. */
static void
url_path(char *dst, size_t cap, const char *s, size_t n)
{
    char buf[EN_URL_PATH * 3];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < sizeof buf;) {
        int b = url_pct(s, n, i);
        if (b < 0) {
            buf[o++] = s[i++];
            continue;
        }
        if (url_unreserved(b)) {
            buf[o++] = (char)b;
            i += 3;
            continue;
        }
        if (b >= 0x80) {                           /* a whole UTF-8 character? */
            unsigned char seq[4];
            size_t k = 0;
            while (k < 4 && url_pct(s, n, i + 3 * k) >= 0) {
                seq[k] = (unsigned char)url_pct(s, n, i + 3 * k);
                k++;
            }
            size_t m = en_utf8_seq(seq, k);
            if (m) {
                memcpy(buf + o, seq, m);
                o += m;
                i += 3 * m;
                continue;
            }
        }
        static const char hex[] = "0123456789ABCDEF";
        buf[o++] = '%';
        buf[o++] = hex[b >> 4];
        buf[o++] = hex[b & 15];
        i += 3;
    }
    if (o == 0) buf[o++] = '/';
    en_text_copy(dst, cap, buf, o);
    if (!dst[0]) strcpy(dst, "/");
}

/* Form-decodes s[0..n) ('+' is a space) into dst, sanitised. */
static size_t
url_form(char *dst, size_t cap, const char *s, size_t n)
{
    char buf[EN_URL_TAG * 4];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof buf;) {
        int b = url_pct(s, n, i);
        if (b >= 0) {
            buf[o++] = (char)b;
            i += 3;
        } else {
            buf[o++] = s[i] == '+' ? ' ' : s[i];
            i++;
        }
    }
    return en_text_copy(dst, cap, buf, o);
}

static void
url_query(en_url *out, const char *q, size_t n)
{
    static const struct { const char *key; size_t off; } tags[] = {
        { "utm_source", offsetof(en_url, utm_source) },
        { "utm_medium", offsetof(en_url, utm_medium) },
        { "utm_campaign", offsetof(en_url, utm_campaign) },
        { "utm_content", offsetof(en_url, utm_content) },
        { "utm_term", offsetof(en_url, utm_term) },
    };
    char source[EN_URL_TAG] = "", ref[EN_URL_TAG] = "";
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && q[e] != '&') e++;
        size_t eq = i;
        while (eq < e && q[eq] != '=') eq++;
        char key[32];
        size_t kl = eq - i < 64 ? url_form(key, sizeof key, q + i, eq - i) : 0;
        const char *v = eq < e ? q + eq + 1 : q + e;
        size_t vl = eq < e ? e - eq - 1 : 0;
        char *dst = NULL;
        for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++)
            if (kl && strcmp(key, tags[t].key) == 0) dst = (char *)out + tags[t].off;
        if (kl && strcmp(key, "source") == 0) dst = source;
        if (kl && strcmp(key, "ref") == 0) dst = ref;
        if (dst && !dst[0]) url_form(dst, EN_URL_TAG, v, vl);   /* first non-empty wins */
        if (!out->click_id && kl && strcmp(key, "gclid") == 0) out->click_id = "gclid";
        if (!out->click_id && kl && strcmp(key, "msclkid") == 0) out->click_id = "msclkid";
        i = e + 1;
    }
    const char *tagged = out->utm_source[0] ? out->utm_source : source[0] ? source : ref;
    memcpy(out->tagged_source, tagged, strlen(tagged) + 1);
}

int
en_url_parse(const char *u, size_t len, en_url *out)
{
    en_url_parts p;
    memset(out, 0, sizeof *out);
    if (en_url_split(u, len, &p) != 0) return -1;
    if (!((p.scheme_len == 4 && strncasecmp(p.scheme, "http", 4) == 0)
          || (p.scheme_len == 5 && strncasecmp(p.scheme, "https", 5) == 0)))
        return -1;
    if (en_url_host(out->host, sizeof out->host, p.host, p.host_len) < 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    url_path(out->path, sizeof out->path, p.path, p.path_len);
    if (p.has_query) url_query(out, p.query, p.query_len);
    return 0;
}
