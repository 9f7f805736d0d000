/* norm.c -- see norm.h. */
#include "aggregator/norm.h"

#include <string.h>

static const char *
norm_find(const char *s, size_t len, const char *set)
{
    for (size_t i = 0; i < len; i++)
        if (strchr(set, s[i]) != NULL && s[i] != '\0')
            return s + i;
    return s + len;
}

static void
norm_host(const char *a, size_t alen, norm_url *out)
{
    /* userinfo ends at the last '@' of the authority */
    for (size_t i = alen; i > 0; i--) {
        if (a[i - 1] == '@') {
            a += i;
            alen -= i;
            break;
        }
    }
    /* port: digits after the last ':' outside an IPv6 literal */
    size_t end = alen;
    const char *rb = memchr(a, ']', alen);
    size_t from = rb ? (size_t)(rb - a) + 1 : 0;
    for (size_t i = alen; i > from; i--) {
        if (a[i - 1] == ':') {
            end = i - 1;
            break;
        }
    }
    while (end > 0 && a[end - 1] == '.')
        end--;
    if (end >= 4 && strncasecmp(a, "www.", 4) == 0 && end > 4) {
        a += 4;
        end -= 4;
    }
    if (end >= NORM_HOST_MAX)
        end = NORM_HOST_MAX - 1;
    for (size_t i = 0; i < end; i++) {
        char c = a[i];
        out->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out->host[end] = '\0';
    out->host_len = end;
}

void
norm_url_split(const char *url, size_t len, norm_url *out)
{
    out->host[0] = '\0';
    out->host_len = 0;
    const char *p = url, *e = url + len;

    /* "scheme://" counts when its colon comes before any of / ? # */
    const char *sch = NULL;
    if (sch == NULL) {
        const char *c = memchr(url, ':', len);
        if (c && c + 3 <= e && c[1] == '/' && c[2] == '/'
            && norm_find(url, (size_t)(c - url), "/?#") == c)
            sch = c;
    }
    if (sch != NULL) {
        const char *a = sch + 3;
        const char *aend = norm_find(a, (size_t)(e - a), "/?#");
        norm_host(a, (size_t)(aend - a), out);
        p = aend;
    }
    const char *pend = norm_find(p, (size_t)(e - p), "?#");
    if (pend == p) {
        out->path = "/";
        out->path_len = 1;
    } else {
        out->path = p;
        out->path_len = (size_t)(pend - p);
    }
}
