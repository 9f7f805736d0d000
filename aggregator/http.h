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
    void       *conn;            /* opaque, for http_header/arg/peer     */
} http_request;

#define HTTP_EXTRA_HEADERS 1024

/* Every field but status and body may stay zero: the defaults are a JSON
 * body (strlen(body) bytes), Content-Type application/json and
 * Cache-Control no-store.  Every response also carries
 * X-Content-Type-Options: nosniff. */
typedef struct {
    int         status;
    char       *body;            /* malloc'd; the server frees it        */
    size_t      body_len;        /* 0: strlen(body)                      */
    const char *content_type;    /* static string; NULL: application/json */
    const char *cache_control;   /* static string; NULL: no-store        */
    char        headers[HTTP_EXTRA_HEADERS]; /* extra "Name: value\n" lines */
} http_response;

/* The value of request header name (case-insensitive), or NULL. */
const char *http_header(const http_request *req, const char *name);

/* The URL-decoded value of query-string argument name, or NULL. */
const char *http_arg(const http_request *req, const char *name);

/* Writes the numeric address of the TCP peer into buf (cap bytes).
 * Returns 0, or -1 when unknown.  Never log it (DESIGN.md invariant 3). */
int http_peer(const http_request *req, char *buf, size_t cap);

/* Appends the header "name: value" to resp (value without CR or LF).
 * Returns 0, or -1 when it does not fit or is malformed. */
int http_add_header(http_response *resp, const char *name,
                    const char *value);

/* A handler fills resp (status and body, optionally the other fields).
 * A NULL body becomes a 500. */
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
