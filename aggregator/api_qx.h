/*
 * api_qx.h -- the HTTP side of the Stats API executor (q_exec.h), the
 * realtime count, goals and Prometheus metrics, as handlers for api.c:
 *
 *   POST   /api/v2/query                   (called by api.c's handler)
 *   GET    /api/v1/stats/realtime/visitors?site_id=D   a JSON number
 *   GET    /api/v1/sites/goals?site_id=D   {"goals":[...]}
 *   PUT    /api/v1/sites/goals             {"site_id","goal_type":"event"|
 *                                          "page","event_name"|"page_path"}
 *   DELETE /api/v1/sites/goals             {"site_id","goal_id"} (body or
 *                                          query string)
 *   GET    /metrics                        Prometheus text, no auth
 *
 * Authentication as web.h's web_auth (Bearer key, session, share link;
 * share links only read their site, never write).  API keys are limited
 * to their scoped sites (goals.h key_sites; 404 otherwise) and to
 * keyrate.h's rate (429 with Retry-After).
 */
#ifndef TALLY_AGG_API_QX_H
#define TALLY_AGG_API_QX_H

#include "aggregator/db.h"
#include "aggregator/http.h"
#include "aggregator/web.h"

/* Prepares the handlers for the database at db_path (creates the goals
 * tables).  Returns 0 or -1 (logged). */
int qx_api_init(const char *db_path);

/* Makes goal changes (PUT/DELETE /api/v1/sites/goals) go through the
 * control stream of the Redis source url (copied; ctl_cli.h) instead of
 * a local write: serve --source calls it, so a replica's Sites API
 * changes every replica.  Returns 0 or -1 (too long). */
int qx_api_set_source(const char *url);

/* 1 when POST /api/v2/query runs on q_exec.h: always, unless the
 * environment sets TALLY_QX=0 (the former minimal executor, api_query.h,
 * kept for one release as a fallback). */
int qx_api_enabled(void);

/* POST /api/v2/query for an authenticated principal, on d. */
void qx_api_query(db *d, const http_request *req, const web_principal *who,
                  http_response *resp);

void qx_api_realtime(void *ctx, const http_request *req, http_response *resp);
void qx_api_goals(void *ctx, const http_request *req, http_response *resp);
void qx_api_metrics(void *ctx, const http_request *req, http_response *resp);

#define QX_ROUTES \
    { "GET", "/api/v1/stats/realtime/visitors", qx_api_realtime, NULL }, \
    { "GET", "/api/v1/sites/goals", qx_api_goals, NULL }, \
    { "PUT", "/api/v1/sites/goals", qx_api_goals, NULL }, \
    { "DELETE", "/api/v1/sites/goals", qx_api_goals, NULL }, \
    { "GET", "/metrics", qx_api_metrics, NULL }

#endif
