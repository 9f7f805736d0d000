/* ship_redis.c -- the shipper's Redis side: announcing the edge, finding
 * the stream's last ID, rebuilding lost positions, sending a plan.  See
 * ship.h for the ID scheme and ship_int.h for the contracts. */
#include "aggregator/log.h"
#include "aggregator/redis_source.h"
#include "aggregator/ship_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIP_DUP_ERR "ERR The ID specified in XADD is equal or smaller"

/* Parses "MS-SEQ" into *id. */
static int
ship_id_parse(const char *s, ship_id *id)
{
    return rsrc_id_parse(s, &id->ms, &id->seq);
}

/* After a (re)connect: SADD tally:edges EDGE and XINFO STREAM for the
 * stream's last-generated-id, which new plans must stay above.  Returns 0,
 * or -1 (connection broken or server error, logged). */
int
ship_sync(shipper *sh)
{
    const char *sadd[] = { "SADD", RSRC_EDGES_KEY, sh->cf.edge };
    const char *xinfo[] = { "XINFO", "STREAM", sh->stream };
    size_t l1[3], l2[3];
    for (int i = 0; i < 3; i++) {
        l1[i] = strlen(sadd[i]);
        l2[i] = strlen(xinfo[i]);
    }
    if (redis_append(sh->rc, 3, sadd, l1) != 0
        || redis_append(sh->rc, 3, xinfo, l2) != 0)
        return -1;
    redis_reply *a = redis_get(sh->rc);
    redis_reply *b = a ? redis_get(sh->rc) : NULL;
    int rc = -1;
    if (a == NULL || b == NULL) {
        /* connection error, reported by the caller */
    } else if (redis_reply_type(a) == REDIS_R_ERROR) {
        log_warn("ship: redis refused SADD %s: %s", RSRC_EDGES_KEY,
                 redis_reply_str(a, NULL));
    } else if (redis_reply_is_error(b, "ERR no such key")) {
        rc = 0;                                   /* a new stream */
    } else if (redis_reply_type(b) == REDIS_R_ERROR) {
        log_warn("ship: redis refused XINFO STREAM %s: %s", sh->stream,
                 redis_reply_str(b, NULL));
    } else {
        for (size_t i = 0; i + 1 < redis_reply_len(b); i += 2) {
            const char *k = redis_reply_str(redis_reply_at(b, i), NULL);
            const char *v = redis_reply_str(redis_reply_at(b, i + 1), NULL);
            ship_id id;
            if (k && v && strcmp(k, "last-generated-id") == 0
                && ship_id_parse(v, &id) == 0) {
                if (ship_id_cmp(id, sh->st.last) > 0) {
                    log_info("ship: stream %s is at %s, above the state file's last ID;"
                             " new entries go above it", sh->stream, v);
                    sh->st.last = id;
                    sh->dirty = 1;
                }
                rc = 0;
            }
        }
        if (rc != 0)
            log_warn("ship: XINFO STREAM %s gave no last-generated-id", sh->stream);
    }
    redis_reply_free(a);
    redis_reply_free(b);
    sh->synced = rc == 0;
    return rc;
}

/* Without a state file (first start, or lost): rebuilds the positions of
 * the segments still in the spool from the stream itself, so records
 * shipped before the file was lost are not shipped twice.  Scans the
 * stream from the newest entry down (it holds what the consumers have not
 * trimmed yet); for each segment the highest "off" + length of "r" seen
 * becomes its position.  Returns 0, or -1 to retry after reconnecting. */
int
ship_recover(shipper *sh)
{
    char start[RSRC_ID_MAX + 1] = "+";
    uint64_t found = 0;
    for (;;) {
        const char *argv[] = { "XREVRANGE", sh->stream, start, "-", "COUNT", "500" };
        redis_reply *r = redis_cmd(sh->rc, 6, argv);
        if (r == NULL)
            return -1;
        if (redis_reply_type(r) == REDIS_R_ERROR) {
            log_warn("ship: redis refused XREVRANGE %s: %s", sh->stream,
                     redis_reply_str(r, NULL));
            redis_reply_free(r);
            return -1;
        }
        size_t n = redis_reply_len(r);
        for (size_t i = 0; i < n; i++) {
            const redis_reply *e = redis_reply_at(r, i);
            const redis_reply *kv = redis_reply_at(e, 1);
            const char *id = redis_reply_str(redis_reply_at(e, 0), NULL);
            const char *seg = NULL, *off = NULL;
            size_t rlen = 0;
            int has_r = 0;
            for (size_t j = 0; j + 1 < redis_reply_len(kv); j += 2) {
                const char *k = redis_reply_str(redis_reply_at(kv, j), NULL);
                size_t vl;
                const char *v = redis_reply_str(redis_reply_at(kv, j + 1), &vl);
                if (k == NULL || v == NULL)
                    continue;
                if (strcmp(k, "seg") == 0)
                    seg = v;
                else if (strcmp(k, "off") == 0)
                    off = v;
                else if (strcmp(k, "r") == 0) {
                    rlen = vl;
                    has_r = 1;
                }
            }
            if (id)
                snprintf(start, sizeof(start), "(%s", id);
            char path[PATH_MAX];
            if (!has_r || seg == NULL || off == NULL || !spool_segment_name_valid(seg)
                || strlen(seg) >= SPOOL_NAME_MAX || ship_path(sh, path, seg, "") != 0
                || access(path, F_OK) != 0)
                continue;
            uint64_t end = strtoull(off, NULL, 10) + rlen;
            ship_pos *p = ship_state_pos(&sh->st, seg, 1);
            if (p && end > p->off) {
                p->off = end;
                found++;
            }
        }
        redis_reply_free(r);
        if (n < 500)
            break;
    }
    if (found)
        log_warn("ship: no state file; positions of %" PRIu64 " segments rebuilt"
                 " from %s", found, sh->stream);
    sh->recover = 0;
    sh->dirty = 1;
    return 0;
}

/* Sends the plan's XADDs in one pipeline and reads every reply.  Returns
 * 0 when every record is in the stream (added now or refused as already
 * there), -1 to retry later (connection or server error, logged), -2 when
 * a never-sent plan was refused (another writer on the stream). */
int
ship_send(shipper *sh)
{
    int fresh = !sh->plan_sent;
    sh->plan_sent = 1;
    for (size_t i = 0; i < sh->nrec; i++) {
        const ship_rec *r = &sh->recs[i];
        char id[RSRC_ID_MAX], off[24];
        snprintf(id, sizeof(id), "%" PRIu64 "-%" PRIu64, sh->st.plan.ms,
                 sh->st.plan.seq + r->idx);
        snprintf(off, sizeof(off), "%" PRIu64, r->off);
        const char *argv[9] = { "XADD", sh->stream, id, "r",
                                (const char *)sh->buf + r->boff, "seg",
                                sh->st.rng[r->rng].name, "off", off };
        size_t lens[9];
        for (int k = 0; k < 9; k++)
            lens[k] = strlen(argv[k]);
        lens[4] = r->len;
        if (redis_append(sh->rc, 9, argv, lens) != 0)
            return -1;
    }
    int rc = 0;
    uint64_t added = 0, already = 0;
    for (size_t i = 0; i < sh->nrec; i++) {
        redis_reply *x = redis_get(sh->rc);
        if (x == NULL)
            return -1;
        if (redis_reply_type(x) == REDIS_R_STRING) {
            added++;
        } else if (redis_reply_is_error(x, SHIP_DUP_ERR)) {
            if (fresh && rc == 0) {
                log_error("ship: redis refused new ID %" PRIu64 "-%" PRIu64
                          " in %s as not above the stream's last ID: another"
                          " shipper writes to this stream (same --edge on"
                          " another spool?); stopping", sh->st.plan.ms,
                          sh->st.plan.seq + sh->recs[i].idx, sh->stream);
                rc = -2;
            }
            already++;
        } else if (rc == 0) {
            log_warn("ship: redis refused XADD to %s: %s; retrying", sh->stream,
                     redis_reply_str(x, NULL) ? redis_reply_str(x, NULL) : "?");
            rc = -1;
        }
        redis_reply_free(x);
    }
    if (rc == 0) {
        sh->shipped += added;
        sh->already += already;
        if (already)
            log_info("ship: %" PRIu64 " records of a re-sent batch were already"
                     " in %s", already, sh->stream);
    }
    return rc;
}
