/* q_parse.c -- see q_parse.h.  The filters ("filters", their operators
 * and rules) are parsed in q_filter.c.  Rule sources are cited where
 * applied; "QB" = plausible/analytics lib/plausible/stats/query_builder.ex,
 * "AQP" = api_query_parser.ex, "TD" = table_decider.ex, "QO" =
 * query_optimizer.ex, "schema" = priv/json-schemas/query-api-schema.json,
 * "docs" = plausible.io/docs/stats-api. */
#include "aggregator/q_parse_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const q_metric_names[Q_M_COUNT] = {
    "visitors", "visits", "pageviews", "views_per_visit", "bounce_rate",
    "visit_duration", "events", "scroll_depth", "percentage",
    "conversion_rate", "group_conversion_rate", "time_on_page",
};

static const char *const q_dim_names[Q_D_COUNT] = {
    "event:page", "event:hostname", "event:name", "event:goal", "event:props",
    "visit:entry_page", "visit:exit_page", "visit:entry_page_hostname",
    "visit:exit_page_hostname", "visit:source", "visit:referrer",
    "visit:channel", "visit:utm_medium", "visit:utm_source",
    "visit:utm_campaign", "visit:utm_content", "visit:utm_term",
    "visit:device", "visit:browser", "visit:browser_version", "visit:os",
    "visit:os_version", "visit:country", "visit:country_name",
    "visit:region", "visit:region_name", "visit:city", "visit:city_name",
    "time:hour", "time:day", "time:week", "time:month",
};

const char *
q_metric_name(q_metric m)
{
    return (unsigned)m < Q_M_COUNT ? q_metric_names[m] : "?";
}

const char *
q_dim_name(q_dim_kind d)
{
    return (unsigned)d < Q_D_COUNT ? q_dim_names[d] : "?";
}

int
q_dim_is_time(q_dim_kind d)
{
    return d >= Q_D_TIME_HOUR && d <= Q_D_TIME_MONTH;
}

int
q_dim_is_event(q_dim_kind d)
{
    return d <= Q_D_EVENT_PROP;
}

/* Tally stores no region or city (geo is country-level only). */
static int
q_dim_unsupported(q_dim_kind d)
{
    return d >= Q_D_VISIT_REGION && d <= Q_D_VISIT_CITY_NAME;
}

/* ---- errors ---- */

int
q_fail(q_ctx *c, const char *fmt, ...)
{
    if (c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Full display name of a dimension ("event:props:foo", "time" when it was
 * the automatic one) into buf. */
static const char *
q_dim_display(const q_dim *d, char *buf, size_t len, int original)
{
    if (d->kind == Q_D_EVENT_PROP)
        snprintf(buf, len, "event:props:%s", d->prop ? d->prop : "");
    else if (original && d->auto_time)
        snprintf(buf, len, "time");
    else
        snprintf(buf, len, "%s", q_dim_name(d->kind));
    return buf;
}

/* Parses a dimension string.  Returns 0, -1 unknown, -2 not supported by
 * Tally, -3 custom property key empty or too long.  "time" gives
 * Q_D_TIME_DAY with auto_time set (resolved later).  AQP
 * parse_filter_dimension_string + parse_time; docs dimension tables. */
int
q_parse_dim(const char *s, int allow_time, q_dim *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(s, "event:props:", 12) == 0) {
        size_t kl = strlen(s + 12);
        if (kl == 0 || kl > Q_MAX_PROP_KEY)
            return -3;
        out->kind = Q_D_EVENT_PROP;
        out->prop = strdup(s + 12);
        return out->prop ? 0 : -1;
    }
    if (allow_time && strcmp(s, "time") == 0) {
        out->kind = Q_D_TIME_DAY;
        out->auto_time = 1;
        return 0;
    }
    for (int i = 0; i < Q_D_COUNT; i++) {
        if (i == Q_D_EVENT_PROP || strcmp(s, q_dim_names[i]) != 0)
            continue;
        if (q_dim_is_time((q_dim_kind)i) && !allow_time)
            return -1;
        out->kind = (q_dim_kind)i;
        return q_dim_unsupported(out->kind) ? -2 : 0;
    }
    return -1;
}

static int
q_dim_same(const q_dim *a, const q_dim *b)
{
    if (a->kind != b->kind || a->auto_time != b->auto_time)
        return 0;
    return a->kind != Q_D_EVENT_PROP || strcmp(a->prop, b->prop) == 0;
}

/* ---- metrics ---- */

static int
q_parse_metrics(q_ctx *c, json_t *v)
{
    if (v == NULL)
        return q_fail(c, "#/metrics: Required property metrics was not present.");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return q_fail(c, "#/metrics: Expected a non-empty array of metric names.");
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        if (!json_is_string(m))
            return q_fail(c, "#/metrics/%zu: Expected a metric name (string).", i);
        const char *s = json_string_value(m);
        int found = -1;
        for (int k = 0; k < Q_M_COUNT; k++)
            if (strcmp(s, q_metric_names[k]) == 0)
                found = k;
        if (found < 0) {
            if (strcmp(s, "total_revenue") == 0 || strcmp(s, "average_revenue") == 0)
                return q_fail(c, "#/metrics/%zu: Metric `%s` is not supported by Tally.",
                              i, s);
            return q_fail(c, "#/metrics/%zu: Unknown metric '\"%.64s\"'.", i, s);
        }
        for (size_t k = 0; k < c->q->nmetrics; k++)
            if ((int)c->q->metrics[k] == found)
                return q_fail(c, "#/metrics: Metrics cannot be queried multiple times "
                              "(`%s` repeated).", s);
        c->q->metrics[c->q->nmetrics++] = (q_metric)found;
    }
    return 0;
}

int
q_has_metric(const q_query *q, q_metric m)
{
    for (size_t i = 0; i < q->nmetrics; i++)
        if (q->metrics[i] == m)
            return 1;
    return 0;
}

/* ---- date range ---- */

static int
q_parse_date_range(q_ctx *c, json_t *v, const q_site_info *site)
{
    if (v == NULL)
        return q_fail(c, "#/date_range: Required property date_range was not present.");
    if (json_is_string(v)) {
        if (q_range_parse_preset(json_string_value(v), &c->q->range, c->err, c->errlen))
            return -1;
    } else if (json_is_array(v) && json_array_size(v) == 2
               && json_is_string(json_array_get(v, 0))
               && json_is_string(json_array_get(v, 1))) {
        if (q_range_parse_pair(json_string_value(json_array_get(v, 0)),
                               json_string_value(json_array_get(v, 1)),
                               &c->q->range, c->err, c->errlen))
            return -1;
    } else {
        return q_fail(c, "#/date_range: Invalid date_range: expected a preset string "
                      "or an array of two ISO 8601 dates or datetimes.");
    }
    q_range_resolve(&c->q->range, c->q->tz, site->now_ms, site->first_day);
    return 0;
}

/* ---- dimensions ---- */

int
q_dim_error(q_ctx *c, int rc, const char *path, const char *s)
{
    if (rc == -2)
        return q_fail(c, "%s: Dimension `%.64s` is not supported by Tally (region and "
                      "city are not stored).", path, s);
    if (rc == -3)
        return q_fail(c, "%s: Invalid custom property dimension '%.64s': the key must "
                      "be 1..%d bytes.", path, s, Q_MAX_PROP_KEY);
    return q_fail(c, "%s: Invalid dimension '%.64s'.", path, s);
}

static int
q_parse_dimensions(q_ctx *c, json_t *v)
{
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return q_fail(c, "#/dimensions: Expected an array of dimension names.");
    if (json_array_size(v) > Q_MAX_DIMS)
        return q_fail(c, "#/dimensions: Too many dimensions (limit %d).", Q_MAX_DIMS);
    size_t i, ntime = 0;
    json_t *d;
    json_array_foreach(v, i, d) {
        char path[48];
        snprintf(path, sizeof path, "#/dimensions/%zu", i);
        if (!json_is_string(d))
            return q_fail(c, "%s: Expected a dimension name (string).", path);
        q_dim *out = &c->q->dims[c->q->ndims];
        int rc = q_parse_dim(json_string_value(d), 1, out);
        if (rc != 0)
            return q_dim_error(c, rc, path, json_string_value(d));
        c->q->ndims++;
        for (size_t k = 0; k + 1 < c->q->ndims; k++)
            if (q_dim_same(&c->q->dims[k], out))
                return q_fail(c, "#/dimensions: Dimensions must be unique ('%.64s' "
                              "repeated).", json_string_value(d));
        if (q_dim_is_time(out->kind) && ++ntime > 1)
            return q_fail(c, "#/dimensions: Only one time dimension can be queried.");
    }
    return 0;
}

/* ---- order_by ---- */

static int
q_parse_order_by(q_ctx *c, json_t *v)
{
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return q_fail(c, "#/order_by: Invalid order_by: expected an array of "
                      "[metric_or_dimension, \"asc\"|\"desc\"].");
    if (json_array_size(v) > Q_MAX_ORDER)
        return q_fail(c, "#/order_by: Too many order_by entries (limit %d).", Q_MAX_ORDER);
    /* an empty list gets the defaults, like an absent one */
    c->q->order_given = json_array_size(v) > 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        json_t *a = json_array_get(e, 0), *b = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(a)
            || !json_is_string(b))
            return q_fail(c, "#/order_by/%zu: Invalid order_by entry: expected "
                          "[metric_or_dimension, \"asc\"|\"desc\"].", i);
        const char *name = json_string_value(a), *dir = json_string_value(b);
        q_order *o = &c->q->order[c->q->norder];
        if (strcmp(dir, "asc") == 0)
            o->desc = 0;
        else if (strcmp(dir, "desc") == 0)
            o->desc = 1;
        else
            return q_fail(c, "#/order_by/%zu/1: Invalid order_by entry '[\"%.64s\", "
                          "\"%.16s\"]'.", i, name, dir);
        int known = 0;
        for (int k = 0; k < Q_M_COUNT; k++)
            if (strcmp(name, q_metric_names[k]) == 0) {
                known = 1;
                o->is_metric = 1;
                o->metric = (q_metric)k;
            }
        if (!known) {
            q_dim d;
            int rc = q_parse_dim(name, 1, &d);
            free(d.prop);
            if (rc == -1 || rc == -3)
                return q_fail(c, "#/order_by/%zu/0: Invalid order_by entry '[\"%.64s\", "
                              "\"%s\"]'.", i, name, dir);
        }
        /* QB validate_order_by: must be a queried metric or dimension */
        int queried = 0;
        if (o->is_metric) {
            queried = q_has_metric(c->q, o->metric);
        } else {
            for (size_t k = 0; k < c->q->ndims && !queried; k++) {
                char buf[Q_MAX_PROP_KEY + 16];
                if (strcmp(q_dim_display(&c->q->dims[k], buf, sizeof buf, 1), name) == 0) {
                    queried = 1;
                    o->dim = k;
                }
            }
        }
        if (!queried)
            return q_fail(c, "#/order_by/%zu: Invalid order_by entry '[\"%.64s\", "
                          "\"%s\"]'. Entry is not a queried metric or dimension.", i,
                          name, dir);
        c->q->norder++;
    }
    return 0;
}

/* ---- include, pagination ---- */

static int
q_parse_bool(q_ctx *c, json_t *v, const char *path, int *out)
{
    if (!json_is_boolean(v))
        return q_fail(c, "%s: Expected a boolean.", path);
    *out = json_is_true(v);
    return 0;
}

static int
q_parse_comparisons(q_ctx *c, json_t *v)
{
    if (!json_is_object(v))
        return q_fail(c, "#/include/comparisons: Expected an object with `mode`.");
    q_compare *cmp = &c->q->compare;
    json_t *mode = json_object_get(v, "mode"), *dr = json_object_get(v, "date_range");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "mode") != 0 && strcmp(k, "date_range") != 0
            && strcmp(k, "match_day_of_week") != 0)
            return q_fail(c, "#/include/comparisons/%.64s: Unknown key.", k);
    }
    const char *m = json_string_value(mode);
    if (m && strcmp(m, "previous_period") == 0)
        cmp->mode = Q_CMP_PREVIOUS_PERIOD;
    else if (m && strcmp(m, "year_over_year") == 0)
        cmp->mode = Q_CMP_YEAR_OVER_YEAR;
    else if (m && strcmp(m, "custom") == 0)
        cmp->mode = Q_CMP_CUSTOM;
    else
        return q_fail(c, "#/include/comparisons/mode: Expected \"previous_period\", "
                      "\"year_over_year\" or \"custom\".");
    if (cmp->mode == Q_CMP_CUSTOM) {
        if (!json_is_array(dr) || json_array_size(dr) != 2
            || q_parse_date(json_string_value(json_array_get(dr, 0)), &cmp->first_day)
            || q_parse_date(json_string_value(json_array_get(dr, 1)), &cmp->last_day)
            || cmp->first_day > cmp->last_day)
            return q_fail(c, "#/include/comparisons/date_range: Custom comparisons need "
                          "[\"YYYY-MM-DD\", \"YYYY-MM-DD\"] with start <= end.");
    } else if (dr) {
        return q_fail(c, "#/include/comparisons/date_range: Only allowed with mode "
                      "\"custom\".");
    }
    x = json_object_get(v, "match_day_of_week");
    if (x && q_parse_bool(c, x, "#/include/comparisons/match_day_of_week",
                          &cmp->match_day_of_week))
        return -1;
    return 0;
}

static int
q_parse_include(q_ctx *c, json_t *v)
{
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return q_fail(c, "#/include: Invalid include: expected an object.");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        char path[96];
        snprintf(path, sizeof path, "#/include/%.64s", k);
        int rc;
        if (strcmp(k, "imports") == 0)
            rc = q_parse_bool(c, x, path, &c->q->imports);
        else if (strcmp(k, "time_labels") == 0)
            rc = q_parse_bool(c, x, path, &c->q->time_labels);
        else if (strcmp(k, "total_rows") == 0)
            rc = q_parse_bool(c, x, path, &c->q->total_rows);
        else if (strcmp(k, "comparisons") == 0)
            rc = x == json_null() ? 0 : q_parse_comparisons(c, x);
        else
            rc = q_fail(c, "%s: Invalid include key '%.64s'.", path, k);
        if (rc)
            return -1;
    }
    return 0;
}

static int
q_parse_pagination(q_ctx *c, json_t *v)
{
    c->q->limit = Q_DEFAULT_LIMIT;
    c->q->offset = 0;
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return q_fail(c, "#/pagination: Expected an object with limit and offset.");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "limit") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 1
                || json_integer_value(x) > Q_MAX_LIMIT)
                return q_fail(c, "#/pagination/limit: Expected an integer from 1 to %d.",
                              Q_MAX_LIMIT);
            c->q->limit = (uint64_t)json_integer_value(x);
        } else if (strcmp(k, "offset") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 0)
                return q_fail(c, "#/pagination/offset: Expected an integer >= 0.");
            c->q->offset = (uint64_t)json_integer_value(x);
        } else {
            return q_fail(c, "#/pagination/%.64s: Unknown pagination key.", k);
        }
    }
    return 0;
}

/* ---- cross-field validation (QB build/1, in its order) ---- */

static int
q_has_dim(const q_query *q, q_dim_kind k)
{
    for (size_t i = 0; i < q->ndims; i++)
        if (q->dims[i].kind == k)
            return 1;
    return 0;
}

static int
q_has_time_dim(const q_query *q)
{
    for (size_t i = 0; i < q->ndims; i++)
        if (q_dim_is_time(q->dims[i].kind))
            return 1;
    return 0;
}

/* TD metric_partitioner: 1 event-only, 2 session-only, 0 either */
static int
q_metric_table(q_metric m)
{
    switch (m) {
    case Q_M_PAGEVIEWS: case Q_M_EVENTS: case Q_M_SCROLL_DEPTH: case Q_M_TIME_ON_PAGE:
        return 1;
    case Q_M_BOUNCE_RATE: case Q_M_VISIT_DURATION: case Q_M_VIEWS_PER_VISIT:
        return 2;
    default:
        return 0;
    }
}

/* TD dimension_partitioner */
static int
q_dim_table(q_dim_kind d)
{
    if (q_dim_is_event(d))
        return 1;
    if (d >= Q_D_VISIT_ENTRY_PAGE && d <= Q_D_VISIT_EXIT_PAGE_HOSTNAME)
        return 2;
    return 0;
}

static int
q_validate_metrics(q_ctx *c)
{
    const q_query *q = c->q;
    for (size_t i = 0; i < q->nmetrics; i++) {
        q_metric m = q->metrics[i];
        const char *mn = q_metric_name(m);
        switch (m) {
        case Q_M_CONVERSION_RATE:
        case Q_M_GROUP_CONVERSION_RATE:
            if (!q_has_dim(q, Q_D_EVENT_GOAL)
                && !q_filter_uses(q->filters, q->nfilters, Q_D_EVENT_GOAL, 0, 0, 1, 0))
                return q_fail(c, "#/metrics/%zu: Metric `%s` can only be queried with "
                              "event:goal filters or dimensions.", i, mn);
            break;
        case Q_M_SCROLL_DEPTH:
            if (!q_has_dim(q, Q_D_EVENT_PAGE)
                && !q_filter_uses(q->filters, q->nfilters, Q_D_EVENT_PAGE, 0, 0, 1, 1))
                return q_fail(c, "#/metrics/%zu: Metric `%s` can only be queried with "
                              "event:page filters or dimensions.", i, mn);
            break;
        case Q_M_VIEWS_PER_VISIT:
            if (q_filter_uses(q->filters, q->nfilters, Q_D_EVENT_PAGE, 0, 0, 1, 0))
                return q_fail(c, "#/metrics/%zu: Metric `%s` cannot be queried with a "
                              "filter on `event:page`.", i, mn);
            if (q->ndims > 0)
                return q_fail(c, "#/metrics/%zu: Metric `%s` cannot be queried with "
                              "`dimensions`.", i, mn);
            break;
        case Q_M_TIME_ON_PAGE:
            if (!q_has_dim(q, Q_D_EVENT_PAGE)
                && !q_filter_uses(q->filters, q->nfilters, Q_D_EVENT_PAGE, 0, 0, 1, 0))
                return q_fail(c, "#/metrics/%zu: Metric `%s` can only be queried with "
                              "event:page filters or dimensions.", i, mn);
            break;
        case Q_M_PERCENTAGE:
            /* docs metric table: "Requires non-empty dimensions" */
            if (q->ndims == 0)
                return q_fail(c, "#/metrics/%zu: Metric `%s` requires non-empty "
                              "`dimensions`.", i, mn);
            break;
        default:
            break;
        }
    }
    /* TD validate_no_metrics_dimensions_conflict; docs: event:page, and
     * event:hostname together with event:page, are allowed with session
     * metrics */
    char ev[512] = "", se[512] = "", sm[256] = "", em[256] = "";
    int page = 0, other_event = 0;
    for (size_t i = 0; i < q->ndims; i++) {
        char buf[Q_MAX_PROP_KEY + 16], tmp[Q_MAX_PROP_KEY + 32];
        int t = q_dim_table(q->dims[i].kind);
        if (t == 0)
            continue;
        snprintf(tmp, sizeof tmp, "%s`%s`", (t == 1 ? ev : se)[0] ? ", " : "",
                 q_dim_display(&q->dims[i], buf, sizeof buf, 0));
        strncat(t == 1 ? ev : se, tmp, sizeof ev - strlen(t == 1 ? ev : se) - 1);
        if (q->dims[i].kind == Q_D_EVENT_PAGE)
            page = 1;
        else if (t == 1 && q->dims[i].kind != Q_D_EVENT_HOSTNAME)
            other_event = 1;
        else if (t == 1)
            other_event |= 2;
    }
    for (size_t i = 0; i < q->nmetrics; i++) {
        int t = q_metric_table(q->metrics[i]);
        if (t == 0)
            continue;
        char *dst = t == 1 ? em : sm;
        size_t used = strlen(dst);
        snprintf(dst + used, sizeof sm - used, "%s`%s`", used ? ", " : "",
                 q_metric_name(q->metrics[i]));
    }
    int page_exception = page && !(other_event & 1);
    if (ev[0] && !page_exception && sm[0])
        return q_fail(c, "#/metrics: Session metric(s) %s cannot be queried along with "
                      "event dimension(s) %s", sm, ev);
    if (!page_exception && em[0] && se[0])
        return q_fail(c, "#/metrics: Event metric(s) %s cannot be queried along with "
                      "session dimension(s) %s", em, se);
    return 0;
}

/* QO resolve_time_dimension on the inclusive UTC range */
static q_dim_kind
q_auto_time(const q_range *r)
{
    int64_t diff = r->last_s - r->first_s;
    if (diff / 3600 <= 48)
        return Q_D_TIME_HOUR;
    if (diff / 86400 <= 40)
        return Q_D_TIME_DAY;
    if (diff / 86400 / 7 <= 52)
        return Q_D_TIME_WEEK;
    return Q_D_TIME_MONTH;
}

/* ---- entry points ---- */

static const char *const q_top_keys[] = {
    "site_id", "metrics", "date_range", "dimensions", "filters", "order_by",
    "include", "pagination",
};

int
q_parse(const char *json, size_t len, const q_site_info *site, q_query *out,
        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    q_ctx c = { out, err, errlen, 0 };
    if (errlen)
        err[0] = '\0';
    if (json == NULL || site == NULL)
        return q_fail(&c, "#: Empty request body.");
    if (len > Q_MAX_BODY)
        return q_fail(&c, "#: Request body larger than %u bytes (limit).", Q_MAX_BODY);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return q_fail(&c, "#: Invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
    int rc = -1;
    const char *k;
    json_t *v;
    if (!json_is_object(root)) {
        q_fail(&c, "#: The query must be a JSON object.");
        goto done;
    }
    json_object_foreach(root, k, v) {
        int known = 0;
        for (size_t i = 0; i < sizeof q_top_keys / sizeof *q_top_keys; i++)
            known |= strcmp(k, q_top_keys[i]) == 0;
        if (!known) {
            q_fail(&c, "#/%.64s: Unknown top-level key '%.64s'.", k, k);
            goto done;
        }
    }
    v = json_object_get(root, "site_id");
    if (v == NULL) {
        q_fail(&c, "#/site_id: Required property site_id was not present.");
        goto done;
    }
    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > Q_MAX_SITE_ID) {
        q_fail(&c, "#/site_id: Expected a non-empty string of at most %d bytes.",
               Q_MAX_SITE_ID);
        goto done;
    }
    if ((out->site_id = strdup(json_string_value(v))) == NULL) {
        q_fail(&c, "Out of memory");
        goto done;
    }
    char tzerr[160];
    if ((out->tz = tz_get(site->timezone, tzerr, sizeof tzerr)) == NULL) {
        q_fail(&c, "Site time zone: %s", tzerr);
        goto done;
    }
    if (q_parse_metrics(&c, json_object_get(root, "metrics"))
        || q_parse_date_range(&c, json_object_get(root, "date_range"), site)
        || q_parse_dimensions(&c, json_object_get(root, "dimensions"))
        || q_filter_parse_list(&c, json_object_get(root, "filters"))
        || q_parse_order_by(&c, json_object_get(root, "order_by"))
        || q_parse_include(&c, json_object_get(root, "include"))
        || q_parse_pagination(&c, json_object_get(root, "pagination"))
        || q_filter_validate(&c)
        || q_validate_metrics(&c))
        goto done;
    /* QB validate_include */
    if (out->time_labels && !q_has_time_dim(out)) {
        q_fail(&c, "#/include/time_labels: Invalid include.time_labels: requires a time "
               "dimension.");
        goto done;
    }
    /* QO update_group_by_time, add_missing_order_by */
    ssize_t tdim = -1;
    for (size_t i = 0; i < out->ndims; i++) {
        if (out->dims[i].auto_time)
            out->dims[i].kind = q_auto_time(&out->range);
        if (q_dim_is_time(out->dims[i].kind))
            tdim = (ssize_t)i;
    }
    if (!out->order_given) {
        if (tdim >= 0)
            out->order[out->norder++] = (q_order){ 0, 0, (size_t)tdim, 0 };
        out->order[out->norder++] = (q_order){ 1, out->metrics[0], 0, 1 };
    }
    rc = 0;
done:
    json_decref(root);
    if (rc != 0)
        q_query_free(out);
    return rc;
}

void
q_query_free(q_query *q)
{
    if (q == NULL)
        return;
    free(q->site_id);
    for (size_t i = 0; i < q->ndims; i++)
        free(q->dims[i].prop);
    for (size_t i = 0; i < q->nfilters; i++)
        q_filter_free(&q->filters[i]);
    free(q->filters);
    memset(q, 0, sizeof *q);
}

/* ---- echo ---- */

json_t *
q_dim_json(const q_dim *d)
{
    char buf[Q_MAX_PROP_KEY + 16];
    return json_string(q_dim_display(d, buf, sizeof buf, 0));
}

int
q_query_to_json(const q_query *q, json_t **out)
{
    *out = NULL;
    json_t *o = json_object();
    if (o == NULL)
        return -1;
    json_object_set_new(o, "site_id", json_string(q->site_id ? q->site_id : ""));
    json_t *m = json_array();
    for (size_t i = 0; i < q->nmetrics; i++)
        json_array_append_new(m, json_string(q_metric_name(q->metrics[i])));
    json_object_set_new(o, "metrics", m);
    char a[40], b[40];
    q_format_datetime(q->tz, q->range.first_s, a, sizeof a);
    q_format_datetime(q->tz, q->range.last_s, b, sizeof b);
    json_object_set_new(o, "date_range", json_pack("[ss]", a, b));
    json_t *f = json_array();
    for (size_t i = 0; i < q->nfilters; i++)
        json_array_append_new(f, q_filter_json(&q->filters[i]));
    json_object_set_new(o, "filters", f);
    json_t *d = json_array();
    for (size_t i = 0; i < q->ndims; i++)
        json_array_append_new(d, q_dim_json(&q->dims[i]));
    json_object_set_new(o, "dimensions", d);
    json_t *ob = json_array();
    for (size_t i = 0; i < q->norder; i++) {
        const q_order *e = &q->order[i];
        json_t *name = e->is_metric ? json_string(q_metric_name(e->metric))
                                    : q_dim_json(&q->dims[e->dim]);
        json_array_append_new(ob, json_pack("[os]", name, e->desc ? "desc" : "asc"));
    }
    json_object_set_new(o, "order_by", ob);
    json_t *inc = json_object();
    if (q->compare.mode != Q_CMP_NONE) {
        static const char *const modes[] = { "", "previous_period", "year_over_year",
                                             "custom" };
        json_t *cmp = json_pack("{ss}", "mode", modes[q->compare.mode]);
        if (q->compare.mode == Q_CMP_CUSTOM) {
            q_format_date(q->compare.first_day, a, sizeof a);
            q_format_date(q->compare.last_day, b, sizeof b);
            json_object_set_new(cmp, "date_range", json_pack("[ss]", a, b));
        }
        if (q->compare.match_day_of_week)
            json_object_set_new(cmp, "match_day_of_week", json_true());
        json_object_set_new(inc, "comparisons", cmp);
    }
    if (q->imports)
        json_object_set_new(inc, "imports", json_true());
    if (q->time_labels)
        json_object_set_new(inc, "time_labels", json_true());
    if (q->total_rows)
        json_object_set_new(inc, "total_rows", json_true());
    json_object_set_new(o, "include", inc);
    json_object_set_new(o, "pagination", json_pack("{sIsI}", "limit", (json_int_t)q->limit,
                                                   "offset", (json_int_t)q->offset));
    *out = o;
    return 0;
}
