/*
 * q_parse.h -- strict parser/validator for Plausible's Stats API v2 query
 * object (POST /api/v2/query), producing a normalised q_query that the
 * executor runs.  No SQL here.
 *
 * Followed (see docs/api.md for the field-by-field contract):
 *   - https://plausible.io/docs/stats-api (plausible/docs docs/stats-api.md)
 *   - plausible/analytics lib/plausible/stats/api_query_parser.ex (parsing,
 *     date ranges, filter clauses), query_builder.ex (validations and their
 *     messages), table_decider.ex validate_no_metrics_dimensions_conflict,
 *     query_optimizer.ex (resolution of "time", default order_by),
 *     query_result.ex (the "query" echo), priv/json-schemas/
 *     query-api-schema.json (shapes, uniqueness, filter operators per
 *     dimension).
 *
 * Errors are strings for a 400 response; structural ones start with a
 * JSON pointer to the offending value ("#/filters/0/2: ..."), semantic ones
 * use Plausible's wording ("Metric `bounce_rate` ...").
 */
#ifndef TALLY_AGG_Q_PARSE_H
#define TALLY_AGG_Q_PARSE_H

#include "aggregator/q_range.h"
#include "aggregator/tz.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* limits (each violation is a 400 naming the limit) */
#define Q_MAX_BODY          (1u << 20)  /* bytes of JSON */
#define Q_MAX_SITE_ID       255
#define Q_MAX_DIMS          16
#define Q_MAX_ORDER         32
#define Q_MAX_FILTER_DEPTH  5     /* nesting of and/or/not/has_done */
#define Q_MAX_FILTERS       50    /* simple (leaf) filters in the tree */
#define Q_MAX_CLAUSES       100   /* clauses in one simple filter */
#define Q_MAX_CLAUSE_LEN    2000  /* bytes per clause */
#define Q_MAX_REGEX_LEN     1000  /* bytes per matches/matches_not clause */
#define Q_MAX_PROP_KEY      300   /* event:props:<key> */
#define Q_DEFAULT_LIMIT     10000
#define Q_MAX_LIMIT         10000

typedef enum {
    Q_M_VISITORS = 0,
    Q_M_VISITS,
    Q_M_PAGEVIEWS,
    Q_M_VIEWS_PER_VISIT,
    Q_M_BOUNCE_RATE,
    Q_M_VISIT_DURATION,
    Q_M_EVENTS,
    Q_M_SCROLL_DEPTH,
    Q_M_PERCENTAGE,
    Q_M_CONVERSION_RATE,
    Q_M_GROUP_CONVERSION_RATE,
    Q_M_TIME_ON_PAGE,
    Q_M_COUNT
} q_metric;

typedef enum {
    Q_D_EVENT_PAGE = 0,
    Q_D_EVENT_HOSTNAME,
    Q_D_EVENT_NAME,
    Q_D_EVENT_GOAL,
    Q_D_EVENT_PROP,             /* event:props:<prop> */
    Q_D_VISIT_ENTRY_PAGE,
    Q_D_VISIT_EXIT_PAGE,
    Q_D_VISIT_ENTRY_PAGE_HOSTNAME,
    Q_D_VISIT_EXIT_PAGE_HOSTNAME,
    Q_D_VISIT_SOURCE,
    Q_D_VISIT_REFERRER,
    Q_D_VISIT_CHANNEL,
    Q_D_VISIT_UTM_MEDIUM,
    Q_D_VISIT_UTM_SOURCE,
    Q_D_VISIT_UTM_CAMPAIGN,
    Q_D_VISIT_UTM_CONTENT,
    Q_D_VISIT_UTM_TERM,
    Q_D_VISIT_DEVICE,
    Q_D_VISIT_BROWSER,
    Q_D_VISIT_BROWSER_VERSION,
    Q_D_VISIT_OS,
    Q_D_VISIT_OS_VERSION,
    Q_D_VISIT_COUNTRY,
    Q_D_VISIT_COUNTRY_NAME,
    Q_D_VISIT_REGION,           /* parsed, rejected: not stored by Tally */
    Q_D_VISIT_REGION_NAME,      /* idem */
    Q_D_VISIT_CITY,             /* idem */
    Q_D_VISIT_CITY_NAME,        /* idem */
    Q_D_TIME_HOUR,              /* time dimensions: group by only */
    Q_D_TIME_DAY,
    Q_D_TIME_WEEK,
    Q_D_TIME_MONTH,
    Q_D_COUNT
} q_dim_kind;

typedef struct {
    q_dim_kind kind;
    char      *prop;            /* Q_D_EVENT_PROP: the key (malloc'd, owned
                                   by the q_query); else NULL */
    int        auto_time;       /* was "time", resolved from the range */
} q_dim;

typedef enum {
    Q_OP_IS = 0,
    Q_OP_IS_NOT,
    Q_OP_CONTAINS,
    Q_OP_CONTAINS_NOT,
    Q_OP_MATCHES,               /* clauses are RE2-syntax regexes, checked */
    Q_OP_MATCHES_NOT,
    Q_OP_AND,
    Q_OP_OR,
    Q_OP_NOT,
    Q_OP_HAS_DONE,              /* behavioral: session had a matching event */
    Q_OP_HAS_NOT_DONE
} q_op;

/* One node of the filter tree.  Simple filters (op <= Q_OP_MATCHES_NOT)
 * use dim/clauses/case_sensitive; and/or have nchildren >= 1 children,
 * not/has_done/has_not_done exactly one. */
typedef struct q_filter {
    q_op             op;
    q_dim            dim;
    char           **clauses;   /* nclauses NUL-free UTF-8 strings */
    size_t           nclauses;
    int              case_sensitive;     /* 1 unless {"case_sensitive": false} */
    int              has_modifiers;      /* a modifiers object was given */
    struct q_filter *children;
    size_t           nchildren;
} q_filter;

typedef struct {
    int    is_metric;           /* 1: metric; 0: dims[dim] */
    q_metric metric;
    size_t dim;
    int    desc;
} q_order;

typedef enum {
    Q_CMP_NONE = 0,
    Q_CMP_PREVIOUS_PERIOD,
    Q_CMP_YEAR_OVER_YEAR,
    Q_CMP_CUSTOM
} q_compare_mode;

typedef struct {
    q_compare_mode mode;
    int64_t first_day, last_day;  /* Q_CMP_CUSTOM: local days, inclusive */
    int     match_day_of_week;
} q_compare;

typedef struct {
    char          *site_id;     /* malloc'd */
    q_metric       metrics[Q_M_COUNT];
    size_t         nmetrics;
    q_dim          dims[Q_MAX_DIMS];
    size_t         ndims;
    q_filter      *filters;     /* top level, implicitly and-ed */
    size_t         nfilters;
    q_order        order[Q_MAX_ORDER];
    size_t         norder;
    int            order_given; /* 0: defaults filled in */
    q_range        range;
    const tz_zone *tz;          /* the site's zone (cache-owned) */
    int            imports, time_labels, total_rows;
    q_compare      compare;
    uint64_t       limit, offset;
} q_query;

typedef struct {
    const char *timezone;       /* IANA name of the site; NULL/"" = UTC */
    int64_t     now_ms;         /* current instant, UTC milliseconds */
    int64_t     first_day;      /* site-local day of the first stats, or -1 */
} q_site_info;

/* Parses and validates len bytes of JSON.  On success returns 0 and fills
 * *out, which the caller owns and releases with q_query_free.  On failure
 * returns -1, leaves *out empty (q_query_free on it is harmless) and
 * writes a client-facing message into err.  Never reads beyond len, never
 * crashes on hostile input. */
int q_parse(const char *json, size_t len, const q_site_info *site,
            q_query *out, char *err, size_t errlen);

/* Releases everything a q_query owns (not the struct itself); leaves it
 * zeroed. */
void q_query_free(q_query *q);

/* Builds the normalised "query" object Plausible echoes in its response
 * (site_id, metrics, date_range as two ISO datetimes in the site's zone,
 * filters, dimensions with "time" resolved, order_by with defaults,
 * include with only true keys, pagination).  Returns 0 and a new
 * reference in *out (caller json_decref's it), or -1 on allocation
 * failure. */
int q_query_to_json(const q_query *q, json_t **out);

/* Canonical names ("visitors", "event:page", "is"...).  Static strings.
 * q_dim_name returns "event:props" for Q_D_EVENT_PROP (the key is in
 * q_dim.prop). */
const char *q_metric_name(q_metric m);
const char *q_dim_name(q_dim_kind d);
const char *q_op_name(q_op op);

/* 1 for Q_D_TIME_*. */
int q_dim_is_time(q_dim_kind d);

#endif
