/* api_qx.c -- see api_qx.h. */
#include "aggregator/api_qx.h"
#include "aggregator/ctl_cli.h"
#include "aggregator/goals.h"
#include "aggregator/keyrate.h"
#include "aggregator/log.h"
#include "aggregator/metrics.h"
#include "aggregator/q_exec.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char qx_db_path[PATH_MAX];
static char qx_source[PATH_MAX];     /* "" or redis://...: see qx_api_set_source */
static pthread_key_t qx_db_key;
static pthread_once_t qx_once = PTHREAD_ONCE_INIT;

static void qx_db_destroy(void *p) { db_close(p); }
static void qx_key_init(void) { pthread_key_create(&qx_db_key, qx_db_destroy); }

int
qx_api_set_source(const char *url)
{
    if (strlen(url) >= sizeof(qx_source))
        return -1;
    strcpy(qx_source, url);
    return 0;
}

/* A goal change through the control stream (qx_api_set_source).  Returns
 * the entry's status (ctl.h), *gid set, or -1 with err. */
static int
qx_goal_ctl(db *w, enum ctl_verb verb, const char *site, enum goal_kind k,
            const char *val, int64_t id, int64_t *gid, char *err, size_t errlen)
{
    ctl_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->verb = verb;
    c->t = (int64_t)time(NULL);
    c->kind = (int)k;
    c->id = id;
    snprintf(c->site, sizeof(c->site), "%s", site);
    snprintf(c->value, sizeof(c->value), "%s", val ? val : "");
    int st = ctl_submit(w, qx_source, c, gid, err, errlen);
    if (st < 0)
        log_error("api: goal change through %s: %s", CTL_STREAM, err);
    free(c);
    return st;
}

int
qx_api_init(const char *db_path)
{
    if (strlen(db_path) >= sizeof(qx_db_path))
        return -1;
    strcpy(qx_db_path, db_path);
    pthread_once(&qx_once, qx_key_init);
    char err[512];
    db *d;
    if (db_goals_open(db_path, &d, err, sizeof err) != 0) {
        log_error("api: %s", err);
        return -1;
    }
    db_close(d);
    return 0;
}

int
qx_api_enabled(void)
{
    const char *e = getenv("TALLY_QX");
    return e == NULL || strcmp(e, "0") != 0;
}

/* This thread's read-only connection. */
static db *
qx_db(void)
{
    db *d = pthread_getspecific(qx_db_key);
    if (d == NULL) {
        char err[512];
        if (db_open(qx_db_path, DB_RO, &d, err, sizeof err) != 0) {
            log_error("api: %s", err);
            return NULL;
        }
        pthread_setspecific(qx_db_key, d);
    }
    return d;
}

static void
qx_err(http_response *resp, int status, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    resp->status = status;
    resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
}

static int64_t
qx_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
qx_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rate limit for API keys: 1 allowed, else 0 with a 429. */
static int
qx_rate(const web_principal *who, http_response *resp)
{
    if (who->kind != WEB_AUTH_KEY)
        return 1;
    int wait = keyrate_take(who->id, qx_mono_ms());
    if (wait == 0)
        return 1;
    char ra[16];
    snprintf(ra, sizeof ra, "%d", wait);
    http_add_header(resp, "Retry-After", ra);
    metrics_add("tally_api_rate_limited_total", 1);
    char msg[160];
    snprintf(msg, sizeof msg, "Too many requests: this API key is limited to"
             " %lld requests per minute. Retry in %d s.",
             (long long)keyrate_per_min(), wait);
    qx_err(resp, 429, msg);
    return 0;
}

void
qx_api_query(db *d, const http_request *req, const web_principal *who,
             http_response *resp)
{
    if (!qx_rate(who, resp))
        return;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    qx_opts o = {
        .key_id = who->kind == WEB_AUTH_KEY ? who->id : -1,
        .only_site = who->kind == WEB_AUTH_SHARE ? who->site : NULL,
    };
    const char *path = "";
    resp->body = qx_handle(d, req->body, req->body_len, &o, &resp->status, &path);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    if (path[0]) {
        http_add_header(resp, "X-Tally-Path", path);
        metrics_observe_ms(strcmp(path, "raw") == 0
                           ? "tally_query_duration_seconds{path=\"raw\"}"
                           : "tally_query_duration_seconds{path=\"rollup\"}", ms);
    }
    metrics_add(resp->status == 200 ? "tally_queries_total{code=\"200\"}"
                : resp->status == 400 ? "tally_queries_total{code=\"400\"}"
                : resp->status == 404 ? "tally_queries_total{code=\"404\"}"
                : "tally_queries_total{code=\"500\"}", 1);
}

/* Authenticates req on a connection: 1 with d and who set, else 0 with
 * resp filled. */
static int
qx_auth(const http_request *req, http_response *resp, db **d, web_principal *who)
{
    *d = qx_db();
    if (*d == NULL) {
        qx_err(resp, 500, "database unavailable");
        return 0;
    }
    return web_auth(*d, req, who, resp) && qx_rate(who, resp);
}

/* The site named by site_id, checked against who's scope: 1 with *id, or
 * 0 with a 404/500 in resp. */
static int
qx_site(db *d, const web_principal *who, const char *site, int64_t *id,
        http_response *resp)
{
    int f = site ? db_site_find(d, site, id) : 0;
    if (f == 1 && who->kind == WEB_AUTH_KEY)
        f = db_key_site_allowed(d, who->id, *id);
    if (f == 1 && who->kind == WEB_AUTH_SHARE && strcmp(who->site, site) != 0)
        f = 0;
    if (f < 0) {
        qx_err(resp, 500, "database error");
        return 0;
    }
    if (f == 0) {
        qx_err(resp, site ? 404 : 400, site
               ? "Site does not exist or user does not have sufficient access."
               : "Missing parameter: site_id");
        return 0;
    }
    return 1;
}

void
qx_api_realtime(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    db *d;
    web_principal who;
    int64_t id, n;
    const char *site = http_arg(req, "site_id");
    if (!qx_auth(req, resp, &d, &who) || !qx_site(d, &who, site, &id, resp))
        return;
    if (qx_realtime_visitors(d, site, qx_wall_ms(), &n) != 1) {
        qx_err(resp, 500, "database error");
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)n);
    resp->status = 200;
    resp->body = strdup(buf);
}

/* ---- goals ---- */

typedef struct {
    json_t     *arr;
    const char *site;
} qx_goal_list;

static int
qx_goal_json(void *ctx, int64_t id, int kind, const char *value)
{
    qx_goal_list *l = ctx;
    json_array_append_new(l->arr, json_pack("{s:I, s:s, s:s, s:s?, s:s?}",
        "id", (json_int_t)id, "domain", l->site,
        "goal_type", kind == GOAL_PAGE ? "page" : "event",
        "event_name", kind == GOAL_EVENT ? value : NULL,
        "page_path", kind == GOAL_PAGE ? value : NULL));
    return 0;
}

/* A parameter from the JSON body or the query string. */
static const char *
qx_param(const http_request *req, json_t *body, const char *name, char *buf,
         size_t cap)
{
    json_t *v = body ? json_object_get(body, name) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return http_arg(req, name);
}

void
qx_api_goals(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    db *d;
    web_principal who;
    if (!qx_auth(req, resp, &d, &who))
        return;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
    char nb[32], err[256];
    const char *site = qx_param(req, body, "site_id", nb, sizeof nb);
    int64_t sid;
    if (!qx_site(d, &who, site, &sid, resp))
        goto out;
    if (strcmp(req->method, "GET") == 0) {
        qx_goal_list l = { json_array(), site };
        if (db_goal_each(d, sid, qx_goal_json, &l) != 0) {
            json_decref(l.arr);
            qx_err(resp, 500, "database error");
            goto out;
        }
        json_t *o = json_pack("{s:o}", "goals", l.arr);
        resp->status = 200;
        resp->body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        goto out;
    }
    if (who.kind == WEB_AUTH_SHARE) {
        qx_err(resp, 403, "share links are read-only");
        goto out;
    }
    db *w;
    if (db_goals_open(qx_db_path, &w, err, sizeof err) != 0) {
        qx_err(resp, 500, "database unavailable");
        goto out;
    }
    if (strcmp(req->method, "PUT") == 0) {
        char tb[8];
        const char *type = qx_param(req, body, "goal_type", tb, sizeof tb);
        enum goal_kind k = type && strcmp(type, "page") == 0 ? GOAL_PAGE
                         : type && strcmp(type, "event") == 0 ? GOAL_EVENT : 0;
        char vb[8];
        const char *val = qx_param(req, body, k == GOAL_PAGE ? "page_path" : "event_name",
                                   vb, sizeof vb);
        int64_t gid;
        int rc;
        if (goal_validate(k, val, err, sizeof err) != 0) {
            qx_err(resp, 400, err);
        } else if (qx_source[0]
                   && (rc = qx_goal_ctl(w, CTL_GOAL_ADD, site, k, val, 0, &gid,
                                        err, sizeof err)) != CTL_DONE
                   && rc != CTL_EXISTS) {
            qx_err(resp, rc == CTL_NOTFOUND ? 404 : rc == CTL_INVALID ? 400 : 503,
                   rc == CTL_NOTFOUND ? "Site could not be found"
                   : rc == CTL_INVALID ? "the change was refused" : err);
        } else if (qx_source[0]) {
            qx_goal_list l = { json_array(), site };
            qx_goal_json(&l, gid, k, val);
            resp->status = rc == CTL_DONE ? 201 : 200;
            resp->body = json_dumps(json_array_get(l.arr, 0), JSON_COMPACT);
            json_decref(l.arr);
        } else if ((rc = db_goal_add(w, sid, k, val, (int64_t)time(NULL), &gid)) < 0) {
            qx_err(resp, 500, "database error");
        } else {
            qx_goal_list l = { json_array(), site };
            qx_goal_json(&l, gid, k, val);
            resp->status = rc == 1 ? 201 : 200;
            resp->body = json_dumps(json_array_get(l.arr, 0), JSON_COMPACT);
            json_decref(l.arr);
        }
    } else {
        char gb[32];
        const char *g = qx_param(req, body, "goal_id", gb, sizeof gb);
        char *end;
        long long gid = g ? strtoll(g, &end, 10) : 0;
        int rc;
        int64_t none;
        if (g == NULL || *g == '\0' || *end != '\0' || gid <= 0)
            qx_err(resp, 400, "Missing or invalid parameter: goal_id");
        else if (qx_source[0]
                 && (rc = qx_goal_ctl(w, CTL_GOAL_REMOVE, site, 0, NULL, gid,
                                      &none, err, sizeof err)) < 0)
            qx_err(resp, 503, err);
        else if (!qx_source[0] && (rc = db_goal_remove(w, sid, gid)) < 0)
            qx_err(resp, 500, "database error");
        else if (qx_source[0] ? rc != CTL_DONE : rc == 0)
            qx_err(resp, 404, "Goal could not be found");
        else {
            resp->status = 200;
            resp->body = strdup("{\"deleted\":true}");
        }
    }
    db_close(w);
out:
    json_decref(body);
}

/* ---- metrics ---- */

void
qx_api_metrics(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    (void)req;
    db *d = qx_db();
    char extra[512] = "";
    if (d) {
        int64_t size = db_size_bytes(d), hwm = 0;
        db_meta_get(d, "hwm_ms", &hwm);
        int64_t now = qx_wall_ms();
        snprintf(extra, sizeof extra,
                 "# TYPE tally_db_size_bytes gauge\ntally_db_size_bytes %lld\n"
                 "# TYPE tally_newest_event_timestamp_seconds gauge\n"
                 "tally_newest_event_timestamp_seconds %.3f\n"
                 "# TYPE tally_drain_lag_seconds gauge\n"
                 "tally_drain_lag_seconds %.3f\n",
                 (long long)size, (double)hwm / 1000.0,
                 hwm > 0 && now > hwm ? (double)(now - hwm) / 1000.0 : 0.0);
    }
    resp->status = 200;
    resp->body = metrics_render(extra);
    resp->content_type = "text/plain; version=0.0.4";
}
