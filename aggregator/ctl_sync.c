/* ctl_sync.c -- see ctl_sync.h. */
#include "aggregator/ctl_sync.h"
#include "aggregator/ctl.h"
#include "aggregator/db_ctl.h"
#include "aggregator/db_streams.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char           id[RSRC_ID_MAX];
    unsigned char *text;          /* NULL: the entry has no "c" field */
    size_t         len;
} cs_entry;

typedef struct {
    cs_entry e[CTL_SYNC_BATCH];
    size_t   n;
    int      oom;
} cs_batch;

static int
cs_collect(void *ctx, const char *id, const unsigned char *rec, size_t len,
           const char *seg, uint64_t off)
{
    (void)seg;
    (void)off;
    cs_batch *b = ctx;
    if (b->n >= CTL_SYNC_BATCH)
        return 1;
    cs_entry *e = &b->e[b->n];
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->text = NULL;
    e->len = 0;
    if (rec != NULL) {
        if ((e->text = malloc(len ? len : 1)) == NULL) {
            b->oom = 1;
            return 1;
        }
        memcpy(e->text, rec, len);
        e->len = len;
    }
    b->n++;
    return 0;
}

static void
cs_free(cs_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->e[i].text);
    b->n = 0;
}

int
ctl_position(db *d, ctl_state *st)
{
    char *ahead = NULL;
    int r = db_streams_get(d, CTL_STREAM, st->pos, sizeof(st->pos), &st->n,
                           &ahead);
    free(ahead);
    st->site_removed = 0;
    return r < 0 ? -1 : 0;
}

int
ctl_mark(db *d)
{
    ctl_state st;
    char *ahead = NULL;
    if (db_streams_init(d) != 0 || db_ctl_init(d) != 0)
        return -1;
    int r = db_streams_get(d, CTL_STREAM, st.pos, sizeof(st.pos), &st.n, &ahead);
    free(ahead);
    if (r < 0)
        return -1;
    return r == 1 ? 0 : db_streams_set(d, CTL_STREAM, "0-0", 0, "");
}

int
ctl_is_replica(db *d)
{
    char id[RSRC_ID_MAX], *ahead = NULL;
    uint64_t n;
    if (db_streams_init(d) != 0)
        return -1;
    int r = db_streams_get(d, CTL_STREAM, id, sizeof(id), &n, &ahead);
    free(ahead);
    return r;
}

/* Applies one entry inside the open transaction.  Status or -1. */
static int
cs_apply(db *d, const cs_entry *e, ctl_state *st)
{
    uint64_t ms, seq;
    if (rsrc_id_parse(e->id, &ms, &seq) != 0)
        return -1;
    ctl_cmd *c = malloc(sizeof(*c));
    if (c == NULL)
        return -1;
    char why[128] = "the entry has no \"" CTL_FIELD "\" field";
    int ok = e->text != NULL
             && ctl_decode((const char *)e->text, e->len, c, why, sizeof(why)) == 0;
    if (!ok)
        log_error("ctl: bad control entry %s in %s (%s); skipped", e->id,
                  CTL_STREAM, why);
    int64_t obj = 0;
    int status = db_ctl_apply(d, ms, seq, ok ? c : NULL, &obj);
    if (status >= 0 && ok) {
        if (c->verb == CTL_SITE_REMOVE && status == CTL_DONE)
            st->site_removed = 1;
        log_info("ctl: entry %s: %s: %s%s", e->id, ctl_verb_name(c->verb),
                 ctl_status_name(status), status == CTL_INVALID
                 ? " (refused by the tables; skipped on every replica)" : "");
    }
    free(c);
    return status;
}

long
ctl_sync(db *d, rsrc *src, ctl_state *st)
{
    cs_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return -2;
    long ret = -2;
    if (ctl_position(d, st) != 0)
        goto out;
    int n = rsrc_read(src, CTL_STREAM, st->pos, CTL_SYNC_BATCH, 0, cs_collect,
                      b, NULL);
    if (n < 0 || b->oom) {
        ret = n < 0 ? -1 : -2;
        goto out;
    }
    if (b->n == 0) {
        ret = 0;
        goto out;
    }
    if (db_begin(d) != 0)
        goto out;
    /* again inside the transaction: another applier may have moved it */
    ctl_state in;
    if (ctl_position(d, &in) != 0) {
        db_rollback(d);
        goto out;
    }
    long applied = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (rsrc_id_cmp(b->e[i].id, in.pos) <= 0)
            continue;
        if (cs_apply(d, &b->e[i], st) < 0) {
            db_rollback(d);
            st->site_removed = 0;
            goto out;
        }
        snprintf(in.pos, sizeof(in.pos), "%s", b->e[i].id);
        in.n++;
        applied++;
    }
    if ((applied > 0 && db_streams_set(d, CTL_STREAM, in.pos, in.n, "") != 0)
        || db_commit(d) != 0) {
        db_rollback(d);
        st->site_removed = 0;
        goto out;
    }
    snprintf(st->pos, sizeof(st->pos), "%s", in.pos);
    st->n = in.n;
    ret = applied;
out:
    if (ret == -2)
        log_warn("ctl: applying the control stream failed (%s); retrying",
                 db_errmsg(d));
    cs_free(b);
    free(b);
    return ret;
}
