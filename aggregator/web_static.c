/* web_static.c -- GET /, /app.js, /app.css: the built dashboard files,
 * read from the dashboard directory on each request (they are small),
 * with an ETag so browsers revalidate cheaply (Cache-Control: no-cache:
 * the names carry no content hash). */
#include "aggregator/web_int.h"
#include "aggregator/crypto.h"
#include "aggregator/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEB_STATIC_MAX (8u << 20)   /* largest file served, bytes */

/* The page's own CSP (index.html's meta tag) plus what only a header can
 * say: no framing. */
#define WEB_HTML_CSP "frame-ancestors 'none'; default-src 'self';" \
    " script-src 'self'; style-src 'self'; img-src 'self' data:;" \
    " connect-src 'self'; object-src 'none'; base-uri 'none';" \
    " form-action 'self'"

static const char *
web_static_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

/* Reads path into a malloc'd buffer.  Returns 0 with *buf, *len; -1 with
 * errno set (EFBIG when too large). */
static int
web_read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= WEB_STATIC_MAX) {
                free(b);
                fclose(f);
                errno = EFBIG;
                return -1;
            }
            cap = cap ? cap * 2 : 64 * 1024;
            char *nb = realloc(b, cap + 1);
            if (nb == NULL) {
                free(b);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        errno = EIO;
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

void
web_static(void *ctx, const http_request *req, http_response *resp)
{
    const char *name = ctx;
    const char *dir = web_dashboard_dir();
    if (dir[0] == '\0') {
        web_error(resp, 404, "the dashboard is not installed on this server");
        return;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *buf;
    size_t len;
    if (web_read_file(path, &buf, &len) != 0) {
        log_error("web: cannot read %s: %s", path, strerror(errno));
        web_error(resp, errno == ENOENT ? 404 : 500,
                  "cannot read the dashboard file");
        return;
    }
    unsigned char h[CRYPTO_HASH_SIZE];
    crypto_hash256(buf, len, h);
    char etag[32] = "\"";
    crypto_b64url(etag + 1, sizeof(etag) - 2, h, 18);
    strcat(etag, "\"");

    resp->content_type = web_static_type(name);
    resp->cache_control = "no-cache";
    http_add_header(resp, "ETag", etag);
    http_add_header(resp, "Referrer-Policy", "no-referrer");
    if (strstr(resp->content_type, "text/html") != NULL) {
        http_add_header(resp, "Content-Security-Policy", WEB_HTML_CSP);
        http_add_header(resp, "X-Frame-Options", "DENY");
    }
    const char *inm = http_header(req, "If-None-Match");
    if (inm != NULL && strstr(inm, etag) != NULL) {
        free(buf);
        resp->status = 304;
        resp->body = strdup("");
        return;
    }
    resp->status = 200;
    resp->body = buf;
    resp->body_len = len;
}
