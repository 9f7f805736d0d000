/*
 * ngx_http_tally_module.h -- declarations shared by the NGINX-typed parts
 * of the module: configuration (ngx_http_tally_module.c), the beacon
 * handler (ngx_http_tally_handler.c), the per-worker spool writer and salt
 * state (ngx_http_tally_writer.c) and the status page
 * (ngx_http_tally_status.c).
 */

#ifndef _NGX_HTTP_TALLY_MODULE_H_INCLUDED_
#define _NGX_HTTP_TALLY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#if (NGX_HTTP_TALLY_GEOIP)
#include <maxminddb.h>
#endif

#include "spool/spool.h"
#include "visitor/visitor.h"
#include "ngx_module/tally_policy.h"
#include "ngx_module/tally_seg.h"


#define NGX_HTTP_TALLY_SYNC_OFF       0
#define NGX_HTTP_TALLY_SYNC_INTERVAL  1
#define NGX_HTTP_TALLY_SYNC_ALWAYS    2


typedef struct {
    ngx_str_t            spool;          /* NUL-terminated, absolute */
    ngx_str_t            salt_file;      /* NUL-terminated, absolute */
    size_t               segment_size;
    ngx_msec_t           segment_age;
    ngx_int_t            sync;           /* NGX_HTTP_TALLY_SYNC_* */
    ngx_msec_t           sync_interval;
    off_t                spool_max_size; /* 0: no limit */
    ngx_str_t            thread_pool_name;
#if (NGX_THREADS)
    ngx_thread_pool_t   *thread_pool;    /* resolved in init_process */
#endif
    ngx_shm_zone_t      *shm_zone;
    ngx_str_t            geoip_db;
#if (NGX_HTTP_TALLY_GEOIP)
    MMDB_s              *mmdb;           /* opened at configuration time */
#endif
    ngx_flag_t           collect_used;   /* some location has tally_collect */
} ngx_http_tally_main_conf_t;


typedef struct {
    size_t                      max_body_size;
    ngx_flag_t                  collect;    /* tally_collect in this location */
    ngx_flag_t                  status;     /* tally_status in this location */
    ngx_array_t                *sites;      /* of tp_str; NULL: any */
    ngx_array_t                *origins;    /* of tp_str; NULL: any ("*") */
    ngx_http_complex_value_t   *skip;
    ngx_http_complex_value_t   *country;
    ngx_uint_t                  bots;       /* NGX_HTTP_TALLY_BOTS_* */
} ngx_http_tally_loc_conf_t;

#define NGX_HTTP_TALLY_BOTS_DROP  0
#define NGX_HTTP_TALLY_BOTS_KEEP  1


/* counters in the shared zone "tally" (they survive reloads) */
typedef struct {
    ngx_atomic_t   c[TP_NCOUNTERS];
    ngx_atomic_t   scan_sec;       /* second of the last spool scan */
} ngx_http_tally_shctx_t;


extern ngx_module_t             ngx_http_tally_module;
extern ngx_http_tally_shctx_t  *ngx_http_tally_sh;


static ngx_inline void
ngx_http_tally_count(ngx_uint_t counter, ngx_atomic_int_t n)
{
    if (ngx_http_tally_sh) {
        (void) ngx_atomic_fetch_add(&ngx_http_tally_sh->c[counter], n);
    }
}


/*
 * A request waiting for the group commit (tally_sync always).  The
 * handler owns it (in r->pool, with a pool cleanup that takes it out of
 * its queue); the writer queues it and calls ngx_http_tally_answer() once
 * the batch holding its record is on disk (rc NGX_OK) or failed (NGX_ERROR).
 */
typedef struct {
    ngx_queue_t           queue;
    ngx_http_request_t   *request;
    ngx_uint_t            events;
    unsigned              queued:1;
} ngx_http_tally_wait_t;


/* directive handlers (ngx_http_tally_directives.c), NGX_CONF_OK or an
 * error string, as NGINX's set callbacks */
char *ngx_http_tally_spool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tally_salt_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_tally_collect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tally_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tally_sync(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tally_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tally_geoip_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the content handlers installed by tally_collect and tally_status */
ngx_int_t ngx_http_tally_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tally_status_handler(ngx_http_request_t *r);

/* answers a request whose batch completed (see ngx_http_tally_wait_t) */
void ngx_http_tally_answer(ngx_http_tally_wait_t *wt, ngx_int_t rc);

#if (NGX_HTTP_TALLY_BOTS)
/* 1 if the User-Agent is a bot (this worker's matcher), else 0 */
ngx_uint_t ngx_http_tally_is_bot(u_char *ua, size_t len);
#endif

/*
 * Per-worker writer (one per process; static state).
 *
 * ngx_http_tally_writer_init() is called from init_process: loads the salt
 * state, opens this worker's segment (tally_sync off and <interval>) and
 * starts the timers.  Failures are logged and left for
 * ngx_http_tally_writer_ready() to retry; it never fails the worker.
 *
 * ngx_http_tally_writer_ready() makes sure, before a beacon is stored, that
 * the salt state is today's and the spool is below tally_spool_max_size.
 * Returns NGX_OK; NGX_DECLINED when the spool is full; NGX_ERROR (logged)
 * when the spool cannot be used.  Either failure is answered 503.
 *
 * ngx_http_tally_writer_state() returns the worker's salt state (valid
 * after ngx_http_tally_writer_ready() returned NGX_OK; owned by the writer).
 *
 * ngx_http_tally_writer_reserve() returns room for one record of len bytes
 * at the end of the writer's pending batch (NULL when that batch is
 * already too large); the caller encodes the record there and then calls
 * ngx_http_tally_writer_commit() with the same len before anything else
 * can run.  Commit queues wt and returns NGX_AGAIN: the request is
 * answered through ngx_http_tally_answer() -- with tally_sync off or
 * <interval> once the one write() of every record of this event-loop
 * round returned (a posted event), with always once the group commit
 * holding it was fdatasync()ed.
 *
 * ngx_http_tally_writer_exit() syncs and finishes the segment.
 */
void ngx_http_tally_writer_init(ngx_cycle_t *cycle,
    ngx_http_tally_main_conf_t *tmcf);
ngx_int_t ngx_http_tally_writer_ready(ngx_log_t *log);
const tv_state *ngx_http_tally_writer_state(void);
u_char *ngx_http_tally_writer_reserve(size_t len);
ngx_int_t ngx_http_tally_writer_commit(ngx_http_tally_wait_t *wt,
    size_t len);
ngx_uint_t ngx_http_tally_writer_group_commit(void);
void ngx_http_tally_writer_exit(ngx_log_t *log);


#endif /* _NGX_HTTP_TALLY_MODULE_H_INCLUDED_ */
