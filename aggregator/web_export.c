/* web_export.c -- GET /api/v1/export?site_id=S&date_range=FIRST,LAST|all
 * [&filters=JSON]: the daily numbers of a site as CSV.
 *
 * No SQL of its own: the export is a Stats API v2 query (dimension
 * time:day) run through api_query.h, so the CSV carries exactly the
 * numbers POST /api/v2/query answers.  Columns: date, then every metric
 * of WEB_EXPORT_FULL when the query engine supports them all, else
 * WEB_EXPORT_BASIC.  One row per day: every day of an explicit range
 * (days without events as zeros); for "all", every day from the first to
 * the last day with data. */
#include "aggregator/api_query.h"
#include "aggregator/web_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WEB_EXPORT_MAX_DAYS 10000   /* = the query engine's row limit */

static const char *const web_export_full[] = { "visitors", "visits",
    "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events" };
static const char *const web_export_basic[] = { "visitors", "pageviews",
    "events" };

/* Day number (days since 1970-01-01) <-> "YYYY-MM-DD", proleptic
 * Gregorian (H. Hinnant's civil calendar algorithms); kept here so the
 * export depends on the query engine only through aq_handle. */
static void
web_day_format(int64_t z, char out[11])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[48];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d",
             (int)(((y % 10000) + 10000) % 10000), (int)m, (int)d);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

/* Parses exactly "YYYY-MM-DD" (a real date).  0 or -1. */
static int
web_day_parse(const char *s, int64_t *day)
{
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return -1;
    if (s[10] != '\0')
        return -1;
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10
                + (s[3] - '0');
    int64_t m = (s[5] - '0') * 10 + (s[6] - '0');
    int64_t d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return -1;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *day = era * 146097 + doe - 719468;
    return 0;
}

typedef struct {
    int64_t day;
    json_t *metrics;          /* borrowed from the response */
} web_export_row;

static int
web_export_cmp(const void *a, const void *b)
{
    int64_t x = ((const web_export_row *)a)->day;
    int64_t y = ((const web_export_row *)b)->day;
    return x < y ? -1 : x > y;
}

/* Runs one v2 query.  Returns the malloc'd response body and *status. */
static char *
web_export_query(db *d, const char *site, json_t *range, json_t *filters,
                 const char *const *metrics, size_t nm, int *status)
{
    json_t *m = json_array();
    for (size_t i = 0; i < nm; i++)
        json_array_append_new(m, json_string(metrics[i]));
    json_t *q = json_pack("{s:s, s:o, s:O, s:[s], s:O}", "site_id", site,
                          "metrics", m, "date_range", range,
                          "dimensions", "time:day", "filters", filters);
    char *body = q ? json_dumps(q, JSON_COMPACT) : NULL;
    json_decref(q);
    if (body == NULL) {
        *status = 500;
        return NULL;
    }
    int64_t today = (int64_t)(time(NULL) / 86400);
    char *out = aq_handle(d, body, strlen(body), today, status);
    free(body);
    return out;
}

/* Writes one CSV field for a metric value as the API renders it. */
static void
web_export_value(FILE *f, json_t *v)
{
    if (v == NULL || json_is_null(v))
        return;
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s != NULL) {
        fputs(s, f);
        free(s);
    }
}

/* Renders the CSV of a 200 response body.  first/last: the explicit
 * range, or first > last for "all".  Returns 0 with *csv (malloc'd), or
 * -1 when the response is not what the query engine promises. */
static int
web_export_csv(const char *answer, const char *const *metrics, size_t nm,
               int64_t first, int64_t last, char **csv, size_t *csvlen)
{
    json_error_t je;
    json_t *root = json_loads(answer, 0, &je);
    json_t *results = json_object_get(root, "results");
    if (!json_is_array(results)) {
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(results);
    web_export_row *rows = calloc(n ? n : 1, sizeof(*rows));
    int rc = rows ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *r = json_array_get(results, i);
        json_t *dim = json_array_get(json_object_get(r, "dimensions"), 0);
        json_t *m = json_object_get(r, "metrics");
        char date[11];
        if (!json_is_string(dim) || json_string_length(dim) < 10
            || !json_is_array(m) || json_array_size(m) != nm) {
            rc = -1;
            break;
        }
        memcpy(date, json_string_value(dim), 10);
        date[10] = '\0';
        if (web_day_parse(date, &rows[i].day) != 0)
            rc = -1;
        rows[i].metrics = m;
    }
    FILE *f = rc == 0 ? open_memstream(csv, csvlen) : NULL;
    if (f == NULL) {
        free(rows);
        json_decref(root);
        return -1;
    }
    qsort(rows, n, sizeof(*rows), web_export_cmp);
    if (first > last && n > 0) {
        first = rows[0].day;
        last = rows[n - 1].day;
    }
    fputs("date", f);
    for (size_t j = 0; j < nm; j++)
        fprintf(f, ",%s", metrics[j]);
    fputs("\r\n", f);
    size_t k = 0;
    for (int64_t day = first; day <= last; day++) {
        char date[11];
        web_day_format(day, date);
        fputs(date, f);
        while (k < n && rows[k].day < day)
            k++;
        for (size_t j = 0; j < nm; j++) {
            fputc(',', f);
            if (k < n && rows[k].day == day)
                web_export_value(f, json_array_get(rows[k].metrics, j));
            else
                fputc('0', f);
        }
        fputs("\r\n", f);
    }
    rc = fclose(f) == 0 ? 0 : -1;
    free(rows);
    json_decref(root);
    if (rc != 0)
        free(*csv);
    return rc;
}

/* Parses "YYYY-MM-DD,YYYY-MM-DD".  0 or -1. */
static int
web_export_range(const char *s, int64_t *first, int64_t *last)
{
    char a[11], b[11];
    if (strlen(s) != 21 || s[10] != ',')
        return -1;
    memcpy(a, s, 10);
    a[10] = '\0';
    memcpy(b, s + 11, 10);
    b[10] = '\0';
    return web_day_parse(a, first) == 0 && web_day_parse(b, last) == 0
           && *first <= *last ? 0 : -1;
}

/* Copies site into out keeping only [A-Za-z0-9.-] (for the file name). */
static void
web_export_fname_part(const char *site, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = site; *p && o + 1 < cap; p++) {
        char c = *p;
        out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                   || (c >= '0' && c <= '9') || c == '.' || c == '-' ? c : '_';
    }
    out[o] = '\0';
}

void
web_export(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    db *d = web_db();
    if (d == NULL) {
        web_error(resp, 500, "database unavailable");
        return;
    }
    web_principal p;
    if (!web_auth(d, req, &p, resp))
        return;
    const char *site = http_arg(req, "site_id");
    const char *range = http_arg(req, "date_range");
    const char *ftext = http_arg(req, "filters");
    if (site == NULL || site[0] == '\0' || strlen(site) >= WEB_SITE_MAX) {
        web_error(resp, 400, "missing or invalid site_id");
        return;
    }
    if (!web_auth_site(&p, site, resp))
        return;
    int64_t first = 1, last = 0;
    int all = range != NULL && strcmp(range, "all") == 0;
    if (range == NULL || (!all && web_export_range(range, &first, &last) != 0)) {
        web_error(resp, 400, "date_range must be FIRST,LAST (YYYY-MM-DD,YYYY-MM-DD)"
                  " or all");
        return;
    }
    if (!all && last - first + 1 > WEB_EXPORT_MAX_DAYS) {
        web_error(resp, 400, "date_range is too long (at most 10000 days)");
        return;
    }
    json_error_t je;
    json_t *filters = ftext && ftext[0] ? json_loads(ftext, 0, &je) : json_array();
    if (!json_is_array(filters)) {
        json_decref(filters);
        web_error(resp, 400, "filters must be a JSON array of v2 filters");
        return;
    }
    char a[11], b[11];
    json_t *ranges[2] = { NULL, NULL };
    if (all) {
        /* "all" as the engine knows it, else every day up to today */
        web_day_format((int64_t)(time(NULL) / 86400), b);
        ranges[0] = json_string("all");
        ranges[1] = json_pack("[ss]", "1970-01-01", b);
    } else {
        web_day_format(first, a);
        web_day_format(last, b);
        ranges[0] = json_pack("[ss]", a, b);
    }
    const char *const *metrics = NULL;
    size_t nm = 0;
    char *answer = NULL;
    int status = 500;
    for (int set = 0; set < 2 && (answer == NULL || status == 400); set++) {
        const char *const *ms = set == 0 ? web_export_full : web_export_basic;
        size_t n = set == 0 ? sizeof(web_export_full) / sizeof(*ms)
                            : sizeof(web_export_basic) / sizeof(*ms);
        for (int r = 0; r < 2 && ranges[r] && (answer == NULL || status == 400); r++) {
            free(answer);
            answer = web_export_query(d, site, ranges[r], filters, ms, n, &status);
            metrics = ms;
            nm = n;
        }
    }
    json_decref(ranges[0]);
    json_decref(ranges[1]);
    json_decref(filters);
    if (answer == NULL || status != 200) {
        resp->status = answer ? status : 500;
        resp->body = answer;
        return;
    }
    char *csv = NULL;
    size_t csvlen = 0;
    int rc = web_export_csv(answer, metrics, nm, first, last, &csv, &csvlen);
    free(answer);
    if (rc != 0) {
        web_error(resp, 500, "unexpected answer from the query engine");
        return;
    }
    char part[WEB_SITE_MAX], cd[WEB_SITE_MAX + 96];
    web_export_fname_part(site, part, sizeof(part));
    if (all) {
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s-all.csv\"", part);
    } else {
        web_day_format(first, a);
        web_day_format(last, b);
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s-%s-%s.csv\"", part, a, b);
    }
    resp->status = 200;
    resp->body = csv;
    resp->body_len = csvlen;
    resp->content_type = "text/csv; charset=utf-8";
    http_add_header(resp, "Content-Disposition", cd);
}
