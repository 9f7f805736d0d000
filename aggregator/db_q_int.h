/*
 * db_q_int.h -- private to db_q_raw.c and db_q_rollup.c: the SQL text
 * builder (constant fragments + a list of bound values) and the
 * predicate compiler shared by both paths.
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
typedef struct {
    const char *col[DBQ_NCOLS];
    const char *visitor;
    const char *events_alias;     /* for GOAL: name/page of this scope */
} dbq_scope;

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

#endif
