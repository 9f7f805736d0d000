/* redis.c -- see redis.h.  The only file that includes hiredis. */
#include "aggregator/redis.h"

#include <hiredis/hiredis.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct redis_conn {
    redis_url     url;
    int           timeout_ms;
    redisContext *ctx;
    int           broken;
    int           queued;        /* commands appended, replies not read */
    char          err[256];
};

/* ---- URL ----------------------------------------------------------- */

static int
url_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return -1;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Copies [s, s+n) percent-decoded into out (cap bytes incl. NUL).
 * Returns 0, or -1 if it does not fit or holds a bad escape or a NUL. */
static int
pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval((unsigned char)s[i + 1]);
            int l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* Parses a decimal number (1..9 digits, <= maxv) in [s, s+n) into *v. */
static int
parse_num(const char *s, size_t n, long maxv, long *v)
{
    if (n == 0 || n > 9)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x > maxv)
        return -1;
    *v = x;
    return 0;
}

int
redis_url_parse(const char *url, redis_url *u, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (url == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return url_err(err, errlen, "redis URL must start with redis://");
    const char *a = url + sizeof(scheme) - 1;
    const char *end = a + strcspn(a, "/?#");
    if (*end == '?' || *end == '#')
        return url_err(err, errlen, "redis URL: query or fragment not supported");

    /* userinfo: everything before the last '@' of the authority */
    const char *at = NULL;
    for (const char *p = a; p < end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        const char *ps = colon ? colon + 1 : a;
        if (colon && pct_decode(a, (size_t)(colon - a), u->user, sizeof(u->user)) != 0)
            return url_err(err, errlen, "redis URL: bad user name");
        if (pct_decode(ps, (size_t)(at - ps), u->pass, sizeof(u->pass)) != 0)
            return url_err(err, errlen, "redis URL: bad password");
        if (u->pass[0] == '\0' && u->user[0] != '\0')
            return url_err(err, errlen, "redis URL: user without password");
        a = at + 1;
    }

    /* host */
    const char *hend;
    const char *pstart = NULL;
    if (*a == '[') {
        const char *rb = memchr(a, ']', (size_t)(end - a));
        if (rb == NULL || rb == a + 1)
            return url_err(err, errlen, "redis URL: bad [IPv6] host");
        if ((size_t)(rb - a - 1) >= sizeof(u->host))
            return url_err(err, errlen, "redis URL: host too long");
        memcpy(u->host, a + 1, (size_t)(rb - a - 1));
        hend = rb + 1;
        if (hend < end && *hend != ':')
            return url_err(err, errlen, "redis URL: junk after [IPv6] host");
    } else {
        const char *colon = memchr(a, ':', (size_t)(end - a));
        hend = colon ? colon : end;
        if (hend == a)
            return url_err(err, errlen, "redis URL: missing host");
        if ((size_t)(hend - a) >= sizeof(u->host))
            return url_err(err, errlen, "redis URL: host too long");
        for (const char *p = a; p < hend; p++)
            if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
                return url_err(err, errlen, "redis URL: bad character in host");
        memcpy(u->host, a, (size_t)(hend - a));
    }
    if (hend < end && *hend == ':')
        pstart = hend + 1;
    if (pstart) {
        long port;
        if (parse_num(pstart, (size_t)(end - pstart), 65535, &port) != 0 || port == 0)
            return url_err(err, errlen, "redis URL: bad port");
        u->port = (int)port;
    }

    /* "/DB" */
    if (*end == '/' && end[1] != '\0') {
        long db;
        if (parse_num(end + 1, strlen(end + 1), 1000000, &db) != 0)
            return url_err(err, errlen, "redis URL: database must be a number");
        u->db = (int)db;
    }
    return 0;
}

/* ---- connection ---------------------------------------------------- */

static void
set_err(redis_conn *c, const char *what, const char *detail)
{
    snprintf(c->err, sizeof(c->err), "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
}

static void
drop(redis_conn *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
    c->broken = 1;
    c->queued = 0;
}

/* Runs one command right after connecting; 0 if it answered OK/+status. */
static int
setup_cmd(redis_conn *c, int argc, const char **argv, const char *what)
{
    redis_reply *r = redis_cmd(c, argc, argv);
    if (r == NULL)
        return -1;
    int t = redis_reply_type(r);
    if (t == REDIS_R_ERROR) {
        set_err(c, what, redis_reply_str(r, NULL));
        redis_reply_free(r);
        drop(c);
        return -1;
    }
    redis_reply_free(r);
    return 0;
}

int
redis_reconnect(redis_conn *c)
{
    drop(c);
    struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };
    c->ctx = redisConnectWithTimeout(c->url.host, c->url.port, tv);
    if (c->ctx == NULL) {
        set_err(c, "connect", "out of memory");
        return -1;
    }
    if (c->ctx->err) {
        set_err(c, "connect", c->ctx->errstr);
        drop(c);
        return -1;
    }
    if (redisSetTimeout(c->ctx, tv) != REDIS_OK) {
        set_err(c, "connect", "cannot set socket timeout");
        drop(c);
        return -1;
    }
    redisEnableKeepAlive(c->ctx);
    c->broken = 0;
    c->err[0] = '\0';
    if (c->url.pass[0]) {
        const char *argv[3] = { "AUTH", c->url.user, c->url.pass };
        int rc = c->url.user[0]
            ? setup_cmd(c, 3, argv, "AUTH")
            : setup_cmd(c, 2, (const char *[]){ "AUTH", c->url.pass }, "AUTH");
        if (rc != 0)
            return -1;
    }
    if (c->url.db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", c->url.db);
        if (setup_cmd(c, 2, (const char *[]){ "SELECT", db }, "SELECT") != 0)
            return -1;
    }
    return 0;
}

redis_conn *
redis_new(const redis_url *u, int timeout_ms)
{
    redis_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->url = *u;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    c->broken = 1;
    redis_reconnect(c);
    return c;
}

int
redis_ok(const redis_conn *c)
{
    return c->ctx != NULL && !c->broken;
}

const char *
redis_errstr(const redis_conn *c)
{
    return c->err;
}

void
redis_close(redis_conn *c)
{
    if (c == NULL)
        return;
    drop(c);
    /* the password stays in memory no longer than the client */
    memset(&c->url, 0, sizeof(c->url));
    free(c);
}

int
redis_append(redis_conn *c, int argc, const char **argv, const size_t *lens)
{
    if (!redis_ok(c)) {
        if (c->err[0] == '\0')
            set_err(c, "not connected", NULL);
        return -1;
    }
    if (redisAppendCommandArgv(c->ctx, argc, argv, lens) != REDIS_OK) {
        set_err(c, "append", c->ctx->errstr);
        drop(c);
        return -1;
    }
    c->queued++;
    return 0;
}

redis_reply *
redis_get(redis_conn *c)
{
    if (!redis_ok(c) || c->queued == 0) {
        if (c->err[0] == '\0')
            set_err(c, "no reply pending", NULL);
        return NULL;
    }
    void *r = NULL;
    if (redisGetReply(c->ctx, &r) != REDIS_OK || r == NULL) {
        set_err(c, "redis", c->ctx->err == REDIS_ERR_IO && errno == EAGAIN
                ? "timeout" : c->ctx->errstr);
        if (r)
            freeReplyObject(r);
        drop(c);
        return NULL;
    }
    c->queued--;
    return (redis_reply *)r;
}

redis_reply *
redis_cmd(redis_conn *c, int argc, const char **argv)
{
    size_t lens[16];
    if (argc <= 0 || argc > 16)
        return NULL;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (redis_append(c, argc, argv, lens) != 0)
        return NULL;
    return redis_get(c);
}

/* ---- replies -------------------------------------------------------- */

int
redis_reply_type(const redis_reply *r)
{
    const redisReply *x = (const redisReply *)r;
    if (x == NULL)
        return 0;
    switch (x->type) {
    case REDIS_REPLY_STRING:  return REDIS_R_STRING;
    case REDIS_REPLY_ARRAY:   return REDIS_R_ARRAY;
    case REDIS_REPLY_INTEGER: return REDIS_R_INTEGER;
    case REDIS_REPLY_NIL:     return REDIS_R_NIL;
    case REDIS_REPLY_STATUS:  return REDIS_R_STATUS;
    case REDIS_REPLY_ERROR:   return REDIS_R_ERROR;
    default:                  return REDIS_R_OTHER;
    }
}

const char *
redis_reply_str(const redis_reply *r, size_t *len)
{
    const redisReply *x = (const redisReply *)r;
    int t = redis_reply_type(r);
    if (t != REDIS_R_STRING && t != REDIS_R_STATUS && t != REDIS_R_ERROR)
        return NULL;
    if (len)
        *len = x->len;
    return x->str;
}

long long
redis_reply_int(const redis_reply *r)
{
    return redis_reply_type(r) == REDIS_R_INTEGER ? ((const redisReply *)r)->integer : 0;
}

size_t
redis_reply_len(const redis_reply *r)
{
    return redis_reply_type(r) == REDIS_R_ARRAY ? ((const redisReply *)r)->elements : 0;
}

const redis_reply *
redis_reply_at(const redis_reply *r, size_t i)
{
    if (i >= redis_reply_len(r))
        return NULL;
    return (const redis_reply *)((const redisReply *)r)->element[i];
}

void
redis_reply_free(redis_reply *r)
{
    if (r)
        freeReplyObject(r);
}

int
redis_reply_is_error(const redis_reply *r, const char *prefix)
{
    if (redis_reply_type(r) != REDIS_R_ERROR)
        return 0;
    const char *s = ((const redisReply *)r)->str;
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}
