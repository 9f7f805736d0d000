/*
 * ngx_http_tally_module.c -- Tally's NGINX module: configuration and
 * process lifecycle.  The beacon handler is in ngx_http_tally_handler.c,
 * the per-worker spool writer in ngx_http_tally_writer.c, beacon parsing
 * in tally_beacon.c.
 *
 * DIRECTIVES
 *
 *   Syntax:   tally_spool path;
 *   Default:  --
 *   Context:  http
 *
 *     The spool directory beacons are appended to.  It must exist (checked
 *     by nginx -t).  At start the master gives it to the worker user (the
 *     "user" directive) unless that user can already write to it.  Each
 *     worker appends to its own segment file seg-<time>-<pid>.tsp there.
 *
 *   Syntax:   tally_salt_file path;
 *   Default:  tally_salt_file <tally_spool>/salt;
 *   Context:  http
 *
 *     The salt state file (day + key of the visitor-id ratchet).  Created
 *     with mode 0600 from the OS random source if missing; brought forward
 *     to today at start (a broken file fails nginx -t and start) and given
 *     with "<path>.lock" to the worker user.  Workers ratchet it when the
 *     UTC day turns, so its directory must be writable by them.  Edges that
 *     share one copy of the file compute the same visitor ids.  There is
 *     deliberately no directive taking a secret inline: a secret in
 *     nginx.conf could never be forward secret.
 *
 *   Syntax:   tally_collect;
 *   Default:  --
 *   Context:  location
 *
 *     Makes the location the event endpoint: accepts Plausible Events API
 *     beacons (POST, application/json or text/plain) and Tally batches,
 *     answers 202 once the record is written, 400/405/413/415 with a JSON
 *     {"error": "..."} for bad requests, 503 with Retry-After when the
 *     spool cannot be written.  Requires tally_spool.
 *
 *   Syntax:   tally_max_body_size size;
 *   Default:  tally_max_body_size 16k;
 *   Context:  http, server, location
 *
 *     Largest accepted beacon body; larger ones get 413.  In a location
 *     with tally_collect, client_body_buffer_size is raised to this size
 *     if it is smaller, so accepted beacons are read into memory and never
 *     go through a temporary file (NGINX would log the client address
 *     when it buffers a body to a file).
 *
 *   Syntax:   tally_segment_size size;
 *   Default:  tally_segment_size 64m;
 *   Context:  http
 *
 *     A worker finishes its segment and starts a new one once the segment
 *     reaches this size.
 */

#include "ngx_module/ngx_http_tally_module.h"


static void *ngx_http_tally_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_tally_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_tally_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tally_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tally_spool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tally_salt_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tally_collect(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_tally_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_tally_init_process(ngx_cycle_t *cycle);
static void ngx_http_tally_exit_process(ngx_cycle_t *cycle);


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
     *     tmcf->collect_used = 0;
     */

    tmcf->segment_size = NGX_CONF_UNSET_SIZE;

    return tmcf;
}


/*
 * Runs at configuration time (also for nginx -t and on reload, where an
 * error keeps the old configuration): fills defaults and brings the salt
 * state file to today, creating it if missing, so that a broken file is
 * reported before any worker starts.  The master keeps no copy of the key.
 */
static char *
ngx_http_tally_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_tally_main_conf_t *tmcf = conf;

    int        flags;
    char       err[512];
    u_char    *p;
    tv_state   st;

    ngx_conf_init_size_value(tmcf->segment_size, 64 * 1024 * 1024);

    if (tmcf->segment_size < 4096) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tally_segment_size\" must be at least 4k");
        return NGX_CONF_ERROR;
    }

    if (tmcf->spool.data == NULL) {
        if (tmcf->collect_used) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"tally_collect\" requires \"tally_spool\" "
                               "in the http block");
            return NGX_CONF_ERROR;
        }
        return NGX_CONF_OK;
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

    return NGX_CONF_OK;
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
     */

    tlcf->max_body_size = NGX_CONF_UNSET_SIZE;

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


/* resolves value against the prefix into a NUL-terminated full path */
static char *
ngx_http_tally_full_path(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *out)
{
    u_char  *p;

    *out = *value;

    while (out->len > 1 && out->data[out->len - 1] == '/') {
        out->len--;
    }

    if (ngx_conf_full_name(cf->cycle, out, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* ngx_conf_full_name() leaves absolute names as they are */
    p = ngx_pnalloc(cf->pool, out->len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_memcpy(p, out->data, out->len);
    p[out->len] = '\0';
    out->data = p;

    return NGX_CONF_OK;
}


static char *
ngx_http_tally_spool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_main_conf_t *tmcf = conf;

    ngx_str_t        *value;
    ngx_file_info_t   fi;

    if (tmcf->spool.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_tally_full_path(cf, &value[1], &tmcf->spool)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(tmcf->spool.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "tally_spool: cannot use \"%V\"", &tmcf->spool);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tally_spool: \"%V\" is not a directory",
                           &tmcf->spool);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tally_salt_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_main_conf_t *tmcf = conf;

    ngx_str_t  *value;

    if (tmcf->salt_file.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "must not be empty";
    }

    return ngx_http_tally_full_path(cf, &value[1], &tmcf->salt_file);
}


static char *
ngx_http_tally_collect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_loc_conf_t *tlcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_tally_main_conf_t  *tmcf;

    if (tlcf->collect == 1) {
        return "is duplicate";
    }
    tlcf->collect = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tally_handler;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tally_module);
    tmcf->collect_used = 1;

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

    /* never fails: a worker whose init_process fails is not respawned */
    ngx_http_tally_writer_init(cycle, tmcf);

    return NGX_OK;
}


static void
ngx_http_tally_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_tally_writer_exit(cycle->log);
}
