/*
 * ngx_http_tally_status.c -- the status page (tally_status): the counters
 * of the shared zone as JSON, or as Prometheus text with
 * ?format=prometheus.
 */

#include "ngx_module/ngx_http_tally_module.h"


ngx_int_t
ngx_http_tally_status_handler(ngx_http_request_t *r)
{
    size_t                       len;
    uint64_t                     v[TP_NCOUNTERS];
    ngx_int_t                    rc;
    ngx_str_t                    format;
    ngx_buf_t                   *b;
    ngx_uint_t                   i, prometheus;
    ngx_chain_t                  out;
    ngx_http_tally_main_conf_t  *tmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    prometheus = 0;
    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            prometheus = 1;

        } else if (!(format.len == 4
                     && ngx_strncmp(format.data, "json", 4) == 0))
        {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tally_module);

    for (i = 0; i < TP_NCOUNTERS; i++) {
        v[i] = ngx_http_tally_sh ? (uint64_t) ngx_http_tally_sh->c[i] : 0;
    }

    b = ngx_create_temp_buf(r->pool, TP_STATUS_MAX);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = tp_status_format(prometheus, v, (uint64_t) tmcf->spool_max_size,
                           (char *) b->pos, TP_STATUS_MAX);
    b->last = b->pos + len;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    if (prometheus) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
