/*
 * session.h -- the open visits: one per (site, visitor), found by a hash
 * table, stored in a slab.  A visit ends after VISIT_IDLE_MS without an
 * event of its visitor on its site (by event time).  The state is what
 * the ingest needs to keep a visit's rollup contribution and its visits
 * row right as it grows: first/last event and pageview (by (ts, seq)),
 * counts, the event-dimension values already seen in it, and the
 * contribution last applied to the rollups.
 *
 * Memory is proportional to the open visits: the ingest evicts visits
 * idle for more than VISIT_IDLE_MS of event time.
 */
#ifndef TALLY_AGG_SESSION_H
#define TALLY_AGG_SESSION_H

#include "aggregator/dims.h"

#include <stddef.h>
#include <stdint.h>

#define VISIT_IDLE_MS (30LL * 60 * 1000)
#define VISIT_NDIMS (DIM_COUNT - DIM_FIRST_VISIT)   /* 16 visit dims */

typedef struct {
    int64_t  site;
    uint64_t visitor;
    int64_t  id;
    int64_t  fe_ts, fe_seq, fe_page, fe_attrs;   /* first event        */
    int64_t  le_ts, le_seq, le_page;             /* last event         */
    int64_t  fp_ts, fp_seq, fp_page, fp_attrs;   /* first pageview     */
    int64_t  lp_ts, lp_seq, lp_page;             /* last pageview      */
    int64_t  pageviews, events, interactive;     /* interactive custom */
    uint64_t *seen;                              /* event-dim values   */
    uint32_t nseen, capseen;
    /* the contribution last applied to the rollups */
    int      applied, foreign;
    int64_t  ap_hour;
    int64_t  ap_k[VISIT_NDIMS][2];
    int64_t  ap_m[5];        /* visits, bounces, duration, pageviews, events */
    int      dirty;          /* changed since the last flush */
    int      ended;          /* replaced by a newer visit, not in the table */
    int      live;           /* slot in use */
} visit;

typedef struct session session;

session *session_new(void);
void session_free(session *s);

/* The open visit of (site, visitor), or NULL. */
visit *session_find(session *s, int64_t site, uint64_t visitor);

/* Opens a new visit for (site, visitor) with id; a previous open visit of
 * the pair is marked ended (it stays in the slab until session_release).
 * Returns the zeroed visit (id, site, visitor set) or NULL (out of
 * memory).  Pointers stay valid until session_release. */
visit *session_open(session *s, int64_t site, uint64_t visitor, int64_t id);

/* Index of v in the slab (for dirty lists) and back. */
uint32_t session_index(const session *s, const visit *v);
visit *session_at(session *s, uint32_t idx);

/* Calls fn for every visit in the slab (open and ended). */
void session_each(session *s, void (*fn)(void *ctx, visit *v), void *ctx);

/* Frees ended visits and closes (removes) the open ones for which
 * close(ctx, v) returns non-zero.  Invalidates visit pointers. */
void session_release(session *s, int (*close)(void *ctx, const visit *v),
                     void *ctx);

/* Open visits. */
size_t session_count(const session *s);

/* Adds event (ts, seq) on page with attrs to v. */
void visit_add(visit *v, int64_t ts, int64_t seq, int64_t page,
               int64_t attrs, int pageview, int interactive);

/* 1 when the visit already saw event-dimension value h; else records it
 * and returns 0 (-1 when out of memory). */
int visit_seen(visit *v, uint64_t h);

/* Derived values, as stored in visits. */
int64_t visit_entry(const visit *v);
int64_t visit_exit(const visit *v);
int64_t visit_attrs(const visit *v);
int     visit_bounce(const visit *v);
int64_t visit_duration_s(const visit *v);

#endif
