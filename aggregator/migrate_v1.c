/* migrate_v1.c -- see migrate_v1.h. */
#include "aggregator/migrate_v1.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ingest  *g;
    uint64_t events, skipped;
    char     url[8192];
} migrate_ctx;

static void
migrate_field(spool_event *e, int tag, const char *s, size_t len)
{
    if (s != NULL)
        e->field[tag] = (spool_str){ s, len };
}

static int
migrate_one(void *ctx, const db_event *ev)
{
    migrate_ctx *c = ctx;
    spool_event e;
    memset(&e, 0, sizeof(e));
    e.time_ms = ev->ts_ms < 0 ? 0 : (uint64_t)ev->ts_ms;
    e.visitor_id = ev->visitor_id;
    int n = ev->hostname_len > 0
        ? snprintf(c->url, sizeof(c->url), "https://%.*s%.*s", (int)ev->hostname_len,
                   ev->hostname, (int)ev->pathname_len, ev->pathname)
        : snprintf(c->url, sizeof(c->url), "%.*s", (int)ev->pathname_len, ev->pathname);
    if (n < 0 || (size_t)n >= sizeof(c->url))
        n = (int)strlen(c->url);
    migrate_field(&e, SPOOL_F_SITE, ev->site, ev->site_len);
    migrate_field(&e, SPOOL_F_NAME, ev->name, ev->name_len);
    migrate_field(&e, SPOOL_F_URL, c->url, (size_t)n);
    migrate_field(&e, SPOOL_F_REFERRER, ev->referrer, ev->referrer_len);
    migrate_field(&e, SPOOL_F_UA, ev->ua, ev->ua_len);
    migrate_field(&e, SPOOL_F_PROPS, ev->props, ev->props_len);
    migrate_field(&e, SPOOL_F_REVENUE, ev->revenue, ev->revenue_len);
    const char *why = "";
    int rc = ingest_event(c->g, &e, &why);
    if (rc < 0)
        return -1;
    if (rc == 0)
        c->skipped++;
    c->events += (uint64_t)rc;
    return 0;
}

int
migrate_v1_run(db *d, ingest *g)
{
    int pending = db_v1_pending(d);
    if (pending <= 0)
        return pending;
    migrate_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->g = g;
    if (db_begin(d) != 0) {
        free(c);
        return -1;
    }
    if (ingest_ready(g) != 0 || db_v1_each(d, migrate_one, c) != 0
        || ingest_flush(g) != 0 || db_v1_drop(d) != 0 || db_commit(d) != 0) {
        log_error("migrate: converting the v1 events failed; will retry");
        db_rollback(d);
        ingest_reset(g);
        free(c);
        return -1;
    }
    log_info("migrate: converted %llu v1 events to schema v2 (%llu skipped)",
             (unsigned long long)c->events, (unsigned long long)c->skipped);
    free(c);
    return 0;
}
