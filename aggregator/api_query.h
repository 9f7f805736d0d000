/*
 * api_query.h -- the Plausible Stats API v2 query (POST /api/v2/query):
 * parsing and validation of the JSON body, execution through db.h, and
 * the response in Plausible's shape:
 *
 *   {"results":[{"metrics":[...],"dimensions":[...]}],
 *    "meta":{},
 *    "query":{ the normalised query; date_range as two ISO datetimes }}
 *
 * Supported so far: metrics visitors, pageviews, events; date_range
 * "day", "7d", "30d" or ["YYYY-MM-DD","YYYY-MM-DD"]; dimensions [],
 * ["time:day"], ["event:page"] or ["event:name"]; filters absent or [];
 * order_by over the queried metrics and dimension; include imports,
 * time_labels, total_rows; pagination limit/offset.  Anything else is a
 * 400 with an {"error": "..."} naming the offending value.
 *
 * Days are UTC days (site timezones come later).
 */
#ifndef TALLY_AGG_API_QUERY_H
#define TALLY_AGG_API_QUERY_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

#define AQ_MAX_METRICS 8
#define AQ_MAX_ORDER   8
#define AQ_SITE_MAX    256
#define AQ_DEFAULT_LIMIT 10000

enum aq_metric { AQ_M_VISITORS = 0, AQ_M_PAGEVIEWS = 1, AQ_M_EVENTS = 2 };
enum aq_dim { AQ_D_NONE = 0, AQ_D_DAY = 1, AQ_D_PAGE = 2, AQ_D_NAME = 3 };

/* One order_by entry: a queried metric (metric >= 0) or the dimension
 * (metric == -1). */
typedef struct {
    int metric;      /* enum aq_metric, or -1 for the dimension */
    int desc;
} aq_order;

typedef struct {
    char           site_id[AQ_SITE_MAX];
    enum aq_metric metrics[AQ_MAX_METRICS];
    size_t         nmetrics;
    enum aq_dim    dim;
    int64_t        first_day, last_day;  /* inclusive UTC day numbers */
    aq_order       order[AQ_MAX_ORDER];  /* defaults filled in */
    size_t         norder;
    uint64_t       limit, offset;
    int            imports, time_labels, total_rows;
} aq_query;

/* Parses and validates a request body (len bytes of JSON) with today's
 * UTC day number `today`.  Returns 0 and fills *q, or -1 with a message
 * for the client in err (the request is then a 400). */
int aq_parse(const char *body, size_t len, int64_t today, aq_query *q,
             char *err, size_t errlen);

/* Runs a parsed query on d and renders the response.  Returns a malloc'd
 * JSON text (caller frees) and sets *status to 200, or to 404 (unknown
 * site) / 500 (database error) with an {"error": ...} body. */
char *aq_run(db *d, const aq_query *q, int *status);

/* aq_parse + aq_run: returns the malloc'd response body for any request
 * body and sets *status (200, 400, 404 or 500).  NULL only when out of
 * memory. */
char *aq_handle(db *d, const char *body, size_t len, int64_t today,
                int *status);

/* Renders {"error": msg} as a malloc'd string (NULL if out of memory). */
char *aq_error_json(const char *msg);

/* Day number <-> "YYYY-MM-DD" (proleptic Gregorian, UTC).  aq_parse_date
 * returns 0 or -1 for anything but a valid date in exactly that form. */
int aq_parse_date(const char *s, int64_t *day);
void aq_format_date(int64_t day, char out[11]);

#endif
