/*
 * db_q_int.h -- private to db_q_raw.c, db_q_rollup.c and db_q_sealed.c:
 * the SQL text builder (constant fragments + a list of bound values), the
 * predicate compiler shared by the paths, and the seams between the SQL
 * scans of raw rows (db_q_raw.c) and the scans over sealed days
 * (db_q_sealed.c).
 */
#ifndef TALLY_AGG_DB_Q_INT_H
#define TALLY_AGG_DB_Q_INT_H

#include "aggregator/db_int.h"
#include "aggregator/db_q.h"

typedef struct {
    int         text;             /* 1: t, else i */
    int64_t     i;
    const char *t;                /* borrowed, outlives the statement */
} dbq_bind;

typedef struct {
    char     *s;
    size_t    len, cap;
    dbq_bind *b;
    size_t    nb, capb;
    int       oom;
} dbq_sql;

void dbq_sql_free(dbq_sql *q);
void dbq_cat(dbq_sql *q, const char *frag);
void dbq_int(dbq_sql *q, int64_t v);          /* appends "?" and binds v */
void dbq_text(dbq_sql *q, const char *v);     /* appends "?" and binds v */

/* Column expressions of one scope: col -> SQL expression, or NULL when
 * the scope lacks it; visitor = the visitor id expression (has_done). */
typedef struct dbq_vsets dbq_vsets;

typedef struct {
    const char *col[DBQ_NCOLS];
    const char *visitor;
    const char *events_alias;     /* for GOAL: name/page of this scope */
    const dbq_vsets *vs;          /* non-NULL: has_done nodes found in vs
                                     become tally_vs(k, visitor)        */
} dbq_scope;

/* Sets of 64-bit values computed in C for one call (db_q_sealed.c): the
 * visitors of each has_done node (node[k] -> set k) and, for the visit
 * scan, the visits with an event satisfying the predicate (set
 * visit_k, -1 none).  The SQL function tally_vs(k, x) tests x in set k
 * (registered by dbq_vs_register). */
struct dbq_vsets {
    const dbq_pred **node;        /* node[k], k < n: a has_done node    */
    struct dbq_vset **set;        /* set[k], k < nsets                   */
    size_t           n, nsets, cap;
    int              visit_k;
};

/* k of has_done node p in vs, or -1. */
int dbq_vsets_find(const dbq_vsets *vs, const dbq_pred *p);

/* Appends p as a boolean SQL expression in scope sc.  has_done subqueries
 * scan events of site r_site in [sub_lo, sub_hi).  Returns 0, or -1 when
 * p needs a column the scope lacks. */
int dbq_pred_sql(dbq_sql *q, const dbq_pred *p, const dbq_scope *sc,
                 int64_t site, int64_t sub_lo, int64_t sub_hi,
                 int64_t pageview_id);

/* Registers tally_m on d for matcher set m (NULL unregisters), and a
 * progress handler that interrupts statements after the query deadline. */
void dbq_register(db *d, qm_set *m);

/* Prepares q with its binds.  NULL on error (logged). */
sqlite3_stmt *dbq_prepare(db *d, dbq_sql *q);

/* Steps st to the end calling row(ctx, st) for each row, then finalizes
 * it.  Returns 0, row's non-zero value, or -1 (logged). */
int dbq_run(db *d, sqlite3_stmt *st, int (*row)(void *, sqlite3_stmt *),
            void *ctx);

/* Appends " IN (<ids of strings matcher fid accepts>)". */
void dbq_idset(dbq_sql *q, int fid);

/* Appends " IN (<props ids whose object has key, non-null, with a value
 * matching fid when fid >= 0>)". */
void dbq_propset(dbq_sql *q, const char *key, int fid);

/* 1 when p tests a visit column outside has_done. */
int dbq_pred_has_visit_col(const dbq_pred *p);

/* 1 when the deadline dbq_register set has passed (C loops check it
 * every DBQ_CHECK_ROWS rows and fail like an interrupted statement). */
int dbq_deadline_passed(void);
#define DBQ_CHECK_ROWS 65536

/* ---- the SQL scans of raw rows (db_q_raw.c), without dbq_register:
 * the caller registers tally_m (and tally_vs when vs is non-NULL) ---- */

/* dbq_events' SQL for the event rows with ts in [lo, hi). */
int dbq_events_sql(db *d, const dbq_raw_req *r, int64_t lo, int64_t hi,
                   const dbq_vsets *vs,
                   int (*fn)(void *ctx, const dbq_event_row *e), void *ctx);

/* dbq_visits' SQL for the visit rows starting in [r->lo, r->hi). */
int dbq_visits_sql(db *d, const dbq_raw_req *r, const dbq_vsets *vs,
                   int (*fn)(void *ctx, const dbq_visit_row *v), void *ctx);

/* ---- the scans over sealed days (db_q_sealed.c) ---- */

/* dbq_events / dbq_visits after dbq_register: when no sealed day of the
 * site overlaps the ranges the request reads, exactly the SQL scan;
 * else sealed days decoded and filtered in C, the rest in SQL, with the
 * same rows and (events) the same order. */
int dbq_seal_events(db *d, const dbq_raw_req *r,
                    int (*fn)(void *ctx, const dbq_event_row *e), void *ctx);
int dbq_seal_visits(db *d, const dbq_raw_req *r,
                    int (*fn)(void *ctx, const dbq_visit_row *v), void *ctx);

#endif
