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

typedef struct dbq_vsets dbq_vsets;

/* Column expressions of one scope: col -> SQL expression, or NULL when
 * the scope lacks it; visitor = the visitor id expression (has_done). */
typedef struct {
    const char *col[DBQ_NCOLS];
    const char *visitor;
    const char *events_alias;     /* for GOAL: name/page of this scope */
    const dbq_vsets *vs;          /* non-NULL: has_done nodes found in vs
                                     become tally_vs(k, visitor)        */
} dbq_scope;

/* Sets of 64-bit values computed in C for one call (db_q_sets.c): the
 * visitors of each has_done node (node[k] -> set k) and, for the visit
 * scan, the visits with an event satisfying the predicate (set
 * visit_k, -1 none).  The SQL function tally_vs(k, x) tests x in set k
 * (registered by dbq_vs_register). */
struct dbq_vsets {
    const dbq_pred **node;        /* node[k], k < n: the has_done node of
                                     set k (NULL: the visit set)        */
    struct dbq_vset **set;        /* set[k], k < nsets                   */
    size_t           n, nsets, cap;
    int              visit_k;
};

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

/* ---- sets computed in C for one call (db_q_sets.c) ---- */

#define DBQ_VSET_BITS_MAX (1ull << 28)  /* bitmap values below: <= 32 MB */

/* A set of 64-bit values: a bitmap for small values (visit ids), open
 * addressing for the others (visitor hashes).  Zeroed = empty. */
struct dbq_vset {
    uint64_t *bm;                 /* values < nbm */
    uint64_t  nbm;
    uint64_t *s;                  /* values >= DBQ_VSET_BITS_MAX; 0 free */
    size_t    cap, n;
};

static inline uint64_t
dbq_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* 1 when x is in v. */
static inline int
dbq_vset_has(const struct dbq_vset *v, uint64_t x)
{
    if (x < DBQ_VSET_BITS_MAX)
        return x < v->nbm && ((v->bm[x >> 6] >> (x & 63)) & 1);
    if (v->cap == 0)
        return 0;
    size_t m = v->cap - 1, i = dbq_mix(x) & m;
    while (v->s[i]) {
        if (v->s[i] == x)
            return 1;
        i = (i + 1) & m;
    }
    return 0;
}

/* A bitmap of accepted dictionary ids; zeroed = empty. */
typedef struct {
    uint64_t *w;
    size_t    nbits;
} dbq_bits;

/* 1 when id v is in b. */
static inline int
dbq_bits_has(const dbq_bits *b, int64_t v)
{
    return v >= 0 && (uint64_t)v < b->nbits
           && ((b->w[(uint64_t)v >> 6] >> ((uint64_t)v & 63)) & 1);
}

/* Adds x to v.  Returns 0 or -1 (out of memory). */
int dbq_vset_add(struct dbq_vset *v, uint64_t x);

/* k of has_done node p in vs (NULL: none), or -1. */
int dbq_vsets_find(const dbq_vsets *vs, const dbq_pred *p);

/* Adds an empty set to vs, for has_done node p (NULL: the visit set,
 * whose index the caller keeps in visit_k).  Returns its index or -1. */
int dbq_vsets_new(dbq_vsets *vs, const dbq_pred *p);

/* Frees vs's sets and arrays; vs is then empty (visit_k -1). */
void dbq_vsets_free(dbq_vsets *vs);

/* Registers tally_vs(k, x) on d, testing x in vs->set[k] (vs borrowed:
 * it must outlive the statements using it); NULL unregisters. */
void dbq_vs_register(db *d, const dbq_vsets *vs);

/* Fills b with the ids of "SELECT x.id FROM strings x WHERE x.id IN
 * (set)": of matcher fid (key NULL; dbq_idset) or the propset of key
 * (dbq_propset; fid -1: any value).  b owns its words (free b->w).
 * Returns 0 or -1 (a database or matcher error). */
int dbq_bits_load(db *d, dbq_bits *b, const char *key, int fid);

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
