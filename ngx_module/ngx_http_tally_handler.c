/*
 * ngx_http_tally_handler.c -- the beacon endpoint (tally_collect).
 *
 * POST a beacon -> read the body -> tb_parse() -> visitor ids -> one spool
 * record -> one write() -> 202.  Every answer is sent by this handler
 * itself (status, Content-Length, CORS header), never through NGINX's
 * special-response path, so keep-alive survives a rejected beacon.
 * Nothing is written for a rejected beacon.
 */

#include "ngx_module/ngx_http_tally_module.h"
#include "ngx_module/tally_beacon.h"


/* stored User-Agent bytes at most (the visitor id hashes the whole one) */
#define NGX_HTTP_TALLY_UA_MAX  1024


static void ngx_http_tally_body_handler(ngx_http_request_t *r);


static ngx_int_t
ngx_http_tally_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_tally_find_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* Access-Control-Allow-Origin: the request's Origin, or * without one */
static ngx_int_t
ngx_http_tally_cors(ngx_http_request_t *r)
{
    ngx_str_t         any = ngx_string("*");
    ngx_str_t         vary = ngx_string("Origin");
    ngx_table_elt_t  *origin;

    origin = ngx_http_tally_find_header(r, "Origin");

    if (origin == NULL || origin->value.len == 0) {
        return ngx_http_tally_add_header(r, "Access-Control-Allow-Origin",
                                         &any);
    }

    if (ngx_http_tally_add_header(r, "Access-Control-Allow-Origin",
                                  &origin->value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_tally_add_header(r, "Vary", &vary);
}


/* A header-only answer (202, 204): no body, keep-alive kept. */
static ngx_int_t
ngx_http_tally_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    if (ngx_http_tally_cors(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_send_header(r);
}


/* An error answer with a {"error":"<msg>"} body; msg is a static string
 * that needs no JSON escaping. */
static ngx_int_t
ngx_http_tally_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *msg)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    len = sizeof("{\"error\":\"\"}\n") - 1 + ngx_strlen(msg);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }
    b->last = ngx_sprintf(b->pos, "{\"error\":\"%s\"}\n", msg);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_tally_cors(r) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_tally_preflight(ngx_http_request_t *r)
{
    ngx_str_t  methods = ngx_string("POST, OPTIONS");
    ngx_str_t  headers = ngx_string("Content-Type");
    ngx_str_t  max_age = ngx_string("86400");

    if (ngx_http_tally_add_header(r, "Access-Control-Allow-Methods", &methods)
        != NGX_OK
        || ngx_http_tally_add_header(r, "Access-Control-Allow-Headers",
                                     &headers)
           != NGX_OK
        || ngx_http_tally_add_header(r, "Access-Control-Max-Age", &max_age)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_tally_send_empty(r, NGX_HTTP_NO_CONTENT);
}


ngx_int_t
ngx_http_tally_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   allow = ngx_string("POST, OPTIONS");
    ngx_table_elt_t            *ct;
    ngx_http_tally_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tally_module);

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (r->method == NGX_HTTP_OPTIONS) {
            return ngx_http_tally_preflight(r);
        }

        if (ngx_http_tally_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_http_tally_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "method not allowed");
    }

    ct = r->headers_in.content_type;
    if (ct == NULL || !tb_content_type_ok((char *) ct->value.data,
                                          ct->value.len))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_http_tally_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                    "content type must be application/json or text/plain");
    }

    if (r->headers_in.content_length_n > (off_t) tlcf->max_body_size) {
        /* do not read a body we refuse: answer, then close the connection */
        r->keepalive = 0;
        r->lingering_close = 1;
        return ngx_http_tally_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body too large");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_tally_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * Gathers the request body into one contiguous block: the buffer itself
 * when the body is one in-memory buffer (the usual case), else a copy in
 * r->pool (several buffers, or a body NGINX wrote to a temp file because
 * it exceeded client_body_buffer_size).  Special buffers (the empty
 * last_buf of a chunked body) are skipped.  Returns NGX_OK,
 * NGX_DECLINED when the body exceeds max, or NGX_ERROR.
 */
static ngx_int_t
ngx_http_tally_body(ngx_http_request_t *r, size_t max, u_char **data,
    size_t *len)
{
    off_t         size, total;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b, *only;
    ngx_uint_t    nbufs;
    ngx_chain_t  *cl;

    *data = NULL;
    *len = 0;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    total = 0;
    nbufs = 0;
    only = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        if (ngx_buf_special(b)) {
            continue;
        }
        size = ngx_buf_size(b);
        if (size == 0) {
            continue;
        }
        total += size;
        nbufs++;
        only = b;
    }

    if (total > (off_t) max) {
        return NGX_DECLINED;
    }

    if (total == 0) {
        return NGX_OK;
    }

    if (nbufs == 1 && ngx_buf_in_memory(only)) {
        *data = only->pos;
        *len = (size_t) total;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) total);
    if (p == NULL) {
        return NGX_ERROR;
    }
    *data = p;
    *len = (size_t) total;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        if (ngx_buf_special(b)) {
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (b->in_file && b->file_last > b->file_pos) {
            size = b->file_last - b->file_pos;
            n = ngx_read_file(b->file, p, (size_t) size, b->file_pos);
            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                              "tally: cannot read the request body back "
                              "from its temporary file");
                return NGX_ERROR;
            }
            p += size;
        }
    }

    return NGX_OK;
}


/* the client address as 16 bytes (IPv4 as ::ffff:a.b.c.d) */
static void
ngx_http_tally_client_ip16(ngx_http_request_t *r, u_char ip16[16])
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        tv_ip_from_v4((u_char *) &sin->sin_addr, ip16);
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        ngx_memcpy(ip16, sin6->sin6_addr.s6_addr, 16);
        break;
#endif

    default:                                /* unix socket */
        ngx_memzero(ip16, 16);
    }
}


/*
 * Completes the events of a parsed beacon (receive time, user agent,
 * visitor id per site), encodes them as one record in r->pool and appends
 * it.  Returns the HTTP status to answer with and sets *msg for errors.
 */
static ngx_uint_t
ngx_http_tally_store(ngx_http_request_t *r, tb_result *res, const char **msg)
{
    size_t           size, ua_len, ua_stored, i;
    u_char           ip16[16], *buf;
    uint64_t         now_ms;
    ngx_time_t      *tp;
    const char      *ua;
    const tv_state  *st;

    if (ngx_http_tally_writer_ready(ngx_cycle->log) != NGX_OK) {
        *msg = "spool unavailable, retry later";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    st = ngx_http_tally_writer_state();

    tp = ngx_timeofday();
    now_ms = (uint64_t) tp->sec * 1000 + (uint64_t) tp->msec;

    ua = "";
    ua_len = 0;
    if (r->headers_in.user_agent) {
        ua = (const char *) r->headers_in.user_agent->value.data;
        ua_len = r->headers_in.user_agent->value.len;
    }

    ua_stored = ua_len;
    if (ua_stored > NGX_HTTP_TALLY_UA_MAX) {
        ua_stored = NGX_HTTP_TALLY_UA_MAX;
        while (ua_stored > 0 && ((u_char) ua[ua_stored] & 0xc0) == 0x80) {
            ua_stored--;                    /* keep UTF-8 sequences whole */
        }
    }

    ngx_http_tally_client_ip16(r, ip16);

    for (i = 0; i < res->n; i++) {
        res->ev[i].time_ms = now_ms;
        res->ev[i].visitor_id = tv_visitor_id(st,
                                     res->ev[i].field[SPOOL_F_SITE].ptr,
                                     res->ev[i].field[SPOOL_F_SITE].len,
                                     ip16, ua, ua_len);
        if (ua_stored) {
            res->ev[i].field[SPOOL_F_UA].ptr = ua;
            res->ev[i].field[SPOOL_F_UA].len = ua_stored;
        }
    }

    ngx_explicit_memzero(ip16, sizeof(ip16));

    size = spool_record_size(res->ev, res->n);
    if (size == 0) {
        *msg = "event too large";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        *msg = "out of memory";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (spool_record_encode(res->ev, res->n, buf, size) != size) {
        *msg = "event too large";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (ngx_http_tally_writer_append(ngx_cycle->log, buf, size) != NGX_OK) {
        *msg = "spool unavailable, retry later";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    return NGX_HTTP_ACCEPTED;
}


static ngx_int_t
ngx_http_tally_process(ngx_http_request_t *r)
{
    size_t                      len;
    u_char                     *data;
    ngx_int_t                   rc;
    tb_result                   res;
    ngx_uint_t                  status;
    const char                 *msg;
    ngx_str_t                   retry = ngx_string("1");
    ngx_http_tally_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tally_module);

    rc = ngx_http_tally_body(r, tlcf->max_body_size, &data, &len);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_tally_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body too large");
    }

    if (len == 0) {
        return ngx_http_tally_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "empty body");
    }

    if (tb_parse((const char *) data, len, &res, &msg) != 0) {
        tb_result_free(&res);
        return ngx_http_tally_send_error(r, NGX_HTTP_BAD_REQUEST, msg);
    }

    status = ngx_http_tally_store(r, &res, &msg);
    tb_result_free(&res);

    if (status == NGX_HTTP_ACCEPTED) {
        return ngx_http_tally_send_empty(r, NGX_HTTP_ACCEPTED);
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_tally_add_header(r, "Retry-After", &retry) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_tally_send_error(r, status, msg);
}


static void
ngx_http_tally_body_handler(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_tally_process(r));
}
