/*
 * test_q_parse.c -- the Stats API v2 query parser: every accepted form,
 * one failing case per rule (with the message clients see), the
 * normalised "query" echo byte for byte, and hostile input.
 *
 * Site: Europe/Berlin, now = 2024-03-15T12:00:00Z unless a test says
 * otherwise.
 */
#include "aggregator/q_parse.h"
#include "tests/check.h"

#include <stdlib.h>

#define NOW_MS 1710504000000LL   /* 2024-03-15T12:00:00Z */

static q_site_info site = { "Europe/Berlin", NOW_MS, -1 };
static char err[512];

static int
parse(const char *json, q_query *q)
{
    return q_parse(json, strlen(json), &site, q, err, sizeof err);
}

/* Parses json and returns its echo (malloc'd) or NULL. */
static char *
echo(const char *json)
{
    q_query q;
    if (parse(json, &q) != 0) {
        fprintf(stderr, "unexpected error for %s: %s\n", json, err);
        return NULL;
    }
    json_t *o;
    char *s = NULL;
    if (q_query_to_json(&q, &o) == 0) {
        s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    q_query_free(&q);
    return s;
}

static int
ok(const char *json)
{
    q_query q;
    int rc = parse(json, &q);
    if (rc != 0)
        fprintf(stderr, "unexpected error for %s: %s\n", json, err);
    q_query_free(&q);
    return rc == 0;
}

/* 1 if json is rejected with a message containing want. */
static int
bad(const char *json, const char *want)
{
    q_query q;
    int rc = parse(json, &q);
    int good = rc == -1 && strstr(err, want) != NULL;
    if (!good)
        fprintf(stderr, "for %s\n  want error containing: %s\n  got rc %d: %s\n", json,
                want, rc, rc ? err : "");
    q_query_free(&q);
    return good;
}

#define Q(rest) "{\"site_id\":\"example.com\",\"date_range\":\"7d\"," rest "}"

static void
test_minimal_echo(void)
{
    char *s = echo(Q("\"metrics\":[\"visitors\"]"));
    CHECK_STR(s, "{\"site_id\":\"example.com\",\"metrics\":[\"visitors\"],"
                 "\"date_range\":[\"2024-03-08T00:00:00+01:00\",\"2024-03-14T23:59:59+01:00\"],"
                 "\"filters\":[],\"dimensions\":[],\"order_by\":[[\"visitors\",\"desc\"]],"
                 "\"include\":{},\"pagination\":{\"limit\":10000,\"offset\":0}}");
    free(s);
}

static void
test_full_echo(void)
{
    char *s = echo("{\"site_id\":\"example.com\","
                   "\"metrics\":[\"visitors\",\"pageviews\",\"bounce_rate\"],"
                   "\"date_range\":[\"2024-03-30\",\"2024-03-31\"],"
                   "\"dimensions\":[\"time\",\"event:page\"],"
                   "\"filters\":[[\"is\",\"visit:country\",[\"DE\",\"PL\"]],"
                   "[\"or\",[[\"contains\",\"event:page\",[\"/blog\"],{\"case_sensitive\":false}],"
                   "[\"not\",[\"matches\",\"visit:source\",[\"^goo.*\\\\d$\"]]]]],"
                   "[\"is\",\"event:props:plan\",[\"'; DROP TABLE events; --\"]]],"
                   "\"order_by\":[[\"time\",\"desc\"],[\"pageviews\",\"asc\"]],"
                   "\"include\":{\"imports\":true,\"time_labels\":true,\"total_rows\":false},"
                   "\"pagination\":{\"limit\":50,\"offset\":100}}");
    /* 2024-03-30 00:00 CET .. 2024-03-31 23:59:59 CEST: 47 hours -> time:hour */
    CHECK_STR(s, "{\"site_id\":\"example.com\",\"metrics\":[\"visitors\",\"pageviews\",\"bounce_rate\"],"
                 "\"date_range\":[\"2024-03-30T00:00:00+01:00\",\"2024-03-31T23:59:59+02:00\"],"
                 "\"filters\":[[\"is\",\"visit:country\",[\"DE\",\"PL\"]],"
                 "[\"or\",[[\"contains\",\"event:page\",[\"/blog\"],{\"case_sensitive\":false}],"
                 "[\"not\",[\"matches\",\"visit:source\",[\"^goo.*\\\\d$\"]]]]],"
                 "[\"is\",\"event:props:plan\",[\"'; DROP TABLE events; --\"]]],"
                 "\"dimensions\":[\"time:hour\",\"event:page\"],"
                 "\"order_by\":[[\"time:hour\",\"desc\"],[\"pageviews\",\"asc\"]],"
                 "\"include\":{\"imports\":true,\"time_labels\":true},"
                 "\"pagination\":{\"limit\":50,\"offset\":100}}");
    free(s);
}

static void
test_struct(void)
{
    q_query q;
    CHECK(parse("{\"site_id\":\"s\",\"metrics\":[\"visits\",\"events\"],\"date_range\":\"day\","
                "\"dimensions\":[\"event:props:plan\",\"visit:browser\"],"
                "\"filters\":[[\"has_done\",[\"is\",\"event:name\",[\"Signup\"]]],"
                "[\"is_not\",\"visit:os\",[\"Linux\",\"\"],{\"case_sensitive\":true}]]}",
                &q) == 0);
    CHECK_STR(q.site_id, "s");
    CHECK(q.nmetrics == 2 && q.metrics[0] == Q_M_VISITS && q.metrics[1] == Q_M_EVENTS);
    CHECK(q.ndims == 2 && q.dims[0].kind == Q_D_EVENT_PROP);
    CHECK_STR(q.dims[0].prop, "plan");
    CHECK(q.dims[1].kind == Q_D_VISIT_BROWSER && q.dims[1].prop == NULL);
    CHECK(q.nfilters == 2 && q.filters[0].op == Q_OP_HAS_DONE);
    CHECK(q.filters[0].nchildren == 1 && q.filters[0].children[0].dim.kind == Q_D_EVENT_NAME);
    CHECK(q.filters[1].op == Q_OP_IS_NOT && q.filters[1].nclauses == 2);
    CHECK_STR(q.filters[1].clauses[1], "");
    CHECK(q.filters[1].case_sensitive == 1 && q.filters[1].has_modifiers);
    CHECK(q.filters[0].children[0].case_sensitive == 1);
    CHECK(!q.order_given && q.norder == 1 && q.order[0].is_metric
          && q.order[0].metric == Q_M_VISITS && q.order[0].desc);
    CHECK(q.limit == 10000 && q.offset == 0);
    /* day in Berlin on 2024-03-15 */
    CHECK(q.range.first_s == 1710457200 && q.range.last_s == 1710543599);
    CHECK(q.range.day_aligned && q.range.first_day == q.range.last_day);
    CHECK(q.tz == tz_get("Europe/Berlin", NULL, 0));
    q_query_free(&q);
    CHECK(q.site_id == NULL && q.filters == NULL);
    q_query_free(&q);                                   /* twice is harmless */
}

static void
test_all_metrics(void)
{
    CHECK(ok(Q("\"metrics\":[\"visitors\",\"visits\",\"pageviews\",\"events\",\"bounce_rate\","
               "\"visit_duration\",\"views_per_visit\"]")));
    CHECK(ok(Q("\"metrics\":[\"percentage\",\"scroll_depth\",\"time_on_page\",\"visitors\"],"
               "\"dimensions\":[\"event:page\"]")));
    CHECK(ok(Q("\"metrics\":[\"conversion_rate\",\"group_conversion_rate\",\"events\"],"
               "\"dimensions\":[\"event:goal\"]")));
    CHECK(ok(Q("\"metrics\":[\"conversion_rate\"],\"filters\":[[\"is\",\"event:goal\",[\"Signup\"]]]")));
    CHECK(ok(Q("\"metrics\":[\"scroll_depth\",\"time_on_page\"],"
               "\"filters\":[[\"is\",\"event:page\",[\"/\"]]]")));
}

static void
test_all_dimensions(void)
{
    static const char *dims[] = {
        "event:page", "event:hostname", "event:name", "event:goal", "event:props:x",
        "visit:entry_page", "visit:exit_page", "visit:entry_page_hostname",
        "visit:exit_page_hostname", "visit:source", "visit:referrer", "visit:channel",
        "visit:utm_medium", "visit:utm_source", "visit:utm_campaign", "visit:utm_content",
        "visit:utm_term", "visit:device", "visit:browser", "visit:browser_version",
        "visit:os", "visit:os_version", "visit:country", "visit:country_name",
        "time", "time:hour", "time:day", "time:week", "time:month",
    };
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        char j[256];
        snprintf(j, sizeof j, Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"%s\"]"), dims[i]);
        CHECK(ok(j));
        if (strncmp(dims[i], "time", 4) != 0) {
            snprintf(j, sizeof j,
                     Q("\"metrics\":[\"visitors\"],\"filters\":[[\"contains\",\"%s\",[\"a\"]]]"),
                     dims[i]);
            CHECK(ok(j));
        }
    }
    static const char *unsupported[] = { "visit:region", "visit:city", "visit:region_name",
                                         "visit:city_name" };
    for (size_t i = 0; i < 4; i++) {
        char j[256];
        snprintf(j, sizeof j, Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"%s\"]"),
                 unsupported[i]);
        CHECK(bad(j, "#/dimensions/0: Dimension `visit:"));
        CHECK(bad(j, "is not supported by Tally"));
        snprintf(j, sizeof j,
                 Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"%s\",[\"Berlin\"]]]"),
                 unsupported[i]);
        CHECK(bad(j, "#/filters/0/1: Dimension"));
    }
}

static void
test_time_resolution(void)
{
    static const struct { const char *range, *want; } cases[] = {
        { "\"day\"", "time:hour" },
        { "\"24h\"", "time:hour" },
        { "\"7d\"", "time:day" },
        { "\"30d\"", "time:day" },
        { "\"month\"", "time:day" },
        { "\"91d\"", "time:week" },
        { "\"12mo\"", "time:week" },
        { "\"year\"", "time:week" },
        { "[\"2022-01-01\",\"2024-01-01\"]", "time:month" },
        { "[\"2024-01-01T00:00:00Z\",\"2024-01-03T00:00:00Z\"]", "time:hour" },
        { "[\"2024-01-01T00:00:00Z\",\"2024-01-03T01:00:00Z\"]", "time:day" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char j[300], want[64];
        snprintf(j, sizeof j, "{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":%s,"
                 "\"dimensions\":[\"time\"]}", cases[i].range);
        snprintf(want, sizeof want, "\"dimensions\":[\"%s\"],\"order_by\":[[\"%s\",\"asc\"],",
                 cases[i].want, cases[i].want);
        char *s = echo(j);
        CHECK(s != NULL && strstr(s, want) != NULL);
        if (s && !strstr(s, want))
            fprintf(stderr, "%s -> %s\n", cases[i].range, s);
        free(s);
    }
}

static void
test_date_ranges(void)
{
    static const char *ranges[] = { "\"day\"", "\"24h\"", "\"7d\"", "\"28d\"", "\"30d\"",
                                    "\"91d\"", "\"month\"", "\"6mo\"", "\"12mo\"", "\"year\"",
                                    "\"all\"", "\"realtime\"", "\"realtime_30m\"",
                                    "[\"2024-01-01\",\"2024-07-01\"]",
                                    "[\"2024-01-01T12:00:00+02:00\",\"2024-01-01T15:59:59+02:00\"]" };
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        char j[200];
        snprintf(j, sizeof j, "{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":%s}",
                 ranges[i]);
        CHECK(ok(j));
    }
    char *s = echo("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],"
                   "\"date_range\":[\"2024-01-01T12:00:00+02:00\",\"2024-01-01T15:59:59Z\"]}");
    CHECK(s && strstr(s, "\"date_range\":[\"2024-01-01T11:00:00+01:00\","
                         "\"2024-01-01T16:59:59+01:00\"]"));
    free(s);
    /* "all" uses the site's first stats day */
    q_site_info keep = site;
    site.first_day = tz_days_from_civil(2023, 6, 1);
    s = echo("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":\"all\"}");
    CHECK(s && strstr(s, "[\"2023-06-01T00:00:00+02:00\",\"2024-03-15T23:59:59+01:00\"]"));
    free(s);
    site = keep;
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"]}",
              "#/date_range: Required property date_range was not present."));
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":\"3w\"}",
              "#/date_range: Invalid date_range \"3w\""));
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":7}",
              "#/date_range: Invalid date_range"));
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":[\"2024-01-01\"]}",
              "#/date_range: Invalid date_range"));
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],"
              "\"date_range\":[\"2024-01-31\",\"2024-01-01\"]}", "start is after end"));
}

static void
test_structure_errors(void)
{
    CHECK(bad("{", "#: Invalid JSON"));
    CHECK(bad("[1]", "#: The query must be a JSON object."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"interval\":\"date\""),
              "#/interval: Unknown top-level key 'interval'."));
    CHECK(bad("{\"metrics\":[\"visitors\"],\"date_range\":\"day\"}",
              "#/site_id: Required property site_id was not present."));
    CHECK(bad("{\"site_id\":5,\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", "#/site_id:"));
    CHECK(bad("{\"site_id\":\"\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", "#/site_id:"));
    CHECK(bad("{\"site_id\":\"a\",\"site_id\":\"b\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}",
              "duplicate"));
}

static void
test_metric_errors(void)
{
    CHECK(bad(Q("\"dimensions\":[]"), "#/metrics: Required property metrics was not present."));
    CHECK(bad(Q("\"metrics\":[]"), "#/metrics: Expected a non-empty array"));
    CHECK(bad(Q("\"metrics\":\"visitors\""), "#/metrics: Expected a non-empty array"));
    CHECK(bad(Q("\"metrics\":[\"visitors\",3]"), "#/metrics/1: Expected a metric name"));
    CHECK(bad(Q("\"metrics\":[\"visitors\",\"uniques\"]"), "#/metrics/1: Unknown metric '\"uniques\"'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\",\"visitors\"]"),
              "#/metrics: Metrics cannot be queried multiple times (`visitors` repeated)."));
    CHECK(bad(Q("\"metrics\":[\"total_revenue\"]"),
              "#/metrics/0: Metric `total_revenue` is not supported by Tally."));
}

static void
test_dimension_errors(void)
{
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":\"event:page\""),
              "#/dimensions: Expected an array"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:pages\"]"),
              "#/dimensions/0: Invalid dimension 'event:pages'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"visit:page\"]"),
              "#/dimensions/0: Invalid dimension 'visit:page'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:props:\"]"),
              "#/dimensions/0: Invalid custom property dimension"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"time:minute\"]"),
              "#/dimensions/0: Invalid dimension 'time:minute'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:page\",\"event:page\"]"),
              "#/dimensions: Dimensions must be unique ('event:page' repeated)."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:props:a\",\"event:props:a\"]"),
              "#/dimensions: Dimensions must be unique"));
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:props:a\",\"event:props:b\"]")));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"time:day\",\"time\"]"),
              "#/dimensions: Only one time dimension can be queried."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[1]"), "#/dimensions/0: Expected"));
}

static void
test_filter_errors(void)
{
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":{}"), "#/filters: Invalid filters"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[\"is\"]"), "#/filters/0: Invalid filter"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"equals\",\"event:page\",[\"/\"]]]"),
              "#/filters/0/0: Unknown operator for filter 'equals'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\"]]"),
              "#/filters/0: Invalid filter: a simple filter is"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\"/\"],{},1]]"),
              "#/filters/0: Invalid filter: a simple filter is"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"time:day\",[\"2024-01-01\"]]]"),
              "#/filters/0/1: Invalid filter: time dimensions are not usable in filters"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"segment\",[1]]]"),
              "#/filters/0/1: Invalid filter: segments are not supported by Tally."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:pg\",[\"/\"]]]"),
              "#/filters/0/1: Invalid dimension 'event:pg'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is_not\",\"event:goal\",[\"Signup\"]]]"),
              "#/filters/0/0: Invalid filter: only `is` and `contains` operators are valid for "
              "the event:goal dimension."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"visit:country\",[\"DEU\"]]]"),
              "#/filters/0/2/0: Invalid visit:country filter, visit:country needs to be a valid "
              "2-letter country code."));
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"contains\",\"visit:country\",[\"D\"]]]")));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",\"/\"]]"),
              "#/filters/0/2: Invalid filter: clauses must be an array of strings."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\"/\",1]]]"),
              "#/filters/0/2/1: Invalid filter: clauses must be strings."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\"/\"],[]]]"),
              "#/filters/0/3: Invalid filter: modifiers must be an object."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\"/\"],{\"ci\":true}]]"),
              "#/filters/0/3: Invalid filter: unknown modifier 'ci'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\"/\"],"
                "{\"case_sensitive\":\"no\"}]]"),
              "#/filters/0/3/case_sensitive: Invalid filter: expected a boolean."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"/\"],"
                "{\"case_sensitive\":false}]]"),
              "#/filters/0/3: Invalid filters. The case_sensitive modifier is not allowed with "
              "pattern operators."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"and\",[]]]"),
              "#/filters/0/1: Invalid filter: `and` takes a non-empty array of filters."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"not\",[\"is\",\"event:page\",[\"/\"]],1]]"),
              "#/filters/0: Invalid filter: `not` takes exactly one argument."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"or\",[[\"is\",\"event:page\",[\"/\"]],"
                "[\"is\",\"event:pge\",[\"/\"]]]]]"),
              "#/filters/0/1/1/1: Invalid dimension 'event:pge'."));
}

static void
test_regex(void)
{
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\","
               "[\"^/user/\\\\d+$\",\"^/(a|b)[\\\\]x]+(?i)Z$\",\"(?P<n>x)\"]]]")));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"(\"]]]"),
              "#/filters/0/2/0: Invalid filters. Regular expression does not compile:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches_not\",\"event:page\",[\"a\",\"[z-a]\"]]]"),
              "#/filters/0/2/1: Invalid filters. Regular expression does not compile:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"(a)\\\\1\"]]]"),
              "backreferences are not supported"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"a(?=b)\"]]]"),
              "lookaround assertions are not supported"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"(?<!b)a\"]]]"),
              "lookaround assertions are not supported"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"(?>a+)b\"]]]"),
              "atomic"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"(a|(?R))\"]]]"),
              "recursion"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"(*LIMIT_MATCH=9)a\"]]]"),
              "(*VERB)"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"a++\"]]]"),
              "possessive"));
    /* an escaped paren or one inside a class is not a group */
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\"\\\\(?=\",\"[(?=]\"]]]")));
    /* the same text is plain data for contains */
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"contains\",\"event:page\",[\"(\",\"a(?=b)\"]]]")));
}

static void
test_filter_rules(void)
{
    /* QB validate_toplevel_only_filter_dimension */
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"or\",[[\"is\",\"event:goal\",[\"a\"]],"
                "[\"is\",\"event:page\",[\"/\"]]]]]"),
              "#/filters: Invalid filters. Dimension `event:goal` can only be filtered at the top level."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"not\",[\"is\",\"event:hostname\",[\"a\"]]]]"),
              "Dimension `event:hostname` can only be filtered at the top level."));
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:hostname\",[\"a\"]],"
               "[\"has_done\",[\"is\",\"event:goal\",[\"x\"]]]]")));
    /* QB validate_special_metrics_filters */
    CHECK(bad(Q("\"metrics\":[\"conversion_rate\"],\"dimensions\":[\"event:goal\"],"
                "\"filters\":[[\"or\",[[\"is\",\"event:props:a\",[\"1\"]],[\"is\",\"event:page\",[\"/\"]]]]]"),
              "#/filters: Invalid filters. When `conversion_rate` or `group_conversion_rate` metrics "
              "are used, custom property filters can only be used on top level."));
    CHECK(ok(Q("\"metrics\":[\"conversion_rate\"],\"dimensions\":[\"event:goal\"],"
               "\"filters\":[[\"is\",\"event:props:a\",[\"1\"]]]")));
    /* QB validate_behavioral_filters */
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"has_done\",[\"has_not_done\","
                "[\"is\",\"event:name\",[\"a\"]]]]]"),
              "#/filters/0/1: Invalid filters. Behavioral filters (has_done, has_not_done) cannot be nested."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"has_not_done\",[\"is\",\"visit:source\",[\"a\"]]]]"),
              "#/filters/0/1/1: Invalid filters. Behavioral filters (has_done, has_not_done) can only "
              "be used with event dimension filters."));
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"has_not_done\",[\"and\",[[\"is\",\"event:name\","
               "[\"a\"]],[\"contains\",\"event:props:p\",[\"b\"]]]]]]")));
}

static void
test_metric_rules(void)
{
    CHECK(bad(Q("\"metrics\":[\"visitors\",\"conversion_rate\"]"),
              "#/metrics/1: Metric `conversion_rate` can only be queried with event:goal filters or dimensions."));
    CHECK(bad(Q("\"metrics\":[\"group_conversion_rate\"],\"dimensions\":[\"event:page\"]"),
              "Metric `group_conversion_rate` can only be queried with event:goal filters or dimensions."));
    /* a goal inside a behavioral filter does not count */
    CHECK(bad(Q("\"metrics\":[\"conversion_rate\"],\"filters\":[[\"has_done\",[\"is\",\"event:goal\",[\"a\"]]]]"),
              "Metric `conversion_rate` can only be queried"));
    CHECK(bad(Q("\"metrics\":[\"scroll_depth\"]"),
              "#/metrics/0: Metric `scroll_depth` can only be queried with event:page filters or dimensions."));
    /* scroll_depth needs a top-level page filter */
    CHECK(bad(Q("\"metrics\":[\"scroll_depth\"],\"filters\":[[\"not\",[\"is\",\"event:page\",[\"/\"]]]]"),
              "Metric `scroll_depth` can only be queried"));
    CHECK(bad(Q("\"metrics\":[\"time_on_page\"]"),
              "#/metrics/0: Metric `time_on_page` can only be queried with event:page filters or dimensions."));
    CHECK(ok(Q("\"metrics\":[\"time_on_page\"],\"filters\":[[\"not\",[\"is\",\"event:page\",[\"/\"]]]]")));
    CHECK(bad(Q("\"metrics\":[\"views_per_visit\"],\"filters\":[[\"is\",\"event:page\",[\"/\"]]]"),
              "#/metrics/0: Metric `views_per_visit` cannot be queried with a filter on `event:page`."));
    CHECK(bad(Q("\"metrics\":[\"views_per_visit\"],\"dimensions\":[\"visit:source\"]"),
              "#/metrics/0: Metric `views_per_visit` cannot be queried with `dimensions`."));
    CHECK(bad(Q("\"metrics\":[\"visitors\",\"percentage\"]"),
              "#/metrics/1: Metric `percentage` requires non-empty `dimensions`."));
    /* TD validate_no_metrics_dimensions_conflict */
    CHECK(bad(Q("\"metrics\":[\"bounce_rate\",\"visit_duration\"],\"dimensions\":[\"event:name\"]"),
              "#/metrics: Session metric(s) `bounce_rate`, `visit_duration` cannot be queried along "
              "with event dimension(s) `event:name`"));
    CHECK(bad(Q("\"metrics\":[\"visit_duration\"],\"dimensions\":[\"event:props:foo\"]"),
              "Session metric(s) `visit_duration` cannot be queried along with event dimension(s) "
              "`event:props:foo`"));
    CHECK(bad(Q("\"metrics\":[\"bounce_rate\",\"pageviews\"],\"dimensions\":[\"visit:exit_page\"]"),
              "#/metrics: Event metric(s) `pageviews` cannot be queried along with session "
              "dimension(s) `visit:exit_page`"));
    CHECK(bad(Q("\"metrics\":[\"bounce_rate\"],\"dimensions\":[\"event:hostname\"]"),
              "Session metric(s) `bounce_rate` cannot be queried"));
    CHECK(ok(Q("\"metrics\":[\"bounce_rate\",\"pageviews\"],\"dimensions\":[\"event:page\"]")));
    CHECK(ok(Q("\"metrics\":[\"bounce_rate\"],\"dimensions\":[\"event:page\",\"event:hostname\"]")));
    CHECK(ok(Q("\"metrics\":[\"bounce_rate\"],\"dimensions\":[\"visit:exit_page\"]")));
    CHECK(ok(Q("\"metrics\":[\"visitors\",\"visits\"],\"dimensions\":[\"visit:entry_page\",\"time\"]")));
    /* session metrics with an event filter are fine (QB test "does not
     * fail if using session metric with event filter") */
    CHECK(ok(Q("\"metrics\":[\"bounce_rate\"],\"filters\":[[\"is\",\"event:name\",[\"a\"]]]")));
}

static void
test_order_include_pagination(void)
{
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"order_by\":[[\"pageviews\",\"desc\"]]"),
              "#/order_by/0: Invalid order_by entry '[\"pageviews\", \"desc\"]'. Entry is not a "
              "queried metric or dimension."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"time\"],\"order_by\":[[\"time:day\",\"asc\"]]"),
              "Entry is not a queried metric or dimension."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"order_by\":[[\"visitors\",\"up\"]]"),
              "#/order_by/0/1: Invalid order_by entry '[\"visitors\", \"up\"]'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"order_by\":[[\"nope\",\"asc\"]]"),
              "#/order_by/0/0: Invalid order_by entry '[\"nope\", \"asc\"]'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"order_by\":[\"visitors\"]"),
              "#/order_by/0: Invalid order_by entry"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"order_by\":{}"), "#/order_by: Invalid order_by"));
    char *e = echo(Q("\"metrics\":[\"visitors\"],\"order_by\":[]"));
    CHECK(e && strstr(e, "\"order_by\":[[\"visitors\",\"desc\"]]"));
    free(e);
    char *s = echo(Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:props:k\"],"
                     "\"order_by\":[[\"event:props:k\",\"asc\"]]"));
    CHECK(s && strstr(s, "\"order_by\":[[\"event:props:k\",\"asc\"]]"));
    free(s);

    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":{\"time_labels\":true}"),
              "#/include/time_labels: Invalid include.time_labels: requires a time dimension."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":{\"imports\":1}"),
              "#/include/imports: Expected a boolean."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":{\"trim\":true}"),
              "#/include/trim: Invalid include key 'trim'."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":[]"), "#/include: Invalid include"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":{\"comparisons\":{\"mode\":\"last_week\"}}"),
              "#/include/comparisons/mode:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":{\"comparisons\":{\"mode\":\"custom\"}}"),
              "#/include/comparisons/date_range:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"include\":{\"comparisons\":{\"mode\":"
                "\"previous_period\",\"date_range\":[\"2024-01-01\",\"2024-01-02\"]}}"),
              "#/include/comparisons/date_range: Only allowed with mode \"custom\"."));
    q_query q;
    CHECK(parse(Q("\"metrics\":[\"visitors\"],\"include\":{\"comparisons\":{\"mode\":\"custom\","
                  "\"date_range\":[\"2024-01-01\",\"2024-01-07\"],\"match_day_of_week\":true}}"),
                &q) == 0);
    CHECK(q.compare.mode == Q_CMP_CUSTOM && q.compare.match_day_of_week);
    CHECK(q.compare.last_day - q.compare.first_day == 6);
    json_t *o;
    CHECK(q_query_to_json(&q, &o) == 0);
    s = json_dumps(json_object_get(o, "include"), JSON_COMPACT);
    CHECK_STR(s, "{\"comparisons\":{\"mode\":\"custom\",\"date_range\":[\"2024-01-01\","
                 "\"2024-01-07\"],\"match_day_of_week\":true}}");
    free(s);
    json_decref(o);
    q_query_free(&q);
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"include\":{\"comparisons\":{\"mode\":\"year_over_year\"}}")));

    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"limit\":0}"),
              "#/pagination/limit: Expected an integer from 1 to 10000."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"limit\":10001}"), "#/pagination/limit:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"limit\":\"10\"}"), "#/pagination/limit:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"limit\":1.5}"), "#/pagination/limit:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"offset\":-1}"),
              "#/pagination/offset: Expected an integer >= 0."));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"page\":2}"),
              "#/pagination/page: Unknown pagination key."));
    CHECK(parse(Q("\"metrics\":[\"visitors\"],\"pagination\":{\"offset\":20}"), &q) == 0);
    CHECK(q.limit == 10000 && q.offset == 20);
    q_query_free(&q);
}

static void
test_limits(void)
{
    /* 51 simple filters */
    size_t cap = 1 << 16;
    char *j = malloc(cap);
    size_t n = (size_t)snprintf(j, cap, "{\"site_id\":\"s\",\"metrics\":[\"visitors\"],"
                                "\"date_range\":\"day\",\"filters\":[");
    for (int i = 0; i < 51; i++)
        n += (size_t)snprintf(j + n, cap - n, "%s[\"is\",\"event:page\",[\"/%d\"]]", i ? "," : "", i);
    snprintf(j + n, cap - n, "]}");
    CHECK(bad(j, "Invalid filters. More than 50 filters (limit)."));
    /* ... also counted through and/or */
    n = (size_t)snprintf(j, cap, Q("\"metrics\":[\"visitors\"],\"filters\":[[\"and\",["));
    n--;                                    /* reopen Q()'s closing brace */
    for (int i = 0; i < 26; i++)
        n += (size_t)snprintf(j + n, cap - n, "%s[\"or\",[[\"is\",\"event:page\",[\"/\"]],"
                              "[\"is\",\"event:name\",[\"x\"]]]]", i ? "," : "");
    snprintf(j + n, cap - n, "]]]}");
    CHECK(bad(j, "More than 50 filters (limit)."));
    /* 101 clauses */
    n = (size_t)snprintf(j, cap, Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",["));
    n--;                                    /* reopen Q()'s closing brace */
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(j + n, cap - n, "%s\"/%d\"", i ? "," : "", i);
    snprintf(j + n, cap - n, "]]]}");
    CHECK(bad(j, "#/filters/0/2: Invalid filters. More than 100 clauses in one filter (limit)."));
    /* clause of 2001 bytes; 2000 is fine */
    n = (size_t)snprintf(j, cap, Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\""));
    n--;                                    /* reopen Q()'s closing brace */
    memset(j + n, 'a', 2000);
    snprintf(j + n + 2000, cap - n - 2000, "\"]]]}");
    CHECK(ok(j));
    memset(j + n, 'a', 2001);
    snprintf(j + n + 2001, cap - n - 2001, "\"]]]}");
    CHECK(bad(j, "#/filters/0/2/0: Invalid filters. Clause longer than 2000 bytes (limit)."));
    /* regex of 1001 bytes */
    n = (size_t)snprintf(j, cap, Q("\"metrics\":[\"visitors\"],\"filters\":[[\"matches\",\"event:page\",[\""));
    n--;                                    /* reopen Q()'s closing brace */
    memset(j + n, 'a', 1001);
    snprintf(j + n + 1001, cap - n - 1001, "\"]]]}");
    CHECK(bad(j, "Regular expression longer than 1000 bytes (limit)."));
    /* depth: 5 levels of nesting are fine, 6 are not */
    const char *leaf = "[\"is\",\"event:page\",[\"/\"]]";
    for (int depth = 5; depth <= 6; depth++) {
        n = (size_t)snprintf(j, cap, Q("\"metrics\":[\"visitors\"],\"filters\":["));
    n--;                                    /* reopen Q()'s closing brace */
        for (int i = 0; i < depth; i++)
            n += (size_t)snprintf(j + n, cap - n, i % 2 ? "[\"not\"," : "[\"and\",[");
        n += (size_t)snprintf(j + n, cap - n, "%s", leaf);
        for (int i = depth - 1; i >= 0; i--)
            n += (size_t)snprintf(j + n, cap - n, i % 2 ? "]" : "]]");
        snprintf(j + n, cap - n, "]}");
        if (depth == 5)
            CHECK(ok(j));
        else
            CHECK(bad(j, "Invalid filters. Filters nested deeper than 5 levels (limit)."));
    }
    free(j);
    /* body size */
    size_t big = Q_MAX_BODY + 10;
    j = malloc(big + 1);
    memset(j, ' ', big);
    j[big] = '\0';
    memcpy(j, "{\"site_id\":\"s\"}", 15);
    CHECK(bad(j, "#: Request body larger than 1048576 bytes (limit)."));
    free(j);
    /* property key length */
    char k[400];
    snprintf(k, sizeof k, Q("\"metrics\":[\"visitors\"],\"dimensions\":[\"event:props:%0301d\"]"), 0);
    CHECK(bad(k, "Invalid custom property dimension"));
}

static void
test_hostile(void)
{
    /* NUL bytes: escaped, raw, and in keys */
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[\"a\\u0000b\"]]]"),
              "#: Invalid JSON"));
    static const char raw[] = "{\"site_id\":\"s\0\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}";
    q_query q;
    CHECK(q_parse(raw, sizeof raw - 1, &site, &q, err, sizeof err) == -1);
    CHECK(strncmp(err, "#: Invalid JSON", 15) == 0);
    /* length is honoured: a valid prefix followed by garbage beyond len */
    static const char pre[] = "{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}GARBAGE";
    CHECK(q_parse(pre, sizeof pre - 1 - 7, &site, &q, err, sizeof err) == 0);
    q_query_free(&q);
    CHECK(q_parse(pre, 10, &site, &q, err, sizeof err) == -1);
    CHECK(q_parse(NULL, 0, &site, &q, err, sizeof err) == -1);
    CHECK(q_parse("", 0, &site, &q, err, sizeof err) == -1);
    /* deeply nested arrays (jansson's own depth limit or ours) */
    size_t depth = 100000;
    char *j = malloc(depth * 2 + 200);
    size_t n = (size_t)sprintf(j, Q("\"metrics\":[\"visitors\"],\"filters\":"));
    n--;                                            /* drop the closing brace */
    for (size_t i = 0; i < depth; i++)
        j[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        j[n++] = ']';
    j[n++] = '}';
    j[n] = '\0';
    CHECK(parse(j, &q) == -1);
    free(j);
    /* deep "not" chains */
    j = malloc(200000);
    n = (size_t)sprintf(j, Q("\"metrics\":[\"visitors\"],\"filters\":["));
    n -= 1;
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(j + n, "[\"not\",");
    n += (size_t)sprintf(j + n, "[\"is\",\"event:page\",[\"/\"]]");
    for (int i = 0; i < 2000; i++)
        j[n++] = ']';
    n += (size_t)sprintf(j + n, "]}");
    CHECK(bad(j, "nested deeper than 5 levels"));
    free(j);
    /* a huge flat filter list and a huge clause list fail fast */
    j = malloc(1 << 20);
    n = (size_t)sprintf(j, Q("\"metrics\":[\"visitors\"],\"filters\":["));
    n -= 1;
    for (int i = 0; i < 20000; i++)
        n += (size_t)sprintf(j + n, "%s[\"is\",\"event:page\",[\"/\"]]", i ? "," : "");
    sprintf(j + n, "]}");
    CHECK(bad(j, "More than 50 filters"));
    free(j);
    /* SQL and JSON metacharacters are plain data */
    char *s = echo(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\","
                     "[\"' OR 1=1 --\",\"\\\"; DELETE FROM x\",\"%_\\\\\",\"\\u00e9\\u2028\"]]]"));
    CHECK(s && strstr(s, "[\"' OR 1=1 --\",\"\\\"; DELETE FROM x\",\"%_\\\\\",\"\xc3\xa9\xe2\x80\xa8\"]"));
    free(s);
    /* unknown key with odd characters is named, not crashed on */
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"\\u00ff\\n\":1"), "Unknown top-level key"));
    /* wrong types everywhere */
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":\"day\",\"dimensions\":null}",
              "#/dimensions:"));
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[null],\"date_range\":\"day\"}", "#/metrics/0:"));
    CHECK(bad("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":[null,null]}", "#/date_range:"));
    CHECK(bad(Q("\"metrics\":[\"visitors\"],\"filters\":[[null,\"event:page\",[]]]"), "#/filters/0:"));
    /* empty clause list is accepted (matches nothing for is/contains) */
    CHECK(ok(Q("\"metrics\":[\"visitors\"],\"filters\":[[\"is\",\"event:page\",[]]]")));
}

static void
test_timezones(void)
{
    q_site_info keep = site;
    site.timezone = "../../../etc/passwd";
    CHECK(bad(Q("\"metrics\":[\"visitors\"]"), "Site time zone: Invalid time zone name"));
    site.timezone = "Nowhere/Land";
    CHECK(bad(Q("\"metrics\":[\"visitors\"]"), "Site time zone: Unknown time zone 'Nowhere/Land'"));
    site.timezone = NULL;
    char *s = echo(Q("\"metrics\":[\"visitors\"]"));
    CHECK(s && strstr(s, "[\"2024-03-08T00:00:00Z\",\"2024-03-14T23:59:59Z\"]"));
    free(s);
    site.timezone = "Asia/Kolkata";
    s = echo("{\"site_id\":\"s\",\"metrics\":[\"visitors\"],\"date_range\":\"month\"}");
    CHECK(s && strstr(s, "[\"2024-03-01T00:00:00+05:30\",\"2024-03-31T23:59:59+05:30\"]"));
    free(s);
    site = keep;
}

int
main(void)
{
    RUN(test_minimal_echo);
    RUN(test_full_echo);
    RUN(test_struct);
    RUN(test_all_metrics);
    RUN(test_all_dimensions);
    RUN(test_time_resolution);
    RUN(test_date_ranges);
    RUN(test_structure_errors);
    RUN(test_metric_errors);
    RUN(test_dimension_errors);
    RUN(test_filter_errors);
    RUN(test_regex);
    RUN(test_filter_rules);
    RUN(test_metric_rules);
    RUN(test_order_include_pagination);
    RUN(test_limits);
    RUN(test_hostile);
    RUN(test_timezones);
    return check_summary("q_parse");
}
