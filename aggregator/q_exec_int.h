/*
 * q_exec_int.h -- private to q_exec*.c: the execution context, the plan
 * and the helpers the rollup and raw paths share.
 *
 * Accumulators (q_agg.h qx_acc) per result row:
 *   ev_*  from events (the event unit): pageviews and events by event
 *         time; visitors = visitor identities (visitor id, UTC day) whose
 *         first matching event of that day lies in the bucket (hour
 *         buckets: distinct identities in the hour); visits (event
 *         dimensions only) = visits whose first event with the row's
 *         value lies in the bucket.
 *   vi_*  from visits (the visit unit), by visit start: visits, bounces,
 *         duration, the visit's pageviews and events; visitors as above
 *         with the visit's start.
 * This is exactly what rollup_hourly stores (docs/storage.md).
 */
#ifndef TALLY_AGG_Q_EXEC_INT_H
#define TALLY_AGG_Q_EXEC_INT_H

#include "aggregator/db_q.h"
#include "aggregator/goals.h"
#include "aggregator/q_agg.h"
#include "aggregator/q_exec.h"
#include "aggregator/q_parse.h"

#define QX_HOUR_MS 3600000LL
#define QX_DAY_MS  86400000LL
#define QX_PROP_NONE (-1)          /* key of "(none)" in property dims */

enum qx_vmode {
    QX_VM_FIRST = 0,   /* first occurrence per UTC day (day+ buckets)     */
    QX_VM_HOUR,        /* distinct per hour instance (time:hour)          */
    QX_VM_DISTINCT     /* distinct per UTC day within the range (realtime) */
};

enum qx_src { QX_SRC_NONE = 0, QX_SRC_EV, QX_SRC_VI };

typedef struct {
    db            *d;
    const q_query *q;
    int64_t        site;
    const tz_zone *z;
    goal_list      goals;
    qm_set        *m;
    int64_t        pv_id;
    int            force_raw;
    int            used_raw;
    /* string cache: dictionary id -> text (owned) */
    qh             str_idx;
    char         **strs;
    size_t         nstrs, capstrs;
    /* property values met on the raw path: negative keys -2, -3, ... */
    char         **pvals;
    size_t         npvals, cappvals;
    qh             pval_idx;      /* (hash-free) value text id lookup: see q_exec_raw.c */
    int            status;        /* error status when err is set */
    char           err[512];
} qx_ctx;

/* One query's plan (derived from q by qx_plan). */
typedef struct {
    int      ti;                  /* index of the time dim in q->dims, -1 */
    q_dim_kind tkind;
    int      has_ev_dim, has_vi_dim;
    enum qx_src src[Q_M_COUNT];   /* which unit each basic metric reads   */
    int      need_ev, need_vi, need_ev_visits, need_vi_pv;
    enum qx_vmode vmode;
    uint64_t goal_allowed;        /* goals admitted by top-level filters  */
    dbq_pred *pred;               /* the filter tree, NULL = none         */
} qx_plan;

/* Sets an error (status 400 unless given) and returns -1. */
int qx_fail(qx_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The time key of instant t_ms for time dim kind tk (hour: local hour
 * number; day: local day; week: Monday's day clamped to the range's
 * first day; month: y * 12 + m - 1). */
int64_t qx_time_key(const qx_ctx *c, q_dim_kind tk, int64_t t_ms);

/* Same for a local day number (day, week, month kinds). */
int64_t qx_day_key(const qx_ctx *c, q_dim_kind tk, int64_t day);

/* The start instant (UTC s) of the hour instance containing t_ms. */
int64_t qx_hour_instance(const qx_ctx *c, int64_t t_ms);

/* The text of dictionary id (cached; "" for 0 or unknown).  NULL on a
 * database error or out of memory. */
const char *qx_str(qx_ctx *c, int64_t id);

/* Runs q with plan p on the rollups into t (keys per q->dims).  Returns
 * 1 done, 0 not answerable from rollups, -1 error (c->err). */
int qx_rollup_run(qx_ctx *c, const qx_plan *p, qg_table *t);

/* Runs q with plan p on raw events/visits into t.  0 or -1. */
int qx_raw_run(qx_ctx *c, const qx_plan *p, qg_table *t);

/* The dbq column of a filterable dimension, or -1 (time, goal, and the
 * hostname dims Tally lacks). */
int qx_dim_col(q_dim_kind k);

/* The label of a dimension's "none" value (string id 0, property
 * absent). */
const char *qx_none_label(q_dim_kind k);

/* Builds the plan of c->q (400 for what Tally cannot answer).  0 or -1;
 * free p->pred with qx_pred_free. */
int qx_plan_make(qx_ctx *c, qx_plan *p);
void qx_pred_free(dbq_pred *p);

/* The key of property value text s (interned: -2, -3, ...), or 0 on
 * out of memory. */
int64_t qx_pval_key(qx_ctx *c, const char *s);

/* The goals (bit i = c->goals.g[i]) whose name matches the simple goal
 * filter f (its positive form). */
uint64_t qx_goal_mask(qx_ctx *c, const q_filter *f);

/* 1 for event:* dims. */
int qx_dim_is_event(q_dim_kind k);

#endif
