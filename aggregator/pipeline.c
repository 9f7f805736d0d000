/* pipeline.c -- see pipeline.h. */
#include "aggregator/pipeline.h"
#include "aggregator/db_seal.h"
#include "aggregator/log.h"

#include <limits.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL

int
pipeline_open(pipeline *p, const conf *c, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    char dir[CONF_PATH_MAX], msg[768];
    int found = attrs_find_data_dir(c->data_dir, dir, sizeof(dir), msg, sizeof(msg));
    if (found < 0) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    if (found == 0)
        log_warn("enrichment data (uap.json, referers.json) not found next to"
                 " tallyd or in /usr/share/tally/data; browser, OS and device stay"
                 " empty and sources are referrer hosts (use --data-dir DIR)");
    if (db_open(c->db, DB_RW, &p->d, err, errlen) != 0)
        return -1;
    p->x = attrs_new(found ? dir : NULL, msg, sizeof(msg));
    if (p->x == NULL) {
        snprintf(err, errlen, "enrichment data: %s", msg);
        pipeline_close(p);
        return -1;
    }
    if (found)
        log_info("enrichment data from %s", dir);
    p->g = ingest_new(p->d, p->x);
    p->dr = p->g ? drain_new(c->spool, p->d, p->g, c->batch_events) : NULL;
    if (p->dr == NULL) {
        snprintf(err, errlen, "out of memory");
        pipeline_close(p);
        return -1;
    }
    p->retain_days = c->retain_raw_days;
    p->seal_after = c->seal_after_days;
    return 0;
}

void
pipeline_close(pipeline *p)
{
    drain_free(p->dr);
    ingest_free(p->g);
    attrs_free(p->x);
    db_close(p->d);
    memset(p, 0, sizeof(*p));
}

int64_t
pipeline_retain(pipeline *p, int force, const atomic_int *stop)
{
    if (p->retain_days == 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (!force && now < p->retain_next_ms)
        return 0;
    p->retain_next_ms = now + 3600 * 1000;
    int64_t cutoff = (now / DAY_MS - (int64_t)p->retain_days) * DAY_MS;
    /* the restart replay reads from the day before the newest event's */
    int64_t hwm = ingest_hwm(p->g);
    if (hwm == 0 && db_meta_get(p->d, "hwm_ms", &hwm) < 0)
        return -1;
    if (hwm > 0 && cutoff > (hwm / DAY_MS - 2) * DAY_MS)
        cutoff = (hwm / DAY_MS - 2) * DAY_MS;
    int64_t total = 0, n;
    do {
        n = db_retain_batch(p->d, cutoff, 10000);
        if (n < 0)
            return -1;
        total += n;
    } while (n > 0 && !(stop && atomic_load(stop)));
    if (total > 0)
        log_info("retention: deleted %lld raw events and visits older than %lld"
                 " days (rollups kept)", (long long)total, (long long)p->retain_days);
    return total;
}

int64_t
pipeline_compact(pipeline *p, int64_t max_steps, const atomic_int *stop)
{
    int64_t hwm = ingest_hwm(p->g);
    if (hwm == 0 && db_meta_get(p->d, "hwm_ms", &hwm) < 0)
        return -1;
    if (hwm <= 0)
        return 0;
    /* yesterday and today stay hourly only: late rows there are common */
    int64_t upto_h = (hwm / DAY_MS - 1) * 24;
    int64_t n = 0;
    while (upto_h != p->compact_done_h && (max_steps == 0 || n < max_steps)) {
        if (stop && atomic_load(stop))
            break;
        int rc = db_compact_step(p->d, upto_h);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            p->compact_done_h = upto_h;
            break;
        }
        n++;
    }
    /* then seal finished days (db_seal.h), a few per call */
    if (p->seal_after && hwm != p->seal_done_hwm && !(stop && atomic_load(stop))
        && (max_steps == 0 || n < max_steps)) {
        int64_t s = db_seal_step(p->d, p->seal_after,
                                 max_steps == 0 ? INT_MAX
                                 : (int)(max_steps - n < 4 ? max_steps - n : 4));
        if (s < 0)
            return -1;
        if (s == 0)
            p->seal_done_hwm = hwm;
        n += s;
    }
    return n;
}
