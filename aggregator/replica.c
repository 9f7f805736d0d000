/* replica.c -- see replica.h. */
#include "aggregator/replica.h"
#include "aggregator/redis_source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS[1] stream, KEYS[2] tally:replicas; ARGV[1] the caller's own
 * position or "".  Lua numbers are doubles: IDs above 2^53 are never
 * trimmed (stream IDs are milliseconds since 1970, far below). */
static const char trim_lua[] =
    "local function p(id)\n"
    "  local a, b = string.match(id, '^(%d+)-(%d+)$')\n"
    "  if not a then return nil end\n"
    "  return tonumber(a), tonumber(b)\n"
    "end\n"
    "local ms, seq\n"
    "if ARGV[1] ~= '' then ms, seq = p(ARGV[1]) end\n"
    "for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "  local v = redis.call('HGET', '" REPLICA_KEY_PREFIX "' .. name, KEYS[1])\n"
    "  if not v then return 0 end\n"
    "  local m, s = p(v)\n"
    "  if not m then return 0 end\n"
    "  if not ms or m < ms or (m == ms and s < seq) then ms, seq = m, s end\n"
    "end\n"
    "if not ms or ms >= 9007199254740992 or seq >= 9007199254740991 then\n"
    "  return 0\n"
    "end\n"
    "return redis.call('XTRIM', KEYS[1], 'MINID',\n"
    "                  string.format('%.0f-%.0f', ms, seq + 1))\n";

int
replica_name_valid(const char *name)
{
    return rsrc_edge_valid(name);
}

/* Reads one reply and drops it; 0 unless it is missing or an error. */
static int
reply_ok(redis_conn *c)
{
    redis_reply *r = redis_get(c);
    int ok = r != NULL && redis_reply_type(r) != REDIS_R_ERROR;
    redis_reply_free(r);
    return ok ? 0 : -1;
}

int
replica_publish(redis_conn *c, const char *name, const replica_pos *p,
                size_t n, int64_t now_ms)
{
    char key[sizeof(REPLICA_KEY_PREFIX) + 64], hb[24];
    if (!replica_name_valid(name))
        return -1;
    snprintf(key, sizeof(key), REPLICA_KEY_PREFIX "%s", name);
    snprintf(hb, sizeof(hb), "%" PRId64, now_ms);
    size_t argc = 4 + 4 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    char (*nf)[REPLICA_STREAM_MAX + 2] = calloc(n ? n : 1, sizeof(*nf));
    char (*nv)[24] = calloc(n ? n : 1, sizeof(*nv));
    size_t *lens = calloc(argc, sizeof(*lens));
    int rc = -1;
    if (argv == NULL || nf == NULL || nv == NULL || lens == NULL)
        goto out;
    size_t k = 0;
    argv[k++] = "HSET";
    argv[k++] = key;
    argv[k++] = "hb";
    argv[k++] = hb;
    for (size_t i = 0; i < n; i++) {
        snprintf(nf[i], sizeof(nf[i]), "n:%s", p[i].stream);
        snprintf(nv[i], sizeof(nv[i]), "%" PRIu64, p[i].applied);
        argv[k++] = p[i].stream;
        argv[k++] = p[i].id;
        argv[k++] = nf[i];
        argv[k++] = nv[i];
    }
    for (size_t i = 0; i < k; i++)
        lens[i] = strlen(argv[i]);
    const char *sadd[] = { "SADD", REPLICA_SET_KEY, name };
    const size_t saddl[] = { 4, strlen(REPLICA_SET_KEY), strlen(name) };
    if (redis_append(c, 3, sadd, saddl) != 0
        || redis_append(c, (int)k, argv, lens) != 0)
        goto out;
    int a = reply_ok(c);
    int b = reply_ok(c);
    rc = a == 0 && b == 0 ? 0 : -1;
out:
    free(argv);
    free(nf);
    free(nv);
    free(lens);
    return rc;
}

long long
replica_trim(redis_conn *c, const char *stream, const char *own_id)
{
    const char *argv[] = { "EVAL", trim_lua, "2", stream, REPLICA_SET_KEY,
                           own_id ? own_id : "" };
    redis_reply *r = redis_cmd(c, 6, argv);
    if (r == NULL)
        return -1;
    long long n = redis_reply_type(r) == REDIS_R_INTEGER ? redis_reply_int(r)
                                                          : -1;
    redis_reply_free(r);
    return n;
}

int
replica_stream_info(redis_conn *c, const char *stream, replica_sinfo *out)
{
    memset(out, 0, sizeof(*out));
    const char *argv[] = { "XINFO", "STREAM", stream };
    redis_reply *r = redis_cmd(c, 3, argv);
    if (r == NULL)
        return -1;
    if (redis_reply_is_error(r, "ERR no such key")) {
        redis_reply_free(r);
        return 0;
    }
    if (redis_reply_type(r) != REDIS_R_ARRAY) {
        redis_reply_free(r);
        return -1;
    }
    int have_added = 0;
    for (size_t i = 0; i + 1 < redis_reply_len(r); i += 2) {
        const char *k = redis_reply_str(redis_reply_at(r, i), NULL);
        const redis_reply *v = redis_reply_at(r, i + 1);
        if (k == NULL)
            continue;
        if (strcmp(k, "length") == 0) {
            out->length = (uint64_t)redis_reply_int(v);
        } else if (strcmp(k, "entries-added") == 0) {
            out->added = (uint64_t)redis_reply_int(v);
            have_added = 1;
        } else if (strcmp(k, "last-generated-id") == 0) {
            const char *s = redis_reply_str(v, NULL);
            snprintf(out->last_gen, sizeof(out->last_gen), "%s", s ? s : "");
        } else if (strcmp(k, "first-entry") == 0
                   && redis_reply_type(v) == REDIS_R_ARRAY) {
            const char *s = redis_reply_str(redis_reply_at(v, 0), NULL);
            snprintf(out->first, sizeof(out->first), "%s", s ? s : "");
        }
    }
    redis_reply_free(r);
    if (!have_added)
        return -1;                 /* Redis before 7.0: cannot tell */
    out->exists = 1;
    return 0;
}

uint64_t
replica_missed(const replica_sinfo *si, uint64_t applied)
{
    if (!si->exists || si->added < si->length)
        return 0;
    uint64_t removed = si->added - si->length;
    return removed > applied ? removed - applied : 0;
}

int
replica_names(redis_conn *c, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    const char *argv[] = { "SMEMBERS", REPLICA_SET_KEY };
    redis_reply *r = redis_cmd(c, 2, argv);
    if (r == NULL || redis_reply_type(r) != REDIS_R_ARRAY) {
        redis_reply_free(r);
        return -1;
    }
    size_t cnt = redis_reply_len(r), k = 0;
    char **v = calloc(cnt ? cnt : 1, sizeof(*v));
    if (v == NULL) {
        redis_reply_free(r);
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        const char *s = redis_reply_str(redis_reply_at(r, i), NULL);
        if (s != NULL && replica_name_valid(s) && (v[k] = strdup(s)) != NULL)
            k++;
    }
    redis_reply_free(r);
    for (size_t i = 1; i < k; i++)            /* few names: insertion sort */
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *names = v;
    *n = k;
    return 0;
}

int
replica_get(redis_conn *c, const char *name, const char *stream,
            int64_t *hb_ms, char id[REPLICA_ID_MAX], uint64_t *applied)
{
    char key[sizeof(REPLICA_KEY_PREFIX) + 64], nf[REPLICA_STREAM_MAX + 2];
    *hb_ms = 0;
    id[0] = '\0';
    *applied = 0;
    if (!replica_name_valid(name))
        return 0;
    snprintf(key, sizeof(key), REPLICA_KEY_PREFIX "%s", name);
    snprintf(nf, sizeof(nf), "n:%s", stream ? stream : "");
    const char *argv[] = { "HMGET", key, "hb", stream ? stream : "hb", nf };
    redis_reply *r = redis_cmd(c, 5, argv);
    if (r == NULL || redis_reply_type(r) != REDIS_R_ARRAY
        || redis_reply_len(r) != 3) {
        redis_reply_free(r);
        return -1;
    }
    const char *hb = redis_reply_str(redis_reply_at(r, 0), NULL);
    const char *v = redis_reply_str(redis_reply_at(r, 1), NULL);
    const char *na = redis_reply_str(redis_reply_at(r, 2), NULL);
    int exists = hb != NULL;
    if (hb)
        *hb_ms = strtoll(hb, NULL, 10);
    if (stream && v)
        snprintf(id, REPLICA_ID_MAX, "%s", v);
    if (stream && na)
        *applied = strtoull(na, NULL, 10);
    redis_reply_free(r);
    return exists;
}

int
replica_forget(redis_conn *c, const char *name)
{
    char key[sizeof(REPLICA_KEY_PREFIX) + 64];
    if (!replica_name_valid(name))
        return 0;
    snprintf(key, sizeof(key), REPLICA_KEY_PREFIX "%s", name);
    const char *srem[] = { "SREM", REPLICA_SET_KEY, name };
    const char *del[] = { "DEL", key };
    const size_t sl[] = { 4, strlen(REPLICA_SET_KEY), strlen(name) };
    const size_t dl[] = { 3, strlen(key) };
    if (redis_append(c, 3, srem, sl) != 0 || redis_append(c, 2, del, dl) != 0)
        return -1;
    redis_reply *a = redis_get(c);
    redis_reply *b = redis_get(c);
    int rc = -1;
    if (a && b && redis_reply_type(a) == REDIS_R_INTEGER
        && redis_reply_type(b) == REDIS_R_INTEGER)
        rc = redis_reply_int(a) > 0 || redis_reply_int(b) > 0;
    redis_reply_free(a);
    redis_reply_free(b);
    return rc;
}
