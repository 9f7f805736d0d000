/* Tests for aggregator/api_query.c: parsing, every validation error, and
 * execution against a real SQLite database. */
#include "aggregator/api_query.h"
#include "aggregator/attrs.h"
#include "aggregator/db.h"
#include "aggregator/ingest.h"
#include "tests/check.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#define TODAY 19800   /* 2024-03-18 */

static int
parse(const char *body, aq_query *q, char *err)
{
    return aq_parse(body, strlen(body), TODAY, q, err, 512);
}

/* Expects a 400 whose message contains `needle`. */
static int
fails_with(const char *body, const char *needle)
{
    aq_query q;
    char err[512] = "";
    if (parse(body, &q, err) != -1) {
        fprintf(stderr, "  accepted: %s\n", body);
        return 0;
    }
    if (strstr(err, needle) == NULL) {
        fprintf(stderr, "  error '%s' lacks '%s' for %s\n", err, needle, body);
        return 0;
    }
    return 1;
}

static void
test_dates(void)
{
    int64_t d;
    char s[11];
    CHECK(aq_parse_date("1970-01-01", &d) == 0);
    CHECK_EQ_U64(d, 0);
    CHECK(aq_parse_date("2024-03-18", &d) == 0);
    CHECK_EQ_U64(d, TODAY);
    CHECK(aq_parse_date("2024-02-29", &d) == 0);
    aq_format_date(d, s);
    CHECK_STR(s, "2024-02-29");
    CHECK(aq_parse_date("2023-02-29", &d) == -1);
    CHECK(aq_parse_date("2024-13-01", &d) == -1);
    CHECK(aq_parse_date("2024-04-31", &d) == -1);
    CHECK(aq_parse_date("2024-4-01", &d) == -1);
    CHECK(aq_parse_date("2024-04-01T00:00:00", &d) == -1);
    CHECK(aq_parse_date("", &d) == -1);
    for (int64_t x = 0; x < 40000; x += 37) {
        aq_format_date(x, s);
        CHECK(aq_parse_date(s, &d) == 0 && d == x);
    }
}

static void
test_minimal(void)
{
    aq_query q;
    char err[512];
    CHECK(parse("{\"site_id\":\"a.com\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}",
                &q, err) == 0);
    CHECK_STR(q.site_id, "a.com");
    CHECK_EQ_U64(q.nmetrics, 1);
    CHECK(q.metrics[0] == AQ_M_VISITORS);
    CHECK(q.dim == AQ_D_NONE);
    CHECK_EQ_U64(q.first_day, TODAY);
    CHECK_EQ_U64(q.last_day, TODAY);
    CHECK_EQ_U64(q.limit, AQ_DEFAULT_LIMIT);
    CHECK_EQ_U64(q.offset, 0);
    CHECK_EQ_U64(q.norder, 1);
    CHECK(q.order[0].metric == AQ_M_VISITORS && q.order[0].desc == 1);
}

static void
test_ranges(void)
{
    aq_query q;
    char err[512];
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],\"date_range\":\"7d\"}", &q, err) == 0);
    CHECK_EQ_U64(q.first_day, TODAY - 7);
    CHECK_EQ_U64(q.last_day, TODAY - 1);
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],\"date_range\":\"30d\"}", &q, err) == 0);
    CHECK_EQ_U64(q.first_day, TODAY - 30);
    CHECK_EQ_U64(q.last_day, TODAY - 1);
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],"
                "\"date_range\":[\"2024-01-01\",\"2024-01-31\"]}", &q, err) == 0);
    CHECK_EQ_U64(q.last_day - q.first_day, 30);
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],"
                "\"date_range\":[\"2024-01-05\",\"2024-01-05\"]}", &q, err) == 0);
    CHECK_EQ_U64(q.first_day, q.last_day);
}

static void
test_full(void)
{
    aq_query q;
    char err[512];
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"pageviews\",\"visitors\",\"events\"],"
                "\"date_range\":\"7d\",\"dimensions\":[\"event:page\"],\"filters\":[],"
                "\"order_by\":[[\"event:page\",\"asc\"],[\"events\",\"desc\"]],"
                "\"include\":{\"total_rows\":true,\"imports\":false,\"time_labels\":true},"
                "\"pagination\":{\"limit\":5,\"offset\":2}}", &q, err) == 0);
    CHECK_EQ_U64(q.nmetrics, 3);
    CHECK(q.metrics[0] == AQ_M_PAGEVIEWS && q.metrics[2] == AQ_M_EVENTS);
    CHECK(q.dim == AQ_D_PAGE);
    CHECK_EQ_U64(q.norder, 2);
    CHECK(q.order[0].metric == -1 && q.order[0].desc == 0);
    CHECK(q.order[1].metric == AQ_M_EVENTS && q.order[1].desc == 1);
    CHECK(q.total_rows == 1 && q.time_labels == 1 && q.imports == 0);
    CHECK_EQ_U64(q.limit, 5);
    CHECK_EQ_U64(q.offset, 2);

    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],\"date_range\":\"day\","
                "\"dimensions\":[\"time:day\"]}", &q, err) == 0);
    CHECK(q.dim == AQ_D_DAY && q.order[0].metric == -1 && q.order[0].desc == 0);
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],\"date_range\":\"day\","
                "\"dimensions\":[\"event:name\"]}", &q, err) == 0);
    CHECK(q.dim == AQ_D_NAME);
    CHECK(parse("{\"site_id\":\"a\",\"metrics\":[\"events\"],\"date_range\":\"day\","
                "\"dimensions\":[]}", &q, err) == 0);
    CHECK(q.dim == AQ_D_NONE);
}

#define OK_HEAD "{\"site_id\":\"a\",\"date_range\":\"day\","

static void
test_errors(void)
{
    CHECK(fails_with("", "invalid JSON"));
    CHECK(fails_with("{", "invalid JSON"));
    CHECK(fails_with("[]", "JSON object"));
    CHECK(fails_with("{\"site_id\":\"a\",\"site_id\":\"b\"}", "invalid JSON"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"bogus\":1}", "unknown key 'bogus'"));
    CHECK(fails_with("{\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", "site_id"));
    CHECK(fails_with("{\"site_id\":5,\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", "site_id"));
    CHECK(fails_with("{\"site_id\":\"\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", "site_id"));
    CHECK(fails_with(OK_HEAD "\"x\":1}", "unknown key 'x'"));
    CHECK(fails_with("{\"site_id\":\"a\",\"date_range\":\"day\"}", "metrics"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[]}", "metrics"));
    CHECK(fails_with(OK_HEAD "\"metrics\":\"visitors\"}", "metrics"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[1]}", "metrics"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"bounce_rate\"]}", "'bounce_rate'"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\",\"nope\"]}", "'nope'"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\",\"visitors\"]}", "more than once"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"]}", "date_range"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"],\"date_range\":\"1y\"}", "'1y'"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"],\"date_range\":5}", "date_range"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"],\"date_range\":[\"2024-01-01\"]}",
                     "date_range"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"],"
                     "\"date_range\":[\"2024-01-01\",\"2024-02-30\"]}", "'2024-02-30'"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"],"
                     "\"date_range\":[\"yesterday\",\"2024-02-03\"]}", "'yesterday'"));
    CHECK(fails_with("{\"site_id\":\"a\",\"metrics\":[\"visitors\"],"
                     "\"date_range\":[\"2024-02-03\",\"2024-02-01\"]}", "after"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"dimensions\":[\"visit:source\"]}",
                     "unsupported dimension 'visit:source'"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"dimensions\":[\"time:day\",\"event:page\"]}",
                     "unsupported dimension combination"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"dimensions\":\"time:day\"}", "dimensions"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"dimensions\":[3]}", "dimensions"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],"
                     "\"filters\":[[\"is\",\"event:page\",[\"/\"]]]}", "filters are not supported yet"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"filters\":{}}", "filters"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"order_by\":[[\"events\",\"desc\"]]}",
                     "not a queried metric or dimension"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"order_by\":[[\"visitors\",\"up\"]]}",
                     "direction"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"order_by\":[\"visitors\"]}", "order_by"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"order_by\":{}}", "order_by"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"include\":[]}", "include"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"include\":{\"comparisons\":{}}}",
                     "'comparisons'"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"include\":{\"total_rows\":1}}",
                     "true or false"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"pagination\":{\"limit\":0}}", "limit"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"pagination\":{\"limit\":\"5\"}}", "limit"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"pagination\":{\"offset\":-1}}", "offset"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"pagination\":{\"page\":2}}", "'page'"));
    CHECK(fails_with(OK_HEAD "\"metrics\":[\"visitors\"],\"pagination\":[]}", "pagination"));
}

/* ---- execution on a real database ---- */

static char dbpath[64];
static ingest *G;

/* Stores one event the way the drain does (ingest: raw row, visits,
 * rollups). */
static void
add(db *d, const char *site, int64_t day, int hour, uint64_t vid,
    const char *name, const char *path)
{
    (void)d;
    char url[256];
    snprintf(url, sizeof(url), "https://%s%s", site, path);
    spool_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = (uint64_t)(day * 86400000LL + hour * 3600000LL);
    ev.visitor_id = vid;
    ev.field[SPOOL_F_SITE] = (spool_str){ site, strlen(site) };
    ev.field[SPOOL_F_NAME] = (spool_str){ name, strlen(name) };
    ev.field[SPOOL_F_URL] = (spool_str){ url, strlen(url) };
    const char *why;
    CHECK(ingest_event(G, &ev, &why) == 1);
}

/* The rollup answer equals the raw-event answer, for every grouping. */
static void
check_rollups_equal_raw(db *d, const char *site, int64_t from_day, int64_t to_day)
{
    int64_t id;
    CHECK(db_site_find(d, site, &id) == 1);
    for (int g = DB_GROUP_DAY; g <= DB_GROUP_NAME; g++) {
        db_stat_row *a, *b;
        size_t na, nb;
        CHECK(db_stats(d, id, from_day * 86400000LL, to_day * 86400000LL,
                       (enum db_group)g, &a, &na) == 0);
        CHECK(db_stats_raw(d, id, from_day * 86400000LL, to_day * 86400000LL,
                           (enum db_group)g, &b, &nb) == 0);
        CHECK_EQ_U64(na, nb);
        for (size_t i = 0; i < na && na == nb; i++) {
            size_t j = i;
            if (g != DB_GROUP_DAY)          /* no order: find by label */
                for (j = 0; j < nb && strcmp(a[i].label, b[j].label) != 0; j++)
                    ;
            CHECK(j < nb);
            if (j >= nb)
                continue;
            CHECK_EQ_U64(a[i].day, b[j].day);
            CHECK_EQ_U64(a[i].visitors, b[j].visitors);
            CHECK_EQ_U64(a[i].pageviews, b[j].pageviews);
            CHECK_EQ_U64(a[i].events, b[j].events);
        }
        db_stat_rows_free(a, na);
        db_stat_rows_free(b, nb);
    }
}

static json_t *
run(db *d, const char *body, int *status)
{
    char *out = aq_handle(d, body, strlen(body), TODAY, status);
    CHECK(out != NULL);
    json_t *j = json_loads(out, 0, NULL);
    CHECK(j != NULL);
    free(out);
    return j;
}

static json_int_t
metric(json_t *resp, size_t row, size_t i)
{
    return json_integer_value(json_array_get(json_object_get(
        json_array_get(json_object_get(resp, "results"), row), "metrics"), i));
}

static const char *
dimension(json_t *resp, size_t row)
{
    return json_string_value(json_array_get(json_object_get(
        json_array_get(json_object_get(resp, "results"), row), "dimensions"), 0));
}

static void
test_execute(void)
{
    char err[512];
    db *d;
    strcpy(dbpath, "/tmp/tally-aq-XXXXXX");
    int fd = mkstemp(dbpath);
    CHECK(fd >= 0);
    close(fd);
    unlink(dbpath);
    CHECK(db_open(dbpath, DB_RW, &d, err, sizeof(err)) == 0);
    attrs_ctx *x = attrs_new(NULL, err, sizeof(err));
    CHECK(x != NULL);
    G = ingest_new(d, x);
    CHECK(G != NULL);
    CHECK(db_begin(d) == 0);
    CHECK(ingest_ready(G) == 0);
    /* day -2: visitors 1,2 (1 twice); day -1: visitors 1,3; today: 4 */
    add(d, "a.com", TODAY - 2, 1, 1, "pageview", "/");
    add(d, "a.com", TODAY - 2, 5, 1, "pageview", "/x");
    add(d, "a.com", TODAY - 2, 9, 2, "signup", "/x");
    add(d, "a.com", TODAY - 1, 0, 1, "pageview", "/");
    add(d, "a.com", TODAY - 1, 23, 3, "pageview", "/");
    add(d, "a.com", TODAY, 3, 4, "pageview", "/y");
    add(d, "b.org", TODAY - 1, 3, 9, "pageview", "/");
    CHECK(ingest_flush(G) == 0);
    CHECK(db_commit(d) == 0);
    check_rollups_equal_raw(d, "a.com", TODAY - 3, TODAY + 1);
    check_rollups_equal_raw(d, "a.com", TODAY - 1, TODAY);
    check_rollups_equal_raw(d, "b.org", TODAY - 3, TODAY + 1);

    int st;
    json_t *r = run(d, "{\"site_id\":\"a.com\",\"metrics\":[\"visitors\",\"pageviews\",\"events\"],"
                       "\"date_range\":\"7d\"}", &st);
    CHECK(st == 200);
    CHECK_EQ_U64(json_array_size(json_object_get(r, "results")), 1);
    CHECK_EQ_U64(metric(r, 0, 0), 4);   /* 2 on day -2 + 2 on day -1 */
    CHECK_EQ_U64(metric(r, 0, 1), 4);
    CHECK_EQ_U64(metric(r, 0, 2), 5);
    json_t *qq = json_object_get(r, "query");
    CHECK_STR(json_string_value(json_array_get(json_object_get(qq, "date_range"), 0)),
              "2024-03-11T00:00:00+00:00");
    CHECK_STR(json_string_value(json_array_get(json_object_get(qq, "date_range"), 1)),
              "2024-03-17T23:59:59+00:00");
    CHECK_STR(json_string_value(json_object_get(qq, "site_id")), "a.com");
    CHECK(json_is_object(json_object_get(r, "meta")));
    json_decref(r);

    r = run(d, "{\"site_id\":\"a.com\",\"metrics\":[\"visitors\",\"events\"],"
               "\"date_range\":[\"2024-03-16\",\"2024-03-18\"],\"dimensions\":[\"time:day\"],"
               "\"include\":{\"time_labels\":true,\"total_rows\":true}}", &st);
    CHECK(st == 200);
    CHECK_EQ_U64(json_array_size(json_object_get(r, "results")), 3);
    CHECK_STR(dimension(r, 0), "2024-03-16");
    CHECK_EQ_U64(metric(r, 0, 0), 2);
    CHECK_EQ_U64(metric(r, 0, 1), 3);
    CHECK_STR(dimension(r, 2), "2024-03-18");
    CHECK_EQ_U64(metric(r, 2, 0), 1);
    CHECK_EQ_U64(json_integer_value(json_object_get(json_object_get(r, "meta"), "total_rows")), 3);
    CHECK_EQ_U64(json_array_size(json_object_get(json_object_get(r, "meta"), "time_labels")), 3);
    json_decref(r);

    r = run(d, "{\"site_id\":\"a.com\",\"metrics\":[\"visitors\",\"pageviews\"],"
               "\"date_range\":[\"2024-03-16\",\"2024-03-18\"],\"dimensions\":[\"event:page\"]}", &st);
    CHECK(st == 200);
    CHECK_EQ_U64(json_array_size(json_object_get(r, "results")), 3);
    CHECK_STR(dimension(r, 0), "/");      /* visitors desc: / has 1 + 2 */
    CHECK_EQ_U64(metric(r, 0, 0), 3);
    CHECK_EQ_U64(metric(r, 0, 1), 3);
    CHECK_STR(dimension(r, 1), "/x");     /* tie with /y at 1... /x has 2 */
    CHECK_EQ_U64(metric(r, 1, 0), 2);
    CHECK_EQ_U64(metric(r, 1, 1), 1);
    json_decref(r);

    r = run(d, "{\"site_id\":\"a.com\",\"metrics\":[\"events\"],\"date_range\":\"7d\","
               "\"dimensions\":[\"event:name\"],\"order_by\":[[\"event:name\",\"desc\"]],"
               "\"pagination\":{\"limit\":1}}", &st);
    CHECK(st == 200);
    CHECK_EQ_U64(json_array_size(json_object_get(r, "results")), 1);
    CHECK_STR(dimension(r, 0), "signup");
    CHECK_EQ_U64(metric(r, 0, 0), 1);
    json_decref(r);

    /* a site with no events in the range still answers one zero row */
    r = run(d, "{\"site_id\":\"b.org\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", &st);
    CHECK(st == 200);
    CHECK_EQ_U64(metric(r, 0, 0), 0);
    json_decref(r);

    r = run(d, "{\"site_id\":\"nope.net\",\"metrics\":[\"visitors\"],\"date_range\":\"day\"}", &st);
    CHECK(st == 404);
    CHECK(json_is_string(json_object_get(r, "error")));
    json_decref(r);

    r = run(d, "{\"site_id\":\"a.com\",\"metrics\":[\"visits\"],\"date_range\":\"day\"}", &st);
    CHECK(st == 400);
    CHECK(strstr(json_string_value(json_object_get(r, "error")), "visits") != NULL);
    json_decref(r);

    ingest_free(G);
    attrs_free(x);
    db_close(d);
    unlink(dbpath);
    char p[128];
    snprintf(p, sizeof(p), "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", dbpath);
    unlink(p);
}

int
main(void)
{
    RUN(test_dates);
    RUN(test_minimal);
    RUN(test_ranges);
    RUN(test_full);
    RUN(test_errors);
    RUN(test_execute);
    return check_summary("api_query");
}
