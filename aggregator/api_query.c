/* api_query.c -- see api_query.h. */
#include "aggregator/api_query.h"
#include "aggregator/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const aq_metric_names[] = { "visitors", "pageviews", "events" };
static const char *const aq_dim_names[] = { "", "time:day", "event:page", "event:name" };

#define AQ_NMETRIC_KINDS 3

/* ---- dates ---- */

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t
aq_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void
aq_format_date(int64_t z, char out[11])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    unsigned yy = (unsigned)(((y % 10000) + 10000) % 10000);
    snprintf(out, 11, "%04u-%02u-%02u", yy, m % 100, d % 100);
}

int
aq_parse_date(const char *s, int64_t *day)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    *day = aq_days_from_civil(y, m, d);
    return 0;
}

/* ---- parsing ---- */

#define AQ_FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int
aq_metric_lookup(const char *s)
{
    for (int i = 0; i < AQ_NMETRIC_KINDS; i++)
        if (strcmp(s, aq_metric_names[i]) == 0)
            return i;
    return -1;
}

static int
aq_parse_metrics(json_t *v, aq_query *q, char *err, size_t errlen)
{
    if (v == NULL)
        AQ_FAIL("missing required key 'metrics'");
    if (!json_is_array(v) || json_array_size(v) == 0)
        AQ_FAIL("'metrics' must be a non-empty list of metric names");
    if (json_array_size(v) > AQ_MAX_METRICS)
        AQ_FAIL("too many metrics");
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        if (!json_is_string(m))
            AQ_FAIL("'metrics' must be a list of strings");
        int k = aq_metric_lookup(json_string_value(m));
        if (k < 0)
            AQ_FAIL("unknown or unsupported metric '%.100s' (supported: visitors, pageviews, events)",
                    json_string_value(m));
        for (size_t j = 0; j < q->nmetrics; j++)
            if ((int)q->metrics[j] == k)
                AQ_FAIL("metric '%s' is queried more than once", aq_metric_names[k]);
        q->metrics[q->nmetrics++] = (enum aq_metric)k;
    }
    return 0;
}

/*
 * Relative ranges follow Plausible's current query parser
 * (lib/plausible/stats/query_parser.ex, plausible/analytics): "day" is
 * today; "Nd" is the N whole days before today, today excluded
 * (first = today - N, last = today - 1).  Older Plausible releases
 * counted "7d" as today - 6 .. today and "30d" as today - 30 .. today;
 * we follow the current behaviour.  A custom range is two dates, both
 * included.
 */
static int
aq_parse_range(json_t *v, int64_t today, aq_query *q, char *err, size_t errlen)
{
    if (v == NULL)
        AQ_FAIL("missing required key 'date_range'");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "day") == 0) {
            q->first_day = q->last_day = today;
        } else if (strcmp(s, "7d") == 0) {
            q->first_day = today - 7;
            q->last_day = today - 1;
        } else if (strcmp(s, "30d") == 0) {
            q->first_day = today - 30;
            q->last_day = today - 1;
        } else {
            AQ_FAIL("invalid date_range '%.100s' (use \"day\", \"7d\", \"30d\" or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"])", s);
        }
        return 0;
    }
    if (json_is_array(v) && json_array_size(v) == 2
        && json_is_string(json_array_get(v, 0))
        && json_is_string(json_array_get(v, 1))) {
        const char *a = json_string_value(json_array_get(v, 0));
        const char *b = json_string_value(json_array_get(v, 1));
        if (aq_parse_date(a, &q->first_day) != 0)
            AQ_FAIL("invalid date_range: '%.100s' is not a date (YYYY-MM-DD)", a);
        if (aq_parse_date(b, &q->last_day) != 0)
            AQ_FAIL("invalid date_range: '%.100s' is not a date (YYYY-MM-DD)", b);
        if (q->first_day > q->last_day)
            AQ_FAIL("invalid date_range: %s is after %s", a, b);
        return 0;
    }
    AQ_FAIL("invalid date_range (use \"day\", \"7d\", \"30d\" or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"])");
}

static int
aq_parse_dims(json_t *v, aq_query *q, char *err, size_t errlen)
{
    q->dim = AQ_D_NONE;
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        AQ_FAIL("'dimensions' must be a list");
    if (json_array_size(v) == 0)
        return 0;
    json_t *d = json_array_get(v, 0);
    if (!json_is_string(d))
        AQ_FAIL("'dimensions' must be a list of strings");
    const char *s = json_string_value(d);
    for (int i = AQ_D_DAY; i <= AQ_D_NAME; i++) {
        if (strcmp(s, aq_dim_names[i]) == 0) {
            if (json_array_size(v) > 1)
                AQ_FAIL("unsupported dimension combination: only one dimension per query is supported yet");
            q->dim = (enum aq_dim)i;
            return 0;
        }
    }
    AQ_FAIL("unsupported dimension '%.100s' (supported: time:day, event:page, event:name)", s);
}

static int
aq_parse_filters(json_t *v, char *err, size_t errlen)
{
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        AQ_FAIL("'filters' must be a list");
    if (json_array_size(v) != 0)
        AQ_FAIL("filters are not supported yet");
    return 0;
}

static int
aq_parse_order(json_t *v, aq_query *q, char *err, size_t errlen)
{
    q->norder = 0;
    if (v != NULL) {
        if (!json_is_array(v))
            AQ_FAIL("'order_by' must be a list of [name, \"asc\"|\"desc\"] pairs");
        if (json_array_size(v) > AQ_MAX_ORDER)
            AQ_FAIL("too many order_by entries");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            json_t *n = json_array_get(e, 0), *dir = json_array_get(e, 1);
            if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(n)
                || !json_is_string(dir))
                AQ_FAIL("invalid order_by entry: expected [name, \"asc\"|\"desc\"]");
            const char *ns = json_string_value(n), *ds = json_string_value(dir);
            aq_order o = { .metric = -2 };
            if (strcmp(ds, "asc") == 0)
                o.desc = 0;
            else if (strcmp(ds, "desc") == 0)
                o.desc = 1;
            else
                AQ_FAIL("invalid order_by direction '%.50s' (asc or desc)", ds);
            int k = aq_metric_lookup(ns);
            for (size_t j = 0; k >= 0 && j < q->nmetrics; j++)
                if ((int)q->metrics[j] == k)
                    o.metric = k;
            if (q->dim != AQ_D_NONE && strcmp(ns, aq_dim_names[q->dim]) == 0)
                o.metric = -1;
            if (o.metric == -2)
                AQ_FAIL("invalid order_by entry '%.100s': not a queried metric or dimension", ns);
            q->order[q->norder++] = o;
        }
    }
    if (q->norder == 0) {
        /* Plausible's default: time ascending, else the first metric
         * descending */
        if (q->dim == AQ_D_DAY)
            q->order[q->norder++] = (aq_order){ .metric = -1, .desc = 0 };
        else
            q->order[q->norder++] = (aq_order){ .metric = (int)q->metrics[0], .desc = 1 };
    }
    return 0;
}

static int
aq_parse_include(json_t *v, aq_query *q, char *err, size_t errlen)
{
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        AQ_FAIL("'include' must be an object");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        int *flag = strcmp(k, "imports") == 0 ? &q->imports
                  : strcmp(k, "time_labels") == 0 ? &q->time_labels
                  : strcmp(k, "total_rows") == 0 ? &q->total_rows : NULL;
        if (flag == NULL)
            AQ_FAIL("unsupported include option '%.100s' (supported: imports, time_labels, total_rows)", k);
        if (!json_is_boolean(x))
            AQ_FAIL("include option '%s' must be true or false", k);
        *flag = json_is_true(x);
    }
    return 0;
}

static int
aq_parse_pagination(json_t *v, aq_query *q, char *err, size_t errlen)
{
    q->limit = AQ_DEFAULT_LIMIT;
    q->offset = 0;
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        AQ_FAIL("'pagination' must be an object");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "limit") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 1
                || json_integer_value(x) > AQ_DEFAULT_LIMIT)
                AQ_FAIL("pagination limit must be an integer from 1 to %d", AQ_DEFAULT_LIMIT);
            q->limit = (uint64_t)json_integer_value(x);
        } else if (strcmp(k, "offset") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 0)
                AQ_FAIL("pagination offset must be a non-negative integer");
            q->offset = (uint64_t)json_integer_value(x);
        } else {
            AQ_FAIL("unknown pagination option '%.100s' (limit, offset)", k);
        }
    }
    return 0;
}

int
aq_parse(const char *body, size_t len, int64_t today, aq_query *q,
         char *err, size_t errlen)
{
    static const char *const keys[] = { "site_id", "metrics", "date_range",
        "dimensions", "filters", "order_by", "include", "pagination" };
    memset(q, 0, sizeof(*q));

    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "invalid JSON: %s", je.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the request body must be a JSON object");
        goto out;
    }
    const char *k;
    json_t *x;
    json_object_foreach(root, k, x) {
        size_t i = 0;
        while (i < sizeof(keys) / sizeof(keys[0]) && strcmp(k, keys[i]) != 0)
            i++;
        if (i == sizeof(keys) / sizeof(keys[0])) {
            snprintf(err, errlen, "unknown key '%.100s'", k);
            goto out;
        }
    }
    json_t *site = json_object_get(root, "site_id");
    if (site == NULL) {
        snprintf(err, errlen, "missing required key 'site_id'");
        goto out;
    }
    if (!json_is_string(site) || json_string_length(site) == 0
        || json_string_length(site) >= AQ_SITE_MAX
        || strlen(json_string_value(site)) != json_string_length(site)) {
        snprintf(err, errlen, "'site_id' must be a non-empty string (the site's domain)");
        goto out;
    }
    strcpy(q->site_id, json_string_value(site));

    if (aq_parse_metrics(json_object_get(root, "metrics"), q, err, errlen) != 0
        || aq_parse_range(json_object_get(root, "date_range"), today, q, err, errlen) != 0
        || aq_parse_dims(json_object_get(root, "dimensions"), q, err, errlen) != 0
        || aq_parse_filters(json_object_get(root, "filters"), err, errlen) != 0
        || aq_parse_order(json_object_get(root, "order_by"), q, err, errlen) != 0
        || aq_parse_include(json_object_get(root, "include"), q, err, errlen) != 0
        || aq_parse_pagination(json_object_get(root, "pagination"), q, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- execution ---- */

typedef struct {
    int64_t     day;
    const char *label;
    uint64_t    m[AQ_NMETRIC_KINDS];   /* by enum aq_metric */
} aq_row;

static int
aq_row_cmp(const void *pa, const void *pb, void *ctx)
{
    const aq_query *q = ctx;
    const aq_row *a = pa, *b = pb;
    for (size_t i = 0; i < q->norder; i++) {
        const aq_order *o = &q->order[i];
        int c;
        if (o->metric >= 0) {
            uint64_t x = a->m[o->metric], y = b->m[o->metric];
            c = x < y ? -1 : x > y;
        } else if (q->dim == AQ_D_DAY) {
            c = a->day < b->day ? -1 : a->day > b->day;
        } else {
            c = strcmp(a->label, b->label);
        }
        if (c != 0)
            return o->desc ? -c : c;
    }
    /* ties: by the dimension ascending, for stable output */
    if (q->dim == AQ_D_DAY)
        return a->day < b->day ? -1 : a->day > b->day;
    if (q->dim != AQ_D_NONE)
        return strcmp(a->label, b->label);
    return 0;
}

static json_t *
aq_date_json(int64_t day, const char *time)
{
    char d[11], s[40];
    aq_format_date(day, d);
    snprintf(s, sizeof(s), "%sT%s+00:00", d, time);
    return json_string(s);
}

/* The normalised query echoed in the response. */
static json_t *
aq_query_json(const aq_query *q)
{
    json_t *metrics = json_array(), *dims = json_array(), *order = json_array();
    for (size_t i = 0; i < q->nmetrics; i++)
        json_array_append_new(metrics, json_string(aq_metric_names[q->metrics[i]]));
    if (q->dim != AQ_D_NONE)
        json_array_append_new(dims, json_string(aq_dim_names[q->dim]));
    for (size_t i = 0; i < q->norder; i++) {
        const aq_order *o = &q->order[i];
        json_array_append_new(order, json_pack("[ss]",
            o->metric >= 0 ? aq_metric_names[o->metric] : aq_dim_names[q->dim],
            o->desc ? "desc" : "asc"));
    }
    return json_pack("{s:s, s:o, s:[o,o], s:[], s:o, s:o, s:{s:b, s:b, s:b}, s:{s:I, s:I}}",
        "site_id", q->site_id,
        "metrics", metrics,
        "date_range", aq_date_json(q->first_day, "00:00:00"),
                      aq_date_json(q->last_day, "23:59:59"),
        "filters",
        "dimensions", dims,
        "order_by", order,
        "include", "imports", q->imports, "time_labels", q->time_labels,
                   "total_rows", q->total_rows,
        "pagination", "limit", (json_int_t)q->limit, "offset", (json_int_t)q->offset);
}

char *
aq_error_json(const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static json_t *
aq_row_json(const aq_query *q, const aq_row *r)
{
    json_t *m = json_array(), *d = json_array();
    for (size_t i = 0; i < q->nmetrics; i++)
        json_array_append_new(m, json_integer((json_int_t)r->m[q->metrics[i]]));
    if (q->dim == AQ_D_DAY) {
        char s[11];
        aq_format_date(r->day, s);
        json_array_append_new(d, json_string(s));
    } else if (q->dim != AQ_D_NONE) {
        json_array_append_new(d, json_string(r->label));
    }
    return json_pack("{s:o, s:o}", "metrics", m, "dimensions", d);
}

char *
aq_run(db *d, const aq_query *q, int *status)
{
    char msg[512];
    int64_t site;
    int found = db_site_find(d, q->site_id, &site);
    if (found < 0) {
        *status = 500;
        return aq_error_json("database error");
    }
    if (found == 0) {
        *status = 404;
        snprintf(msg, sizeof(msg), "site '%.300s' not found (sites appear with their first event)",
                 q->site_id);
        return aq_error_json(msg);
    }

    enum db_group g = q->dim == AQ_D_PAGE ? DB_GROUP_PAGE
                    : q->dim == AQ_D_NAME ? DB_GROUP_NAME : DB_GROUP_DAY;
    db_stat_row *srows;
    size_t n;
    if (db_stats(d, site, q->first_day * 86400000LL, (q->last_day + 1) * 86400000LL,
                 g, &srows, &n) != 0) {
        *status = 500;
        return aq_error_json("database error");
    }

    size_t nrows = q->dim == AQ_D_NONE ? 1 : n;
    aq_row *rows = calloc(nrows ? nrows : 1, sizeof(*rows));
    char *out = NULL;
    if (rows == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        aq_row *r = q->dim == AQ_D_NONE ? &rows[0] : &rows[i];
        r->day = srows[i].day;
        r->label = srows[i].label ? srows[i].label : "";
        /* visitors of a multi-day range = the sum of each day's distinct
         * visitors: visitor ids are salted per day, so the same person on
         * two days has two ids and cross-day uniqueness is impossible
         * (Plausible counts the same way) */
        r->m[AQ_M_VISITORS] += srows[i].visitors;
        r->m[AQ_M_PAGEVIEWS] += srows[i].pageviews;
        r->m[AQ_M_EVENTS] += srows[i].events;
    }
    qsort_r(rows, nrows, sizeof(*rows), aq_row_cmp, (void *)q);

    json_t *results = json_array(), *meta = json_object();
    for (uint64_t i = q->offset; i < nrows && i - q->offset < q->limit; i++)
        json_array_append_new(results, aq_row_json(q, &rows[i]));
    if (q->total_rows)
        json_object_set_new(meta, "total_rows", json_integer((json_int_t)nrows));
    if (q->time_labels && q->dim == AQ_D_DAY) {
        json_t *labels = json_array();
        for (int64_t day = q->first_day; day <= q->last_day; day++) {
            char s[11];
            aq_format_date(day, s);
            json_array_append_new(labels, json_string(s));
        }
        json_object_set_new(meta, "time_labels", labels);
    }
    json_t *resp = json_pack("{s:o, s:o, s:o}", "results", results, "meta", meta,
                             "query", aq_query_json(q));
    out = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_decref(resp);
done:
    free(rows);
    db_stat_rows_free(srows, n);
    *status = out ? 200 : 500;
    return out ? out : aq_error_json("out of memory");
}

char *
aq_handle(db *d, const char *body, size_t len, int64_t today, int *status)
{
    aq_query q;
    char err[512];
    if (aq_parse(body, len, today, &q, err, sizeof(err)) != 0) {
        *status = 400;
        return aq_error_json(err);
    }
    return aq_run(d, &q, status);
}
