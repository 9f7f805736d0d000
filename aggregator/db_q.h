/*
 * db_q.h -- the SQL of the Stats API executor (q_exec.h): scans of the
 * hourly rollups (db_q_rollup.c) and of the raw events and visits
 * (db_q_raw.c), plus the site and goal lookups they need.
 *
 * SQL text is assembled only from constant fragments chosen by the
 * plan; every user value (site id, times, property keys, string sets) is
 * bound as a parameter, and string predicates run through the SQL
 * function tally_m(fid, s), registered on the connection for the
 * duration of one call, which asks q_match.h's matcher fid.  So a filter
 * value never reaches the SQL text.
 *
 * A string predicate is always resolved on the dictionary first
 *   col IN (SELECT id FROM strings WHERE tally_m(fid, s))
 * which SQLite evaluates once per statement, then tested on integer
 * columns while scanning.  Id 0 (no string) is the value's "none"; the
 * plan says whether "none" matches (none_match), which adds OR col = 0.
 */
#ifndef TALLY_AGG_DB_Q_H
#define TALLY_AGG_DB_Q_H

#include "aggregator/db.h"
#include "aggregator/dims.h"
#include "aggregator/q_match.h"

#include <stddef.h>
#include <stdint.h>

/* Columns a predicate can test and a raw row carries. */
enum dbq_col {
    DBQ_NAME = 0, DBQ_PAGE, DBQ_HOST, DBQ_PROPS,       /* event columns */
    DBQ_ENTRY, DBQ_EXIT,                              /* visit columns */
    DBQ_ATTR0,                                        /* + enum attr   */
    DBQ_NCOLS = DBQ_ATTR0 + ATTR_COUNT
};

#define DBQ_IS_VISIT_COL(c) ((c) >= DBQ_ENTRY)

enum dbq_pred_kind {
    DBQ_P_TRUE = 0, DBQ_P_FALSE,
    DBQ_P_AND, DBQ_P_OR, DBQ_P_NOT,
    DBQ_P_LEAF,       /* col's string matches matcher fid            */
    DBQ_P_GOAL,       /* name matches fid, or pageview + page matches fid2 */
    DBQ_P_HAS_DONE,   /* the visitor has an event matching kids[0]   */
    DBQ_P_HAS_NOT_DONE
};

typedef struct dbq_pred {
    enum dbq_pred_kind kind;
    int          col;          /* LEAF */
    int          fid;          /* LEAF; GOAL names (-1: none) */
    int          fid2;         /* GOAL page patterns (-1: none) */
    int          none_match;   /* LEAF: the "none" value matches fid */
    const char  *prop_key;     /* LEAF on DBQ_PROPS: the property key */
    struct dbq_pred *kids;
    size_t       nkids;
} dbq_pred;

/* 1 when p tests an event column (or goals, or has_done) anywhere. */
int dbq_pred_has_event_col(const dbq_pred *p);

/* ---- raw scans (db_q_raw.c) ---- */

typedef struct {
    int64_t        site;
    int64_t        lo, hi;        /* events: ts in [lo, hi); visits: start */
    int64_t        sub_lo, sub_hi;/* events searched by has_done and by the
                                     visit scan's event predicate        */
    const dbq_pred *pred;         /* NULL = everything                   */
    int            need_visit;    /* events: join the visit and attrs    */
    int64_t        pageview_id;   /* string id of "pageview" (0: none)   */
    qm_set        *m;
    unsigned       fields;        /* events: the row fields fn reads
                                     (DBQ_F_*; ts always), others may be
                                     left 0 -- a hint for sealed days;
                                     0 = all                            */
} dbq_raw_req;

/* dbq_raw_req.fields: dbq_event_row fields.  DBQ_F_VISITCOLS is entry,
 * exit and a[] (filled only with need_visit when fields is not 0). */
enum {
    DBQ_F_VISITOR = 1 << 0, DBQ_F_VISIT = 1 << 1, DBQ_F_NAME = 1 << 2,
    DBQ_F_PAGE = 1 << 3, DBQ_F_HOST = 1 << 4, DBQ_F_PROPS = 1 << 5,
    DBQ_F_VISITCOLS = 1 << 6
};

typedef struct {
    int64_t  ts, visit, name, page, host, props, entry, exit;
    uint64_t visitor;
    int64_t  vix;                 /* the visitor as a dense id < vn, the
                                     same for the day of ts (UTC) only;
                                     -1: none (rows read by SQL)        */
    int64_t  vn;
    int64_t  a[ATTR_COUNT];       /* the visit's attributes (need_visit) */
} dbq_event_row;

typedef struct {
    int64_t  id, start, end, entry, exit, pageviews, events, bounce;
    uint64_t visitor;
    int64_t  a[ATTR_COUNT];
} dbq_visit_row;

/* Calls fn for every event of the site in [lo, hi) satisfying pred, in
 * (ts, seq) order: rows in SQL, sealed days (db_seal.h) decoded and
 * filtered in C (db_q_sealed.c), with the same rows.  Returns 0, fn's
 * non-zero value, or -1 (database error, the query deadline; a matcher
 * error shows in qm_error). */
int dbq_events(db *d, const dbq_raw_req *r,
               int (*fn)(void *ctx, const dbq_event_row *e), void *ctx);

/* Calls fn for every visit of the site starting in [lo, hi) satisfying
 * pred (a predicate on event columns holds when one of the visit's events
 * in [sub_lo, sub_hi) satisfies it), in no particular order; rows and
 * sealed days' visits blocks alike.  Returns 0, fn's value, or -1. */
int dbq_visits(db *d, const dbq_raw_req *r,
               int (*fn)(void *ctx, const dbq_visit_row *v), void *ctx);

/* ---- rollups (db_q_rollup.c) ---- */

enum dbq_bucket { DBQ_B_NONE = 0, DBQ_B_HOUR, DBQ_B_DAY };

/* Which rollup table answers: rollup_hourly, rollup_daily (whole UTC
 * days: h0 and h1 multiples of 24; bucket NONE, or DAY with off_h 0) or
 * rollup_monthly (months whose first day is in [h0 / 24, h1 / 24);
 * bucket NONE).  The coarse tables have no visitors_hour (read as 0). */
enum dbq_tier { DBQ_T_HOUR = 0, DBQ_T_DAY, DBQ_T_MONTH };

typedef struct {
    int64_t        site;
    int            dim;           /* enum dim */
    int64_t        h0, h1;        /* UTC hours [h0, h1) */
    enum dbq_bucket bucket;       /* NONE: b = 0; HOUR: b = hour; DAY: b =
                                     (hour + off_h) / 24 */
    int            off_h;
    const dbq_pred *pred;         /* NULL, or leaves/and/or/not on the
                                     dim's own column only */
    qm_set        *m;
    enum dbq_tier  tier;
} dbq_rollup_req;

typedef struct {
    int64_t b, k1, k2;
    int64_t m[M_COUNT];           /* by enum metric (dims.h) */
} dbq_rollup_row;

/* Calls fn for every rollup_hourly row of (site, dim) in [h0, h1)
 * satisfying pred, with its bucket b; rows of one (b, k1, k2) may come
 * several times: the caller sums them.  Returns 0, fn's value, or -1. */
int dbq_rollup(db *d, const dbq_rollup_req *r,
               int (*fn)(void *ctx, const dbq_rollup_row *row), void *ctx);

/* ---- sites (db_q_raw.c) ---- */

/* Finds site domain: 1 with *id, tz (cap bytes) and *first_hour (the
 * first UTC hour with stats, -1 when none), 0 unknown, -1 error. */
int dbq_site(db *d, const char *domain, int64_t *id, char *tz, size_t cap,
             int64_t *first_hour);

/* Distinct visitors (per UTC day of their events, summed) of site with
 * events in [lo, hi): the realtime count.  Returns >= 0 or -1. */
int64_t dbq_distinct_visitors(db *d, int64_t site, int64_t lo, int64_t hi);

#endif
