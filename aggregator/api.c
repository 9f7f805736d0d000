/* api.c -- see api.h. */
#include "aggregator/api.h"
#include "aggregator/api_query.h"
#include "aggregator/api_qx.h"
#include "aggregator/db.h"
#include "aggregator/keys.h"
#include "aggregator/log.h"
#include "aggregator/web.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char api_db_path[PATH_MAX];
static pthread_key_t api_db_key;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static void
api_db_destroy(void *p)
{
    db_close(p);
}

static void
api_key_init(void)
{
    pthread_key_create(&api_db_key, api_db_destroy);
}

int
api_init(const char *db_path)
{
    if (strlen(db_path) >= sizeof(api_db_path))
        return -1;
    strcpy(api_db_path, db_path);
    pthread_once(&api_once, api_key_init);
    if (qx_api_init(db_path) != 0)
        return -1;
    return web_init(db_path);
}

void
api_thread_done(void)
{
    db *d = pthread_getspecific(api_db_key);
    if (d) {
        db_close(d);
        pthread_setspecific(api_db_key, NULL);
    }
}

/* The calling thread's read-only connection, opened on first use. */
static db *
api_db(void)
{
    db *d = pthread_getspecific(api_db_key);
    if (d == NULL) {
        char err[512];
        if (db_open(api_db_path, DB_RO, &d, err, sizeof(err)) != 0) {
            log_error("api: %s", err);
            return NULL;
        }
        pthread_setspecific(api_db_key, d);
    }
    return d;
}

static void
api_health(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 200;
    resp->body = strdup("{\"status\":\"ok\"}");
}

static void
api_query(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    db *d = api_db();
    if (d == NULL) {
        resp->status = 500;
        resp->body = aq_error_json("database unavailable");
        return;
    }
    web_principal who;     /* API key, session (+ CSRF) or share link */
    if (!web_auth(d, req, &who, resp)
        || !web_auth_query(&who, req->body, req->body_len, resp))
        return;
    if (qx_api_enabled()) {          /* q_exec.h; see api_qx.h */
        qx_api_query(d, req, &who, resp);
        return;
    }
    int64_t today = (int64_t)(time(NULL) / 86400);
    resp->body = aq_handle(d, req->body, req->body_len, today, &resp->status);
}

static const http_route api_table[] = {
    { "GET", "/health", api_health, NULL },
    { "POST", "/api/v2/query", api_query, NULL },
    WEB_ROUTES,
    QX_ROUTES,
};

const http_route *
api_routes(size_t *n)
{
    *n = sizeof(api_table) / sizeof(api_table[0]);
    return api_table;
}
