/*
 * ngx_http_tally_module.h -- declarations shared by the NGINX-typed parts
 * of the module: configuration (ngx_http_tally_module.c), the beacon
 * handler (ngx_http_tally_handler.c) and the per-worker spool writer and
 * salt state (ngx_http_tally_writer.c).
 */

#ifndef _NGX_HTTP_TALLY_MODULE_H_INCLUDED_
#define _NGX_HTTP_TALLY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "spool/spool.h"
#include "visitor/visitor.h"


typedef struct {
    ngx_str_t    spool;          /* NUL-terminated, absolute */
    ngx_str_t    salt_file;      /* NUL-terminated, absolute */
    size_t       segment_size;
    ngx_flag_t   collect_used;   /* some location has tally_collect */
} ngx_http_tally_main_conf_t;


typedef struct {
    size_t       max_body_size;
    ngx_flag_t   collect;        /* tally_collect in this very location */
} ngx_http_tally_loc_conf_t;


extern ngx_module_t  ngx_http_tally_module;


/* the content handler installed by tally_collect */
ngx_int_t ngx_http_tally_handler(ngx_http_request_t *r);

/*
 * Per-worker writer (one per process; static state).
 *
 * ngx_http_tally_writer_init() is called from init_process: loads the salt
 * state and creates this worker's segment.  Failures are logged and left
 * for ngx_http_tally_writer_ready() to retry; it never fails the worker.
 *
 * ngx_http_tally_writer_ready() makes sure, before a beacon is stored, that
 * the salt state is today's and a segment is open.  Returns NGX_OK, or
 * NGX_ERROR (already logged) when beacons must be answered 503.
 *
 * ngx_http_tally_writer_state() returns the worker's salt state (valid
 * after ngx_http_tally_writer_ready() returned NGX_OK; owned by the writer).
 *
 * ngx_http_tally_writer_append() writes one encoded record (len bytes, the
 * caller owns buf) with one write().  Returns NGX_OK once the record is in
 * the kernel, NGX_ERROR (logged) when it was not stored; the writer then
 * has rolled back or abandoned the segment.  Rotates the segment when it
 * reaches tally_segment_size.
 *
 * ngx_http_tally_writer_exit() finishes the segment (exit_process).
 */
void ngx_http_tally_writer_init(ngx_cycle_t *cycle,
    ngx_http_tally_main_conf_t *tmcf);
ngx_int_t ngx_http_tally_writer_ready(ngx_log_t *log);
const tv_state *ngx_http_tally_writer_state(void);
ngx_int_t ngx_http_tally_writer_append(ngx_log_t *log, const u_char *buf,
    size_t len);
void ngx_http_tally_writer_exit(ngx_log_t *log);


#endif /* _NGX_HTTP_TALLY_MODULE_H_INCLUDED_ */
