/*
 * api.h -- the HTTP endpoints of tallyd (routes for http.h):
 *
 *   GET  /health         200 {"status":"ok"}, no auth
 *   POST /api/v2/query   Bearer API key, Plausible Stats API v2 query
 *                        (api_query.h); 401 for a missing, unknown or
 *                        revoked key
 *
 * Each HTTP thread opens its own read-only connection to the database on
 * first use (WAL lets readers run beside the drain's writer) and closes
 * it when the thread exits.
 */
#ifndef TALLY_AGG_API_H
#define TALLY_AGG_API_H

#include "aggregator/http.h"

#include <stddef.h>

#define API_MAX_BODY (64 * 1024)

/* Prepares the endpoints to read the database at db_path (copied).
 * Returns 0 or -1.  Call once before http_start. */
int api_init(const char *db_path);

/* The route table (static storage). */
const http_route *api_routes(size_t *n);

/* Closes the calling thread's connection, if any (the HTTP threads'
 * connections are closed as those threads exit). */
void api_thread_done(void);

#endif
