/* redis_source.c -- see redis_source.h. */
#include "aggregator/redis_source.h"
#include "aggregator/redis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSRC_TIMEOUT_MS 5000
#define RSRC_BLOCK_MAX  2000

struct rsrc {
    redis_conn *c;
    char        err[256];
};

rsrc *
rsrc_open(const char *url, char *err, size_t errlen)
{
    redis_url u;
    if (redis_url_parse(url, &u, err, errlen) != 0)
        return NULL;
    rsrc *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->c = redis_new(&u, RSRC_TIMEOUT_MS)) == NULL) {
        free(s);
        memset(&u, 0, sizeof(u));
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memset(&u, 0, sizeof(u));
    return s;
}

void
rsrc_close(rsrc *src)
{
    if (src == NULL)
        return;
    redis_close(src->c);
    free(src);
}

const char *
rsrc_errstr(const rsrc *src)
{
    return src->err[0] ? src->err : redis_errstr(src->c);
}

/* Reconnects if needed.  0 when connected. */
static int
rsrc_ready(rsrc *src)
{
    src->err[0] = '\0';
    if (redis_ok(src->c))
        return 0;
    return redis_reconnect(src->c);
}

/* Runs one command; returns the reply, or NULL after a connection error or
 * an error reply (kept in src->err). */
static redis_reply *
rsrc_cmd(rsrc *src, int argc, const char **argv)
{
    if (rsrc_ready(src) != 0)
        return NULL;
    redis_reply *r = redis_cmd(src->c, argc, argv);
    if (r && redis_reply_type(r) == REDIS_R_ERROR) {
        snprintf(src->err, sizeof(src->err), "%s: %s", argv[0],
                 redis_reply_str(r, NULL));
        redis_reply_free(r);
        return NULL;
    }
    return r;
}

int
rsrc_edge_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > RSRC_EDGE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int
rsrc_stream_name(char *out, size_t cap, const char *edge)
{
    if (!rsrc_edge_valid(edge))
        return -1;
    int n = snprintf(out, cap, "%s%s", RSRC_STREAM_PREFIX, edge);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void
rsrc_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int
rsrc_edges(rsrc *src, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    const char *argv[] = { "SMEMBERS", RSRC_EDGES_KEY };
    redis_reply *r = rsrc_cmd(src, 2, argv);
    if (r == NULL)
        return -1;
    size_t cnt = redis_reply_len(r);
    char **v = calloc(cnt ? cnt : 1, sizeof(*v));
    if (v == NULL) {
        redis_reply_free(r);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        const char *s = redis_reply_str(redis_reply_at(r, i), NULL);
        if (s == NULL || !rsrc_edge_valid(s))
            continue;
        if ((v[k] = strdup(s)) == NULL) {
            rsrc_free_names(v, k);
            redis_reply_free(r);
            return -1;
        }
        k++;
    }
    redis_reply_free(r);
    qsort(v, k, sizeof(*v), name_cmp);
    *names = v;
    *n = k;
    return 0;
}

/* Delivers the entries of one XREAD/XRANGE entry list. */
static int
rsrc_deliver(const redis_reply *list, rsrc_entry_fn cb, void *ctx,
             char *last_id)
{
    int delivered = 0;
    for (size_t i = 0; i < redis_reply_len(list); i++) {
        const redis_reply *e = redis_reply_at(list, i);
        const char *id = redis_reply_str(redis_reply_at(e, 0), NULL);
        const redis_reply *kv = redis_reply_at(e, 1);
        if (id == NULL)
            continue;
        const unsigned char *rec = NULL;
        size_t len = 0;
        char seg[128] = "";
        uint64_t off = 0;
        for (size_t j = 0; j + 1 < redis_reply_len(kv); j += 2) {
            const char *k = redis_reply_str(redis_reply_at(kv, j), NULL);
            size_t vl;
            const char *v = redis_reply_str(redis_reply_at(kv, j + 1), &vl);
            if (k == NULL || v == NULL)
                continue;
            if (strcmp(k, "r") == 0 || strcmp(k, "c") == 0) {
                rec = (const unsigned char *)v;
                len = vl;
            } else if (strcmp(k, "seg") == 0 && vl < sizeof(seg)) {
                memcpy(seg, v, vl);
                seg[vl] = '\0';
            } else if (strcmp(k, "off") == 0) {
                off = strtoull(v, NULL, 10);
            }
        }
        if (last_id)
            snprintf(last_id, RSRC_ID_MAX, "%s", id);
        delivered++;
        if (cb(ctx, id, rec, len, seg, off) != 0)
            break;
    }
    return delivered;
}

int
rsrc_read(rsrc *src, const char *stream, const char *after_id, size_t max,
          int block_ms, rsrc_entry_fn cb, void *ctx, char *last_id)
{
    char count[24], block[24];
    uint64_t ms, seq;
    if (after_id == NULL || after_id[0] == '\0')
        after_id = "0-0";
    if (rsrc_id_parse(after_id, &ms, &seq) != 0) {
        snprintf(src->err, sizeof(src->err), "bad stream ID");
        return -1;
    }
    snprintf(count, sizeof(count), "%zu", max ? max : 1);
    snprintf(block, sizeof(block), "%d",
             block_ms > RSRC_BLOCK_MAX ? RSRC_BLOCK_MAX : block_ms);
    const char *argv[8] = { "XREAD", "COUNT", count };
    int argc = 3;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = stream;
    argv[argc++] = after_id;
    redis_reply *r = rsrc_cmd(src, argc, argv);
    if (r == NULL)
        return -1;
    /* nil: nothing new; else [[stream, [[id, [k, v, ...]], ...]]] */
    int n = 0;
    if (redis_reply_type(r) == REDIS_R_ARRAY && redis_reply_len(r) > 0)
        n = rsrc_deliver(redis_reply_at(redis_reply_at(r, 0), 1), cb, ctx,
                         last_id);
    redis_reply_free(r);
    return n;
}

int
rsrc_add(rsrc *src, const char *stream, const char *field,
         const unsigned char *val, size_t len, char *id)
{
    const char *argv[5] = { "XADD", stream, "*", field, (const char *)val };
    size_t lens[5] = { 4, strlen(stream), 1, strlen(field), len };
    if (rsrc_ready(src) != 0 || redis_append(src->c, 5, argv, lens) != 0)
        return -1;
    redis_reply *r = redis_get(src->c);
    if (r == NULL)
        return -1;
    int rc = -1;
    size_t n;
    const char *v = redis_reply_str(r, &n);
    if (redis_reply_type(r) == REDIS_R_STRING && v && n < RSRC_ID_MAX) {
        memcpy(id, v, n + 1);
        rc = 0;
    } else {
        snprintf(src->err, sizeof(src->err), "XADD: %s", v ? v : "bad reply");
    }
    redis_reply_free(r);
    return rc;
}

long long
rsrc_trim(rsrc *src, const char *stream, const char *minid)
{
    uint64_t ms, seq;
    if (rsrc_id_parse(minid, &ms, &seq) != 0) {
        snprintf(src->err, sizeof(src->err), "bad stream ID");
        return -1;
    }
    const char *argv[] = { "XTRIM", stream, "MINID", minid };
    redis_reply *r = rsrc_cmd(src, 4, argv);
    if (r == NULL)
        return -1;
    long long n = redis_reply_int(r);
    redis_reply_free(r);
    return n;
}

/* Parses a decimal u64 at s; *end points past it.  0 or -1. */
static int
parse_u64(const char *s, const char **end, uint64_t *v)
{
    uint64_t x = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    *end = p;
    return 0;
}

int
rsrc_id_parse(const char *id, uint64_t *ms, uint64_t *seq)
{
    const char *p;
    if (id == NULL || parse_u64(id, &p, ms) != 0 || *p != '-'
        || parse_u64(p + 1, &p, seq) != 0 || *p != '\0')
        return -1;
    return 0;
}

int
rsrc_id_next(const char *id, char *out)
{
    uint64_t ms, seq;
    if (rsrc_id_parse(id, &ms, &seq) != 0)
        return -1;
    if (seq == UINT64_MAX) {
        if (ms == UINT64_MAX)
            return -1;
        ms++;
        seq = 0;
    } else {
        seq++;
    }
    snprintf(out, RSRC_ID_MAX, "%" PRIu64 "-%" PRIu64, ms, seq);
    return 0;
}

int
rsrc_id_cmp(const char *a, const char *b)
{
    uint64_t am = 0, as = 0, bm = 0, bs = 0;
    int ea = rsrc_id_parse(a, &am, &as) != 0;
    int eb = rsrc_id_parse(b, &bm, &bs) != 0;
    if (ea || eb)
        return eb - ea;
    if (am != bm)
        return am < bm ? -1 : 1;
    if (as != bs)
        return as < bs ? -1 : 1;
    return 0;
}
