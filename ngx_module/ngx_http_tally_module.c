/*
 * ngx_http_tally_module.c -- Tally's NGINX module: configuration, the
 * shared counters zone and the process lifecycle.  The beacon handler is
 * in ngx_http_tally_handler.c, the per-worker spool writer in
 * ngx_http_tally_writer.c, the status page in ngx_http_tally_status.c,
 * the handlers of the directives that take more than a flag or a size in
 * ngx_http_tally_directives.c, beacon parsing in tally_beacon.c.
 *
 * DIRECTIVES (documented for users in README.md, "Directives")
 *
 *   http:                  tally_spool, tally_salt_file, tally_segment_size,
 *                          tally_segment_age, tally_sync, tally_thread_pool,
 *                          tally_spool_max_size, tally_geoip_db
 *   http/server/location:  tally_max_body_size, tally_site,
 *                          tally_cors_origins, tally_bots, tally_country,
 *                          tally_skip
 *   location:              tally_collect, tally_status
 *
 * Everything that can be checked is checked at configuration time (also
 * by nginx -t and on reload, where an error keeps the old configuration):
 * the spool directory, the salt state file, the thread pool, the GeoIP
 * database.  init_process never fails: a worker whose init_process fails
 * is not respawned.
 */

#include "ngx_module/ngx_http_tally_module.h"

#if (NGX_HTTP_TALLY_BOTS)
#include "bots/bots.h"
#endif


static void *ngx_http_tally_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_tally_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_tally_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tally_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_tally_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_tally_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_tally_init_process(ngx_cycle_t *cycle);
static void ngx_http_tally_exit_process(ngx_cycle_t *cycle);


ngx_http_tally_shctx_t  *ngx_http_tally_sh;

#if (NGX_HTTP_TALLY_BOTS)
static bot_matcher      *ngx_http_tally_bots;
#endif


static ngx_conf_enum_t  ngx_http_tally_bots_modes[] = {
    { ngx_string("drop"), NGX_HTTP_TALLY_BOTS_DROP },
    { ngx_string("keep"), NGX_HTTP_TALLY_BOTS_KEEP },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_tally_commands[] = {

    { ngx_string("tally_spool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_tally_spool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tally_salt_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_tally_salt_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tally_collect"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tally_collect,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tally_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tally_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tally_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tally_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("tally_segment_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tally_main_conf_t, segment_size),
      NULL },

    { ngx_string("tally_segment_age"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tally_main_conf_t, segment_age),
      NULL },

    { ngx_string("tally_sync"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_tally_sync,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tally_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tally_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("tally_spool_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tally_main_conf_t, spool_max_size),
      NULL },

    { ngx_string("tally_geoip_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_tally_geoip_db,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tally_site"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tally_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tally_loc_conf_t, sites),
      NULL },

    { ngx_string("tally_cors_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tally_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tally_loc_conf_t, origins),
      NULL },

    { ngx_string("tally_skip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tally_loc_conf_t, skip),
      NULL },

    { ngx_string("tally_country"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tally_loc_conf_t, country),
      NULL },

    { ngx_string("tally_bots"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tally_loc_conf_t, bots),
      &ngx_http_tally_bots_modes },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tally_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_tally_create_main_conf,       /* create main configuration */
    ngx_http_tally_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tally_create_loc_conf,        /* create location configuration */
    ngx_http_tally_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_tally_module = {
    NGX_MODULE_V1,
    &ngx_http_tally_module_ctx,            /* module context */
    ngx_http_tally_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_tally_init_module,            /* init module */
    ngx_http_tally_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_tally_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_tally_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_tally_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tally_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tmcf->spool = { 0, NULL };
     *     tmcf->salt_file = { 0, NULL };
     *     tmcf->thread_pool_name = { 0, NULL };
     *     tmcf->geoip_db = { 0, NULL };
     *     tmcf->mmdb = NULL;
     *     tmcf->collect_used = 0;
     */

    tmcf->segment_size = NGX_CONF_UNSET_SIZE;
    tmcf->segment_age = NGX_CONF_UNSET_MSEC;
    tmcf->sync = NGX_CONF_UNSET;
    tmcf->sync_interval = NGX_CONF_UNSET_MSEC;
    tmcf->spool_max_size = NGX_CONF_UNSET;

    return tmcf;
}


/*
 * Fills defaults, adds the counters zone, references the thread pool and
 * brings the salt state file to today, creating it if missing, so that a
 * broken file is reported before any worker starts.  The master keeps no
 * copy of the key.
 */
static char *
ngx_http_tally_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_tally_main_conf_t *tmcf = conf;

    int              flags;
    char             err[512];
    u_char          *p;
    tv_state         st;
    ngx_str_t        zone = ngx_string("tally");
    ngx_file_info_t  fi;

    ngx_conf_init_size_value(tmcf->segment_size, 64 * 1024 * 1024);
    ngx_conf_init_msec_value(tmcf->segment_age, 3600 * 1000);
    ngx_conf_init_value(tmcf->sync, NGX_HTTP_TALLY_SYNC_OFF);
    ngx_conf_init_msec_value(tmcf->sync_interval, 0);
    if (tmcf->spool_max_size == NGX_CONF_UNSET) {
        tmcf->spool_max_size = (off_t) 1024 * 1024 * 1024;
    }

    if (tmcf->thread_pool_name.data == NULL) {
        ngx_str_set(&tmcf->thread_pool_name, "default");
    }

    if (tmcf->segment_size < 4096) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tally_segment_size\" must be at least 4k");
        return NGX_CONF_ERROR;
    }

    tmcf->shm_zone = ngx_shared_memory_add(cf, &zone, 8 * ngx_pagesize,
                                           &ngx_http_tally_module);
    if (tmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }
    tmcf->shm_zone->init = ngx_http_tally_init_zone;

    if (tmcf->spool.data == NULL) {
        if (tmcf->collect_used) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"tally_collect\" requires \"tally_spool\" "
                               "in the http block");
            return NGX_CONF_ERROR;
        }
        return NGX_CONF_OK;
    }

    if (tmcf->sync != NGX_HTTP_TALLY_SYNC_OFF && tmcf->collect_used) {
#if (NGX_THREADS)
        /* an undeclared pool other than "default" fails the configuration
         * ("unknown thread pool") once the whole file is read */
        if (ngx_thread_pool_add(cf, &tmcf->thread_pool_name) == NULL) {
            return NGX_CONF_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tally_sync\" other than \"off\" requires "
                           "NGINX built --with-threads");
        return NGX_CONF_ERROR;
#endif
    }

    if (tmcf->salt_file.data == NULL) {
        tmcf->salt_file.len = tmcf->spool.len + sizeof("/salt") - 1;
        p = ngx_pnalloc(cf->pool, tmcf->salt_file.len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }
        ngx_sprintf(p, "%V/salt%Z", &tmcf->spool);
        tmcf->salt_file.data = p;
    }

    if (tv_init() != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tally: libsodium failed to initialise");
        return NGX_CONF_ERROR;
    }

    flags = 0;
    if (tv_state_sync((char *) tmcf->salt_file.data, tv_day_of(ngx_time()),
                      &st, &flags, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "tally_salt_file: %s", err);
        return NGX_CONF_ERROR;
    }
    tv_state_wipe(&st);

    if (flags & TV_SYNC_CREATED) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "tally: created salt state file \"%V\"",
                           &tmcf->salt_file);
    }

    /* whoever reads today's key can recompute today's visitor ids from
     * an IP address (docs/security.md) */
    if (ngx_file_info(tmcf->salt_file.data, &fi) != NGX_FILE_ERROR
        && (ngx_file_access(&fi) & 077))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "tally: salt state file \"%V\" is accessible by "
                           "other users (mode 0%ui%ui%ui), who could "
                           "recompute today's visitor ids: chmod 600 it",
                           &tmcf->salt_file,
                           (ngx_uint_t) (ngx_file_access(&fi) >> 6) & 7,
                           (ngx_uint_t) (ngx_file_access(&fi) >> 3) & 7,
                           (ngx_uint_t) ngx_file_access(&fi) & 7);
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tally_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t         *shpool;
    ngx_http_tally_shctx_t  *sh;

    if (data) {                          /* reload: keep the counters */
        shm_zone->data = data;
        ngx_http_tally_sh = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_tally_sh = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_tally_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;
    ngx_http_tally_sh = sh;

    return NGX_OK;
}


static void *
ngx_http_tally_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tally_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tally_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tlcf->collect = 0;
     *     tlcf->status = 0;
     */

    tlcf->max_body_size = NGX_CONF_UNSET_SIZE;
    tlcf->sites = NGX_CONF_UNSET_PTR;
    tlcf->origins = NGX_CONF_UNSET_PTR;
    tlcf->skip = NGX_CONF_UNSET_PTR;
    tlcf->country = NGX_CONF_UNSET_PTR;
    tlcf->bots = NGX_CONF_UNSET_UINT;

    return tlcf;
}


static char *
ngx_http_tally_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tally_loc_conf_t *prev = parent;
    ngx_http_tally_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              16 * 1024);
    ngx_conf_merge_ptr_value(conf->sites, prev->sites, NULL);
    ngx_conf_merge_ptr_value(conf->origins, prev->origins, NULL);
    ngx_conf_merge_ptr_value(conf->skip, prev->skip, NULL);
    ngx_conf_merge_ptr_value(conf->country, prev->country, NULL);
    ngx_conf_merge_uint_value(conf->bots, prev->bots,
                              NGX_HTTP_TALLY_BOTS_DROP);

    if (conf->max_body_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tally_max_body_size\" must not be zero");
        return NGX_CONF_ERROR;
    }

    /* not inherited: the handler belongs to this location only */
    if (conf->collect != 1) {
        return NGX_CONF_OK;
    }

    /*
     * The core module's configuration is already merged (it comes first):
     * make the body buffer hold any accepted beacon.
     */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    if (clcf->client_body_buffer_size < conf->max_body_size) {
        clcf->client_body_buffer_size = conf->max_body_size;
    }

    return NGX_CONF_OK;
}


/* 1 if uid:gid may write to a file or directory with these stats */
static ngx_uint_t
ngx_http_tally_writable_by(ngx_file_info_t *fi, ngx_uid_t uid, ngx_gid_t gid)
{
    if (fi->st_uid == uid) {
        return (fi->st_mode & S_IWUSR) != 0;
    }
    if (fi->st_gid == gid) {
        return (fi->st_mode & S_IWGRP) != 0;
    }
    return (fi->st_mode & S_IWOTH) != 0;
}


/*
 * Runs in the master (as root when started by root) after the
 * configuration is accepted: gives the spool directory and the salt files
 * to the worker user.  A failure stops a start; during a reload (the old
 * workers keep running) it is only logged, since exiting would take the
 * running server down.
 */
static ngx_int_t
ngx_http_tally_init_module(ngx_cycle_t *cycle)
{
    char                         err[512];
    ngx_core_conf_t             *ccf;
    ngx_file_info_t              fi;
    ngx_http_tally_main_conf_t  *tmcf;

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;                   /* no http block */
    }

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tally_module);
    if (tmcf == NULL || tmcf->spool.data == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() != 0 || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        return NGX_OK;                   /* workers run as we do */
    }

    if (ngx_file_info(tmcf->spool.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "tally_spool: cannot use \"%V\"", &tmcf->spool);
        goto failed;
    }

    if (!ngx_http_tally_writable_by(&fi, ccf->user, ccf->group)) {
        if (chown((char *) tmcf->spool.data, ccf->user, ccf->group) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "tally_spool: chown(\"%V\") failed", &tmcf->spool);
            goto failed;
        }
        if (!(fi.st_mode & S_IWUSR)
            && chmod((char *) tmcf->spool.data, fi.st_mode | S_IRWXU) == -1)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "tally_spool: chmod(\"%V\") failed", &tmcf->spool);
            goto failed;
        }
    }

    if (tv_state_chown((char *) tmcf->salt_file.data, ccf->user, ccf->group,
                       err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "tally_salt_file: %s",
                      err);
        goto failed;
    }

    return NGX_OK;

failed:

    return ngx_process == NGX_PROCESS_MASTER ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_tally_init_process(ngx_cycle_t *cycle)
{
    ngx_http_tally_main_conf_t  *tmcf;
#if (NGX_HTTP_TALLY_BOTS)
    char                         err[256];
#endif

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;
    }

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tally_module);
    if (tmcf == NULL || tmcf->spool.data == NULL || !tmcf->collect_used) {
        return NGX_OK;
    }

#if (NGX_THREADS)
    if (tmcf->sync != NGX_HTTP_TALLY_SYNC_OFF) {
        tmcf->thread_pool = ngx_thread_pool_get(cycle,
                                                &tmcf->thread_pool_name);
        if (tmcf->thread_pool == NULL) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "tally: thread pool \"%V\" not found",
                          &tmcf->thread_pool_name);
            return NGX_OK;               /* every beacon gets 503 */
        }
    }
#endif

#if (NGX_HTTP_TALLY_BOTS)
    ngx_http_tally_bots = bot_matcher_new(err, sizeof(err));
    if (ngx_http_tally_bots == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "tally: cannot build the bot matcher: %s; bots are "
                      "not filtered", err);
    }
#endif

    /* never fails: a worker whose init_process fails is not respawned */
    ngx_http_tally_writer_init(cycle, tmcf);

    return NGX_OK;
}


#if (NGX_HTTP_TALLY_BOTS)

ngx_uint_t
ngx_http_tally_is_bot(u_char *ua, size_t len)
{
    if (ngx_http_tally_bots == NULL) {
        return 0;
    }

    return bot_is_bot(ngx_http_tally_bots, (const char *) ua, len) ? 1 : 0;
}

#endif


static void
ngx_http_tally_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_tally_writer_exit(cycle->log);

#if (NGX_HTTP_TALLY_BOTS)
    bot_matcher_free(ngx_http_tally_bots);
    ngx_http_tally_bots = NULL;
#endif
}
