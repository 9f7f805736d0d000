/* web_core.c -- web_init, the web routes' database connections and the
 * request helpers of web_int.h. */
#include "aggregator/web_int.h"
#include "aggregator/crypto.h"
#include "aggregator/log.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char web_db_path[PATH_MAX];
static char web_dir[PATH_MAX];
static pthread_key_t web_db_key;
static pthread_once_t web_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t web_wmu = PTHREAD_MUTEX_INITIALIZER;
static db *web_wdb;

static void
web_db_destroy(void *p)
{
    db_close(p);
}

static void
web_key_init(void)
{
    pthread_key_create(&web_db_key, web_db_destroy);
}

/* 1 when dir/index.html is a readable file. */
static int
web_dir_ok(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s/index.html", dir) >= (int)sizeof(p))
        return 0;
    return access(p, R_OK) == 0;
}

/* The dashboard files: $TALLY_DASHBOARD_DIR, else dashboard/ beside the
 * binary or beside its directory (build/tallyd, build/address/tallyd ->
 * build/dashboard), else /usr/share/tally/dashboard. */
static void
web_find_dir(void)
{
    const char *env = getenv("TALLY_DASHBOARD_DIR");
    web_dir[0] = '\0';
    if (env != NULL && *env != '\0') {
        if (web_dir_ok(env) && strlen(env) < sizeof(web_dir))
            strcpy(web_dir, env);
        else
            log_warn("web: TALLY_DASHBOARD_DIR %s has no index.html", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            char cand[PATH_MAX];
            snprintf(cand, sizeof(cand), "%.4000s/dashboard", exe);
            if (web_dir_ok(cand)) {
                strcpy(web_dir, cand);
                return;
            }
            snprintf(cand, sizeof(cand), "%.4000s/../dashboard", exe);
            if (web_dir_ok(cand)) {
                strcpy(web_dir, cand);
                return;
            }
        }
    }
    if (web_dir_ok("/usr/share/tally/dashboard"))
        strcpy(web_dir, "/usr/share/tally/dashboard");
}

int
web_init(const char *db_path)
{
    if (strlen(db_path) >= sizeof(web_db_path))
        return -1;
    strcpy(web_db_path, db_path);
    pthread_once(&web_once, web_key_init);
    web_rate_init();
    char err[512];
    pthread_mutex_lock(&web_wmu);
    if (web_wdb == NULL && db_web_open(web_db_path, &web_wdb, err, sizeof(err)) != 0) {
        pthread_mutex_unlock(&web_wmu);
        log_error("web: %s", err);
        return -1;
    }
    pthread_mutex_unlock(&web_wmu);
    web_find_dir();
    if (web_dir[0] == '\0')
        log_warn("web: dashboard files not found (set TALLY_DASHBOARD_DIR or"
                 " install them in /usr/share/tally/dashboard); GET / answers 404");
    else
        log_info("web: serving the dashboard from %s", web_dir);
    return 0;
}

const char *
web_dashboard_dir(void)
{
    return web_dir;
}

db *
web_db(void)
{
    db *d = pthread_getspecific(web_db_key);
    if (d == NULL) {
        char err[512];
        if (db_open(web_db_path, DB_RO, &d, err, sizeof(err)) != 0) {
            log_error("web: %s", err);
            return NULL;
        }
        pthread_setspecific(web_db_key, d);
    }
    return d;
}

db *
web_wdb_lock(void)
{
    pthread_mutex_lock(&web_wmu);
    if (web_wdb == NULL) {
        char err[512];
        if (db_web_open(web_db_path, &web_wdb, err, sizeof(err)) != 0) {
            log_error("web: %s", err);
            pthread_mutex_unlock(&web_wmu);
            return NULL;
        }
    }
    return web_wdb;
}

void
web_wdb_unlock(void)
{
    pthread_mutex_unlock(&web_wmu);
}

void
web_error(http_response *resp, int status, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    resp->status = status;
    resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
}

void
web_no_content(http_response *resp)
{
    resp->status = 204;
    resp->body = strdup("");
}

static int
web_b64url_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
web_token_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t i = 0;
    for (; s[i] != '\0'; i++)
        if (i >= WEB_TOKEN_LEN || !web_b64url_char(s[i]))
            return 0;
    return i == WEB_TOKEN_LEN;
}

void
web_token_new(char out[WEB_TOKEN_BUF])
{
    unsigned char raw[32];
    crypto_random(raw, sizeof(raw));
    crypto_b64url(out, WEB_TOKEN_BUF, raw, sizeof(raw));
    crypto_wipe(raw, sizeof(raw));
}

int
web_cookie(const http_request *req, const char *name, char *out, size_t cap)
{
    const char *h = http_header(req, "Cookie");
    size_t nlen = strlen(name);
    while (h != NULL && *h != '\0') {
        while (*h == ' ' || *h == '\t' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t plen = end ? (size_t)(end - h) : strlen(h);
        if (plen > nlen && strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
            const char *v = h + nlen + 1;
            size_t vlen = plen - nlen - 1;
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= cap)
                return 0;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 1;
        }
        h = end;
    }
    return 0;
}

static int
web_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int
web_form_field(const char *body, size_t len, const char *name, char *out,
               size_t cap, size_t *outlen)
{
    size_t nlen = strlen(name), i = 0;
    while (i < len) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end - i > nlen && memcmp(body + i, name, nlen) == 0
            && body[i + nlen] == '=') {
            size_t o = 0;
            for (size_t j = i + nlen + 1; j < end; j++) {
                int c = (unsigned char)body[j];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = j + 2 < end ? web_hex(body[j + 1]) : -1;
                    int lo = j + 2 < end ? web_hex(body[j + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return -1;
                    c = hi * 16 + lo;
                    j += 2;
                }
                if (o + 1 >= cap)
                    return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
            *outlen = o;
            return 1;
        }
        if (end - i == nlen && memcmp(body + i, name, nlen) == 0) {
            out[0] = '\0';
            *outlen = 0;
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

int
web_is_tls(const http_request *req)
{
    const char *p = http_header(req, "X-Forwarded-Proto");
    return p != NULL && strcasecmp(p, "https") == 0;
}
