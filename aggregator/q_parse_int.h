/*
 * q_parse_int.h -- private to q_parse.c and q_filter.c: the state of one
 * q_parse call and the helpers the two files share.  Everything here
 * writes its message, if any, through q_fail into the caller's err buffer
 * and returns -1 on a rejected query.
 */
#ifndef TALLY_AGG_Q_PARSE_INT_H
#define TALLY_AGG_Q_PARSE_INT_H

#include "aggregator/q_parse.h"

#include <jansson.h>
#include <stddef.h>

/* One q_parse call: the query being filled in (owned by q_parse's
 * caller), the caller's message buffer, and the simple (leaf) filters
 * counted so far against Q_MAX_FILTERS. */
typedef struct {
    q_query *q;
    char    *err;
    size_t   errlen;
    size_t   leaves;
} q_ctx;

/* ---- q_parse.c ---- */

/* Formats the message into c->err (when c->errlen > 0); returns -1. */
int q_fail(q_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 for event:* dims (event:props included). */
int q_dim_is_event(q_dim_kind d);

/* Parses a dimension string into *out (clearing it first).  Returns 0,
 * -1 unknown (or a time dimension when allow_time is 0), -2 not supported
 * by Tally, -3 custom property key empty or too long.  "time" gives
 * Q_D_TIME_DAY with auto_time set.  On 0 with Q_D_EVENT_PROP, out->prop
 * is malloc'd and owned by the caller (by the q_query once stored in it). */
int q_parse_dim(const char *s, int allow_time, q_dim *out);

/* The message of a q_parse_dim failure rc for dimension s at JSON
 * pointer path, through q_fail; returns -1. */
int q_dim_error(q_ctx *c, int rc, const char *path, const char *s);

/* 1 if q queries metric m. */
int q_has_metric(const q_query *q, q_metric m);

/* The echo of a dimension ("event:props:<key>" for properties): a new
 * JSON string the caller owns, or NULL on allocation failure. */
json_t *q_dim_json(const q_dim *d);

/* ---- q_filter.c ---- */

/* Parses the "filters" value v (NULL: absent) into c->q->filters and
 * nfilters, which the q_query owns (q_query_free releases them, also
 * after a failure part way).  0 or -1. */
int q_filter_parse_list(q_ctx *c, json_t *v);

/* Walks the filter tree f[0..n-1] at depth (0 for the top list): does a
 * simple filter on `kind` occur?  min_depth 1 = only inside and/or/not;
 * ignore_behavioral skips the insides of has_done/has_not_done;
 * toplevel_only = only the top list. */
int q_filter_uses(const q_filter *f, size_t n, q_dim_kind kind, int depth,
                  int min_depth, int ignore_behavioral, int toplevel_only);

/* The cross-field rules on c->q's filters (QB validate_toplevel_only_
 * filter_dimension, validate_special_metrics_filters); run after every
 * field is parsed.  0 or -1. */
int q_filter_validate(q_ctx *c);

/* Releases what the filter node f owns (clauses, property key, children),
 * not f itself. */
void q_filter_free(q_filter *f);

/* The echo of filter node f (Plausible's [op, dim, clauses, modifiers?]
 * or [op, children] form): a new JSON array the caller owns. */
json_t *q_filter_json(const q_filter *f);

#endif
