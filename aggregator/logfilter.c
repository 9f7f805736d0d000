/* logfilter.c -- see logfilter.h. */
#include "aggregator/logfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* sorted (strcmp) for bsearch */
const char *const lf_filter_static_exts[] = {
    "7z", "aac", "apk", "atom", "avif", "bmp", "bz2", "cjs", "css", "csv",
    "deb", "dmg", "doc", "docx", "eot", "epub", "exe", "flac", "gif", "gz",
    "ico", "iso", "jpeg", "jpg", "js", "json", "m4a", "m4v", "map", "mjs",
    "mov", "mp3", "mp4", "msi", "odp", "ods", "odt", "oga", "ogg", "ogv",
    "otf", "pdf", "png", "ppt", "pptx", "rar", "rpm", "rss", "svg", "tar",
    "tgz", "tif", "tiff", "ttf", "txt", "wasm", "wav", "webm", "webp",
    "woff", "woff2", "xls", "xlsx", "xml", "xz", "zip", NULL
};

#define LF_NEXTS (sizeof lf_filter_static_exts / sizeof lf_filter_static_exts[0] - 1)

static const char *const lf_skip_names[LF_SKIP_COUNT] = {
    "kept", "malformed", "method", "status", "robots", "static", "bot"
};

const char *
lf_skip_name(lf_skip s)
{
    return (unsigned)s < LF_SKIP_COUNT ? lf_skip_names[s] : "?";
}

void
lf_filter_init(lf_filter *f)
{
    memset(f, 0, sizeof *f);
    for (int s = 200; s <= 299; s++)
        f->status_ok[s] = 1;
    f->status_ok[304] = 1;
}

static void
lf_seterr(char *err, size_t errlen, const char *what, const char *tok,
          size_t n)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: \"%.*s\"", what, (int)n, tok);
}

int
lf_filter_set_statuses(lf_filter *f, const char *spec, char *err,
                       size_t errlen)
{
    unsigned char ok[1000];
    memset(ok, 0, sizeof ok);
    const char *p = spec;
    int any = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *t = p;
        while (n > 0 && *t == ' ')
            t++, n--;
        while (n > 0 && t[n - 1] == ' ')
            n--;
        unsigned lo, hi;
        char c1, c2;
        if (n == 3 && t[0] >= '1' && t[0] <= '9'
            && (t[1] == 'x' || t[1] == 'X') && (t[2] == 'x' || t[2] == 'X')) {
            lo = (unsigned)(t[0] - '0') * 100;
            hi = lo + 99;
        } else {
            char tok[16];
            if (n == 0 || n >= sizeof tok) {
                lf_seterr(err, errlen, "bad status", t, n);
                return -1;
            }
            memcpy(tok, t, n);
            tok[n] = '\0';
            int used = 0;
            if (sscanf(tok, "%3u%c%n", &lo, &c1, &used) == 1
                && strspn(tok, "0123456789") == n) {
                hi = lo;
            } else if (sscanf(tok, "%3u-%3u%c", &lo, &hi, &c2) == 2
                       && strspn(tok, "0123456789-") == n) {
                ;
            } else {
                lf_seterr(err, errlen, "bad status", t, n);
                return -1;
            }
            if (lo < 100 || hi > 999 || lo > hi) {
                lf_seterr(err, errlen, "status out of range 100-999", t, n);
                return -1;
            }
        }
        for (unsigned s = lo; s <= hi; s++)
            ok[s] = 1;
        any = 1;
        if (p[strcspn(p, ",")] == '\0')
            break;
        p += strcspn(p, ",") + 1;
    }
    if (!any) {
        lf_seterr(err, errlen, "empty status list", spec, strlen(spec));
        return -1;
    }
    memcpy(f->status_ok, ok, sizeof ok);
    return 0;
}

static int
lf_eq(lf_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static int
lf_cmp_ext(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/* the last segment's extension, lower-cased into ext; 0 if none */
static int
lf_ext(lf_str last, char *ext, size_t cap)
{
    size_t dot = last.n;
    while (dot > 0 && last.p[dot - 1] != '.')
        dot--;
    if (dot == 0)
        return 0;
    size_t n = last.n - dot;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = last.p[dot + i];
        ext[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    ext[n] = '\0';
    return 1;
}

lf_skip
lf_filter_check(const lf_filter *f, const lf_record *rec, lf_bot_fn is_bot,
                void *ctx)
{
    if ((rec->has & LF_HAS_METHOD)
        && (rec->method.n != 3 || memcmp(rec->method.p, "GET", 3) != 0))
        return LF_SKIP_METHOD;
    if ((rec->has & LF_HAS_STATUS)
        && (rec->status < 0 || rec->status > 999
            || !f->status_ok[rec->status]))
        return LF_SKIP_STATUS;
    lf_str path = rec->path;
    if (path.n == 0 || path.p[0] != '/')
        return LF_SKIP_MALFORMED;

    size_t slash = path.n;
    while (slash > 0 && path.p[slash - 1] != '/')
        slash--;
    lf_str last = { path.p + slash, path.n - slash };
    if (lf_eq(path, "/robots.txt") || lf_eq(path, "/favicon.ico")
        || lf_eq(path, "/sitemap.xml")
        || (path.n >= 13 && strncasecmp(path.p, "/.well-known/", 13) == 0)
        || (last.n >= 16 && strncasecmp(last.p, "apple-touch-icon", 16) == 0))
        return LF_SKIP_ROBOTS;

    char ext[8];
    if (!f->include_static && lf_ext(last, ext, sizeof ext)
        && bsearch(ext, lf_filter_static_exts, LF_NEXTS,
                   sizeof lf_filter_static_exts[0], lf_cmp_ext) != NULL)
        return LF_SKIP_STATIC;

    if (is_bot != NULL && is_bot(ctx, rec))
        return LF_SKIP_BOT;
    return LF_KEEP;
}
