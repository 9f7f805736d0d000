/*
 * http.h -- tallyd's HTTP server: a thin router over libmicrohttpd (the
 * only file including microhttpd.h is http.c).  Requests are served by a
 * pool of threads; a handler may run on any of them, concurrently.
 *
 * Routing: exact path match.  A path with no route -> 404; a route for
 * the path but not the method -> 405 with an Allow header.  A body larger
 * than max_body -> 413.  Every error body is JSON {"error": "..."}.
 */
#ifndef TALLY_AGG_HTTP_H
#define TALLY_AGG_HTTP_H

#include <stddef.h>

typedef struct {
    const char *method;
    const char *path;
    const char *authorization;   /* Authorization header, NULL if absent */
    const char *body;            /* NUL terminated, body_len bytes       */
    size_t      body_len;
} http_request;

typedef struct {
    int   status;
    char *body;                  /* malloc'd JSON; the server frees it   */
} http_response;

/* A handler fills resp (status and body).  A NULL body becomes a 500. */
typedef void (*http_handler)(void *ctx, const http_request *req,
                             http_response *resp);

typedef struct {
    const char  *method;
    const char  *path;
    http_handler fn;
    void        *ctx;
} http_route;

typedef struct http_server http_server;

/* Starts serving host:port (host: an IPv4 or IPv6 literal) with threads
 * worker threads.  routes (nroutes entries) must outlive the server.
 * Returns the server, or NULL with a message in err. */
http_server *http_start(const char *host, unsigned port,
                        const http_route *routes, size_t nroutes,
                        unsigned threads, size_t max_body, char *err,
                        size_t errlen);

/* Stops accepting, finishes the running requests and frees the server. */
void http_stop(http_server *s);

#endif
