/* http.c -- see http.h. */
#include "aggregator/http.h"
#include "aggregator/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct http_server {
    struct MHD_Daemon *mhd;
    const http_route  *routes;
    size_t             nroutes;
    size_t             max_body;
};

/* Per-request state, kept across the upload callbacks. */
typedef struct {
    char  *body;
    size_t len;
    int    too_large;
} http_conn;

/* Queues resp (its body freed here).  Extra headers are "Name: value"
 * lines; a NULL body becomes a 500. */
static enum MHD_Result
http_send(struct MHD_Connection *c, http_response *resp, const char *allow)
{
    char *body = resp->body;
    int status = resp->status;
    size_t len = resp->body_len;
    if (body == NULL) {
        status = 500;
        body = strdup("{\"error\":\"internal error\"}");
        if (body == NULL)
            return MHD_NO;
        len = 0;
        resp->headers[0] = '\0';
        resp->content_type = resp->cache_control = NULL;
    }
    if (len == 0)
        len = strlen(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type
                                               : "application/json");
    MHD_add_response_header(r, "Cache-Control",
                            resp->cache_control ? resp->cache_control
                                                : "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    for (char *line = resp->headers; *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *colon = strchr(line, ':');
        if (nl == NULL || colon == NULL || colon > nl)
            break;
        *nl = '\0';
        *colon = '\0';
        MHD_add_response_header(r, line, colon + 2);
        line = nl + 1;
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

int
http_add_header(http_response *resp, const char *name, const char *value)
{
    if (strpbrk(name, ":\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
        return -1;
    size_t used = strlen(resp->headers);
    int n = snprintf(resp->headers + used, sizeof(resp->headers) - used,
                     "%s: %s\n", name, value);
    if (n < 0 || (size_t)n >= sizeof(resp->headers) - used) {
        resp->headers[used] = '\0';
        return -1;
    }
    return 0;
}

const char *
http_header(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_arg(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int
http_peer(const http_request *req, char *buf, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return -1;
    const struct sockaddr *sa = ci->client_addr;
    const void *a = sa->sa_family == AF_INET
        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
        : sa->sa_family == AF_INET6
        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr : NULL;
    if (a == NULL || inet_ntop(sa->sa_family, a, buf, (socklen_t)cap) == NULL)
        return -1;
    return 0;
}

static enum MHD_Result
http_error(struct MHD_Connection *c, int status, const char *msg,
           const char *allow)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"error\":\"%s\"}", msg);
    http_response resp = { .status = status, .body = strdup(buf) };
    return http_send(c, &resp, allow);
}

static enum MHD_Result
http_dispatch(void *cls, struct MHD_Connection *c, const char *url,
              const char *method, const char *version,
              const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    http_server *s = cls;
    http_conn *hc = *con_cls;

    if (hc == NULL) {                          /* first call: headers only */
        hc = calloc(1, sizeof(*hc));
        if (hc == NULL)
            return MHD_NO;
        *con_cls = hc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body) {
            hc->too_large = 1;
            return http_error(c, 413, "request body too large", NULL);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {                    /* body chunks */
        if (!hc->too_large && hc->len + *upload_size <= s->max_body) {
            char *p = realloc(hc->body, hc->len + *upload_size + 1);
            if (p == NULL)
                return MHD_NO;
            hc->body = p;
            memcpy(hc->body + hc->len, upload_data, *upload_size);
            hc->len += *upload_size;
        } else {
            hc->too_large = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (hc->too_large)
        return http_error(c, 413, "request body too large", NULL);

    const http_route *match = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < s->nroutes; i++) {
        const http_route *r = &s->routes[i];
        if (strcmp(r->path, url) != 0)
            continue;
        if (strcmp(r->method, method) == 0) {
            match = r;
            break;
        }
        size_t al = strlen(allow);
        snprintf(allow + al, sizeof(allow) - al, "%s%s", al ? ", " : "", r->method);
    }
    if (match == NULL) {
        if (allow[0] != '\0')
            return http_error(c, 405, "method not allowed", allow);
        return http_error(c, 404, "not found", NULL);
    }

    http_request req = {
        .method = method,
        .path = url,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_AUTHORIZATION),
        .body = hc->body ? hc->body : "",
        .body_len = hc->len,
        .conn = c,
    };
    if (hc->body)
        hc->body[hc->len] = '\0';
    http_response resp = { .status = 500, .body = NULL };
    match->fn(match->ctx, &req, &resp);
    return http_send(c, &resp, NULL);
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
               enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    http_conn *hc = *con_cls;
    if (hc) {
        free(hc->body);
        free(hc);
        *con_cls = NULL;
    }
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    log_warn("http: %s", buf);
}

http_server *
http_start(const char *host, unsigned port, const http_route *routes,
           size_t nroutes, unsigned threads, size_t max_body, char *err,
           size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
                   | MHD_USE_EPOLL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "listen address '%s' is not an IP address", host);
        return NULL;
    }
    http_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->routes = routes;
    s->nroutes = nroutes;
    s->max_body = max_body;
    s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
                              http_dispatch, s,
                              MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads ? threads : 1),
                              MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                              MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%u (address in use?)", host, port);
        free(s);
        return NULL;
    }
    return s;
}

void
http_stop(http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->mhd);
    free(s);
}
