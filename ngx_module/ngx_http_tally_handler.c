/*
 * ngx_http_tally_handler.c -- the beacon endpoint (tally_collect).
 *
 * OPTIONS -> CORS preflight.  POST -> origin, content type and size checks
 * -> tally_skip and bots (202 + X-Tally-Dropped, nothing read or stored)
 * -> read the body -> tb_parse() -> tally_site -> visitor ids, country ->
 * one spool record -> the writer: 202 at once (tally_sync off or
 * <interval>) or once the group commit holding it is on disk (always).
 * Every answer is sent by this handler itself (status, Content-Length, CORS
 * headers, JSON body for errors), never through NGINX's special-response
 * path, so keep-alive survives a rejected beacon.  Nothing is written for a
 * rejected, excluded or dropped beacon.
 */

#include "ngx_module/ngx_http_tally_module.h"
#include "ngx_module/tally_beacon.h"


/* stored User-Agent bytes at most (the visitor id hashes the whole one) */
#define NGX_HTTP_TALLY_UA_MAX  1024


static void ngx_http_tally_body_handler(ngx_http_request_t *r);


/* this worker's scratch memory for tb_parse_scratch(): grown on demand,
 * reused by every beacon (no allocation per request) */
static u_char  *ngx_http_tally_scratch;
static size_t   ngx_http_tally_scratch_cap;


static ngx_str_t  ngx_http_tally_any = ngx_string("*");
static ngx_str_t  ngx_http_tally_vary = ngx_string("Origin");
static ngx_str_t  ngx_http_tally_expose = ngx_string("Retry-After");
static ngx_str_t  ngx_http_tally_retry = ngx_string("1");


static ngx_int_t
ngx_http_tally_add_header(ngx_http_request_t *r, const char *key,
    size_t key_len, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = key_len;
    h->value = *value;

    return NGX_OK;
}

#define ngx_http_tally_header(r, key, value)                                  \
    ngx_http_tally_add_header(r, key, sizeof(key) - 1, value)


/* the request's Origin header, or NULL */
static ngx_str_t *
ngx_http_tally_origin(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

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

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "origin", 6) == 0)
        {
            return h[i].value.len ? &h[i].value : NULL;
        }
    }
}


/* 1 if tally_cors_origins lets this origin (possibly none) in */
static ngx_uint_t
ngx_http_tally_origin_ok(ngx_http_tally_loc_conf_t *tlcf, ngx_str_t *origin)
{
    if (tlcf->origins == NULL || origin == NULL) {
        return 1;
    }

    return tp_list_has(tlcf->origins->elts, tlcf->origins->nelts,
                       (char *) origin->data, origin->len);
}


/*
 * Access-Control-Allow-Origin: with tally_cors_origins * the request's
 * Origin (or * without one); with a list the Origin only if listed.
 * Whenever the origin is allowed, Access-Control-Expose-Headers lets the
 * page read Retry-After, so a tracker on another origin honours it.
 */
static ngx_int_t
ngx_http_tally_cors(ngx_http_request_t *r)
{
    ngx_str_t                  *origin;
    ngx_http_tally_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tally_module);
    origin = ngx_http_tally_origin(r);

    if (origin == NULL) {
        if (tlcf->origins != NULL) {
            return NGX_OK;
        }
        return ngx_http_tally_header(r, "Access-Control-Allow-Origin",
                                     &ngx_http_tally_any);
    }

    if (ngx_http_tally_header(r, "Vary", &ngx_http_tally_vary) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ngx_http_tally_origin_ok(tlcf, origin)) {
        return NGX_OK;
    }

    if (ngx_http_tally_header(r, "Access-Control-Expose-Headers",
                              &ngx_http_tally_expose)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_tally_header(r, "Access-Control-Allow-Origin", origin);
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


/* 202 for a beacon deliberately not stored, with X-Tally-Dropped: why */
static ngx_int_t
ngx_http_tally_send_dropped(ngx_http_request_t *r, ngx_uint_t counter,
    ngx_str_t *why)
{
    ngx_int_t  rc;

    ngx_http_tally_count(counter, 1);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_tally_header(r, "X-Tally-Dropped", why) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_tally_send_empty(r, NGX_HTTP_ACCEPTED);
}


/* An error answer with a {"error":"<msg>"} body; msg is a static string
 * that needs no JSON escaping.  Counted by status. */
static ngx_int_t
ngx_http_tally_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *msg)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    switch (status) {
    case NGX_HTTP_BAD_REQUEST:
        ngx_http_tally_count(TP_REJECTED_400, 1);
        break;
    case NGX_HTTP_FORBIDDEN:
        ngx_http_tally_count(TP_REJECTED_403, 1);
        break;
    case NGX_HTTP_NOT_ALLOWED:
        ngx_http_tally_count(TP_REJECTED_405, 1);
        break;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_http_tally_count(TP_REJECTED_413, 1);
        break;
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
        ngx_http_tally_count(TP_REJECTED_415, 1);
        break;
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        ngx_http_tally_count(TP_UNAVAILABLE, 1);
        if (ngx_http_tally_header(r, "Retry-After", &ngx_http_tally_retry)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
        break;
    }

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

    if (ngx_http_tally_header(r, "Access-Control-Allow-Methods", &methods)
        != NGX_OK
        || ngx_http_tally_header(r, "Access-Control-Allow-Headers", &headers)
           != NGX_OK
        || ngx_http_tally_header(r, "Access-Control-Max-Age", &max_age)
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
    ngx_str_t                   value;
    ngx_table_elt_t            *ct;
    ngx_http_tally_loc_conf_t  *tlcf;

    static ngx_str_t  excluded = ngx_string("excluded");
#if (NGX_HTTP_TALLY_BOTS)
    ngx_str_t        *ua;
    static ngx_str_t  bot = ngx_string("bot");
    static ngx_str_t  none = ngx_null_string;
#endif

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tally_module);

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (r->method == NGX_HTTP_OPTIONS) {
            if (!ngx_http_tally_origin_ok(tlcf, ngx_http_tally_origin(r))) {
                return ngx_http_tally_send_error(r, NGX_HTTP_FORBIDDEN,
                                                 "origin not allowed");
            }
            return ngx_http_tally_preflight(r);
        }

        if (ngx_http_tally_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_http_tally_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "method not allowed");
    }

    if (tlcf->origins != NULL
        && !ngx_http_tally_origin_ok(tlcf, ngx_http_tally_origin(r)))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_http_tally_send_error(r, NGX_HTTP_FORBIDDEN,
                                         "origin not allowed");
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

    if (tlcf->skip) {
        if (ngx_http_complex_value(r, tlcf->skip, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (tp_skip_value((char *) value.data, value.len)) {
            return ngx_http_tally_send_dropped(r, TP_EXCLUDED, &excluded);
        }
    }

#if (NGX_HTTP_TALLY_BOTS)
    if (tlcf->bots == NGX_HTTP_TALLY_BOTS_DROP) {
        ua = r->headers_in.user_agent ? &r->headers_in.user_agent->value
                                      : &none;
        if (ngx_http_tally_is_bot(ua->data, ua->len)) {
            return ngx_http_tally_send_dropped(r, TP_DROPPED_BOTS, &bot);
        }
    }
#endif

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
 * The country of the request into out[0..1]: tally_country's value when it
 * is a 2-letter code, else the tally_geoip_db lookup of the client address.
 * Returns 1 when known.
 */
static ngx_uint_t
ngx_http_tally_country(ngx_http_request_t *r, ngx_http_tally_loc_conf_t *tlcf,
    char out[2])
{
    ngx_str_t                    value;
#if (NGX_HTTP_TALLY_GEOIP)
    int                          gai_error, mmdb_error;
    MMDB_entry_data_s            data;
    MMDB_lookup_result_s         res;
    ngx_http_tally_main_conf_t  *tmcf;
#endif

    if (tlcf->country) {
        if (ngx_http_complex_value(r, tlcf->country, &value) == NGX_OK
            && tp_country((char *) value.data, value.len, out))
        {
            return 1;
        }
    }

#if (NGX_HTTP_TALLY_GEOIP)
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tally_module);

    if (tmcf->mmdb == NULL) {
        return 0;
    }

    gai_error = 0;
    mmdb_error = MMDB_SUCCESS;
    res = MMDB_lookup_sockaddr(tmcf->mmdb, r->connection->sockaddr,
                               &mmdb_error);
    (void) gai_error;

    if (mmdb_error != MMDB_SUCCESS || !res.found_entry) {
        return 0;
    }

    /* GeoLite2 / DB-IP lite: country.iso_code; ip-location-db:
     * country_code */
    if ((MMDB_get_value(&res.entry, &data, "country", "iso_code", NULL)
         == MMDB_SUCCESS && data.has_data
         && data.type == MMDB_DATA_TYPE_UTF8_STRING
         && tp_country(data.utf8_string, data.data_size, out))
        || (MMDB_get_value(&res.entry, &data, "country_code", NULL)
            == MMDB_SUCCESS && data.has_data
            && data.type == MMDB_DATA_TYPE_UTF8_STRING
            && tp_country(data.utf8_string, data.data_size, out)))
    {
        return 1;
    }
#endif

    return 0;
}


/* 1 if every event's site is allowed by tally_site (or none is set) */
static ngx_uint_t
ngx_http_tally_sites_ok(ngx_http_tally_loc_conf_t *tlcf, tb_result *res)
{
    size_t  i;

    if (tlcf->sites == NULL) {
        return 1;
    }

    for (i = 0; i < res->n; i++) {
        if (!tp_list_has(tlcf->sites->elts, tlcf->sites->nelts,
                         res->ev[i].field[SPOOL_F_SITE].ptr,
                         res->ev[i].field[SPOOL_F_SITE].len))
        {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_tally_wait_cleanup(void *data)
{
    ngx_http_tally_wait_t  *wt = data;

    /* the request is freed before its batch completed: leave the batch
     * (its record is still written, but nobody is answered) */
    if (wt->queued) {
        ngx_queue_remove(&wt->queue);
        wt->queued = 0;
    }
}


/*
 * Completes the events of a parsed beacon (receive time, user agent,
 * country, visitor id per site), encodes them as one record straight into
 * the writer's buffer and commits it.  Returns the HTTP status to answer
 * with (NGX_DONE: the group commit answers later) and sets *msg for
 * errors.
 */
static ngx_int_t
ngx_http_tally_store(ngx_http_request_t *r, ngx_http_tally_loc_conf_t *tlcf,
    tb_result *res, const char **msg)
{
    char                    country[2];
    size_t                  size, ua_len, ua_stored, i;
    u_char                  ip16[16], *buf;
    uint64_t                now_ms;
    ngx_int_t               rc;
    ngx_uint_t              has_country;
    ngx_time_t             *tp;
    const char             *ua;
    const tv_state         *st;
    ngx_pool_cleanup_t     *cln;
    ngx_http_tally_wait_t  *wt;

    rc = ngx_http_tally_writer_ready(ngx_cycle->log);
    if (rc != NGX_OK) {
        *msg = (rc == NGX_DECLINED) ? "spool full, retry later"
                                    : "spool unavailable, retry later";
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

    has_country = ngx_http_tally_country(r, tlcf, country);

    ngx_http_tally_client_ip16(r, ip16);

    for (i = 0; i < res->n; i++) {
        res->ev[i].time_ms = now_ms;

        if (i > 0
            && res->ev[i].field[SPOOL_F_SITE].len
               == res->ev[i - 1].field[SPOOL_F_SITE].len
            && ngx_memcmp(res->ev[i].field[SPOOL_F_SITE].ptr,
                          res->ev[i - 1].field[SPOOL_F_SITE].ptr,
                          res->ev[i].field[SPOOL_F_SITE].len) == 0)
        {
            res->ev[i].visitor_id = res->ev[i - 1].visitor_id;

        } else {
            res->ev[i].visitor_id = tv_visitor_id(st,
                                         res->ev[i].field[SPOOL_F_SITE].ptr,
                                         res->ev[i].field[SPOOL_F_SITE].len,
                                         ip16, ua, ua_len);
        }

        if (ua_stored) {
            res->ev[i].field[SPOOL_F_UA].ptr = ua;
            res->ev[i].field[SPOOL_F_UA].len = ua_stored;
        }

        if (has_country) {
            res->ev[i].field[SPOOL_F_COUNTRY].ptr = country;
            res->ev[i].field[SPOOL_F_COUNTRY].len = 2;
        }
    }

    ngx_explicit_memzero(ip16, sizeof(ip16));

    size = spool_record_size(res->ev, res->n);
    if (size == 0) {
        *msg = "event too large";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    wt = ngx_palloc(r->pool, sizeof(ngx_http_tally_wait_t));
    if (wt == NULL) {
        *msg = "out of memory";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }
    wt->request = r;
    wt->events = res->n;
    wt->queued = 0;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        *msg = "out of memory";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }
    cln->handler = ngx_http_tally_wait_cleanup;
    cln->data = wt;

    buf = ngx_http_tally_writer_reserve(size);
    if (buf == NULL) {
        *msg = "spool busy, retry later";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (spool_record_encode(res->ev, res->n, buf, size) != size) {
        *msg = "event too large";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    rc = ngx_http_tally_writer_commit(wt, size);

    if (rc == NGX_AGAIN) {
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        *msg = "spool unavailable, retry later";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_http_tally_count(TP_ACCEPTED_REQUESTS, 1);
    ngx_http_tally_count(TP_ACCEPTED_EVENTS, res->n);

    return NGX_HTTP_ACCEPTED;
}


static ngx_int_t
ngx_http_tally_process(ngx_http_request_t *r)
{
    size_t                      len, need;
    u_char                     *data;
    ngx_int_t                   rc, status;
    tb_result                   res;
    const char                 *msg;
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

    need = tb_scratch_size(len);
    if (need > ngx_http_tally_scratch_cap) {
        ngx_free(ngx_http_tally_scratch);
        ngx_http_tally_scratch_cap = 0;
        ngx_http_tally_scratch = ngx_alloc(need, ngx_cycle->log);
        if (ngx_http_tally_scratch != NULL) {
            ngx_http_tally_scratch_cap = need;
        }
    }

    if (tb_parse_scratch((const char *) data, len, &res,
                         ngx_http_tally_scratch, ngx_http_tally_scratch_cap,
                         &msg)
        != 0)
    {
        tb_result_free(&res);
        return ngx_http_tally_send_error(r, NGX_HTTP_BAD_REQUEST, msg);
    }

    if (!ngx_http_tally_sites_ok(tlcf, &res)) {
        tb_result_free(&res);
        return ngx_http_tally_send_error(r, NGX_HTTP_FORBIDDEN,
                                         "unknown domain");
    }

    status = ngx_http_tally_store(r, tlcf, &res, &msg);
    tb_result_free(&res);

    if (status == NGX_DONE) {
        return NGX_DONE;
    }

    if (status == NGX_HTTP_ACCEPTED) {
        return ngx_http_tally_send_empty(r, NGX_HTTP_ACCEPTED);
    }

    return ngx_http_tally_send_error(r, status, msg);
}


static void
ngx_http_tally_body_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_tally_process(r);

    if (rc == NGX_DONE) {
        return;                 /* ngx_http_tally_answer() finalizes it */
    }

    ngx_http_finalize_request(r, rc);
}


void
ngx_http_tally_answer(ngx_http_tally_wait_t *wt, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = wt->request;
    c = r->connection;

    if (rc == NGX_OK) {
        ngx_http_tally_count(TP_ACCEPTED_REQUESTS, 1);
        ngx_http_tally_count(TP_ACCEPTED_EVENTS, wt->events);
        rc = ngx_http_tally_send_empty(r, NGX_HTTP_ACCEPTED);

    } else {
        rc = ngx_http_tally_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "spool unavailable, retry later");
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
