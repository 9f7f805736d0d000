/*
 * web.h -- the dashboard's HTTP side of tallyd (routes for http.h, listed
 * by WEB_ROUTES for api.c's table).  Every path is relative to where
 * tallyd is mounted: behind a proxy at /tally/ the proxy strips the
 * prefix (conf.d/dashboard.conf, docs/dashboard.md).
 *
 *   GET  /, /app.js, /app.css   the built dashboard (web_static.c)
 *   POST /login                 form username/password + header
 *                               X-Requested-With: tally -> 204 and the
 *                               cookies tally_session (HttpOnly) and
 *                               tally_csrf; 401; 429 + Retry-After
 *   POST /logout                X-Tally-CSRF -> 204, session deleted
 *   GET  /api/v1/sites          {"sites":[{"domain","timezone"}]}
 *   GET  /api/v1/export         CSV, one row per day (web_export.c)
 *
 * Authentication of the API routes (web_auth): a Bearer API key, a
 * session cookie (POST also needs X-Tally-CSRF equal to the session's
 * token, else 403) or a share token in X-Tally-Share (read-only, one
 * site: any other site is a 404 as if it did not exist).
 *
 * Sessions and share links live in the database (hashed, db.h web
 * section), so restarts keep them.  Login failures are rate limited in
 * memory per user name and per client address hash.
 */
#ifndef TALLY_AGG_WEB_H
#define TALLY_AGG_WEB_H

#include "aggregator/db.h"
#include "aggregator/http.h"

#include <stdint.h>

#define WEB_SITE_MAX 256

/* Prepares the web routes for the database at db_path: creates the web
 * tables, opens the connection used for session writes and finds the
 * dashboard files (web_static.c).  Returns 0 or -1 (logged).  Call once
 * before serving. */
int web_init(const char *db_path);

/* Who made an authenticated API request. */
enum web_auth_kind { WEB_AUTH_KEY = 1, WEB_AUTH_SESSION = 2, WEB_AUTH_SHARE = 3 };
typedef struct {
    enum web_auth_kind kind;
    int64_t            id;                 /* key, user or share link id */
    char               site[WEB_SITE_MAX]; /* WEB_AUTH_SHARE: its site   */
} web_principal;

/* Authenticates req on d (see above).  Returns 1 with *p filled, or 0
 * with resp filled: 401 (no or bad credentials), 403 (session without
 * the right CSRF header on a POST), 500 (database error). */
int web_auth(db *d, const http_request *req, web_principal *p,
             http_response *resp);

/* 1 when p may read site; otherwise 0 with resp set to the 404 an
 * unknown site gets. */
int web_auth_site(const web_principal *p, const char *site,
                  http_response *resp);

/* For POST /api/v2/query: 1 when p may run the query in body (share
 * links: only on their site), else 0 with resp set (404, or 400 for a
 * body that is not a JSON object). */
int web_auth_query(const web_principal *p, const char *body, size_t len,
                   http_response *resp);

/* Route handlers (ctx: the file name for web_static, else unused). */
void web_static(void *ctx, const http_request *req, http_response *resp);
void web_login(void *ctx, const http_request *req, http_response *resp);
void web_logout(void *ctx, const http_request *req, http_response *resp);
void web_sites(void *ctx, const http_request *req, http_response *resp);
void web_export(void *ctx, const http_request *req, http_response *resp);

#define WEB_ROUTES \
    { "GET", "/", web_static, "index.html" }, \
    { "GET", "/app.js", web_static, "app.js" }, \
    { "GET", "/app.css", web_static, "app.css" }, \
    { "POST", "/login", web_login, NULL }, \
    { "POST", "/logout", web_logout, NULL }, \
    { "GET", "/api/v1/sites", web_sites, NULL }, \
    { "GET", "/api/v1/export", web_export, NULL }

#endif
