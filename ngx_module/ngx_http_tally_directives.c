/*
 * ngx_http_tally_directives.c -- the handlers of Tally's directives that
 * take more than a flag or a size: paths resolved against the prefix
 * (tally_spool, tally_salt_file, tally_geoip_db), the content handlers
 * (tally_collect, tally_status), tally_sync and the lists (tally_site,
 * tally_cors_origins, tally_skip).  The directive table, the
 * configuration structures' life cycle and the process hooks are in
 * ngx_http_tally_module.c.
 */

#include "ngx_module/ngx_http_tally_module.h"


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


char *
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


char *
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


char *
ngx_http_tally_collect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_loc_conf_t *tlcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_tally_main_conf_t  *tmcf;

    if (tlcf->collect == 1) {
        return "is duplicate";
    }
    if (tlcf->status == 1) {
        return "cannot be combined with \"tally_status\"";
    }
    tlcf->collect = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tally_handler;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tally_module);
    tmcf->collect_used = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_tally_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_loc_conf_t *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->status == 1) {
        return "is duplicate";
    }
    if (tlcf->collect == 1) {
        return "cannot be combined with \"tally_collect\"";
    }
    tlcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tally_status_handler;

    return NGX_CONF_OK;
}


/* tally_sync off | always | <interval> */
char *
ngx_http_tally_sync(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_main_conf_t *tmcf = conf;

    ngx_int_t   ms;
    ngx_str_t  *value;

    if (tmcf->sync != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        tmcf->sync = NGX_HTTP_TALLY_SYNC_OFF;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "always") == 0) {
        tmcf->sync = NGX_HTTP_TALLY_SYNC_ALWAYS;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);
    if (ms == NGX_ERROR || ms == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"tally_sync\": use "
                           "\"off\", \"always\" or an interval such as "
                           "\"1s\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    tmcf->sync = NGX_HTTP_TALLY_SYNC_INTERVAL;
    tmcf->sync_interval = (ngx_msec_t) ms;

    return NGX_CONF_OK;
}


/*
 * tally_site domain ...; (may repeat: the lists add up) and
 * tally_cors_origins origin ... | *;  Values are kept as tp_str; a lone
 * "*" for tally_cors_origins means any origin (NULL list).
 */
char *
ngx_http_tally_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char        *d;
    tp_str        *s;
    ngx_str_t     *value;
    ngx_uint_t     i, j, origins;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;
    origins = (cmd->offset == offsetof(ngx_http_tally_loc_conf_t, origins));

    if (origins && cf->args->nelts == 2 && value[1].len == 1
        && value[1].data[0] == '*')
    {
        if (*a != NGX_CONF_UNSET_PTR) {
            return "is duplicate";
        }
        *a = NULL;
        return NGX_CONF_OK;
    }

    if (*a == NULL) {
        return "conflicts with \"*\"";
    }

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 4, sizeof(tp_str));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0 || value[i].len > 255) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\"", &value[i],
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (origins && value[i].len == 1 && value[i].data[0] == '*') {
            return "takes \"*\" only alone";
        }

        d = ngx_pnalloc(cf->pool, value[i].len);
        if (d == NULL) {
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < value[i].len; j++) {
            if (value[i].data[j] <= 0x20 || value[i].data[j] == ',') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
            d[j] = ngx_tolower(value[i].data[j]);
        }

        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }
        s->ptr = (char *) d;
        s->len = value[i].len;
    }

    return NGX_CONF_OK;
}


#if (NGX_HTTP_TALLY_GEOIP)

static void
ngx_http_tally_mmdb_cleanup(void *data)
{
    MMDB_close(data);
}

#endif


char *
ngx_http_tally_geoip_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tally_main_conf_t *tmcf = conf;

#if (NGX_HTTP_TALLY_GEOIP)
    int                  rc;
    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;

    if (tmcf->geoip_db.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_tally_full_path(cf, &value[1], &tmcf->geoip_db)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    tmcf->mmdb = ngx_pcalloc(cf->pool, sizeof(MMDB_s));
    if (tmcf->mmdb == NULL) {
        return NGX_CONF_ERROR;
    }

    /* opened (mmap) here, in the master: workers share the mapping */
    rc = MMDB_open((char *) tmcf->geoip_db.data, MMDB_MODE_MMAP, tmcf->mmdb);
    if (rc != MMDB_SUCCESS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf,
                           rc == MMDB_IO_ERROR ? ngx_errno : 0,
                           "tally_geoip_db: cannot open \"%V\": %s",
                           &tmcf->geoip_db, MMDB_strerror(rc));
        tmcf->mmdb = NULL;
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        MMDB_close(tmcf->mmdb);
        return NGX_CONF_ERROR;
    }
    cln->handler = ngx_http_tally_mmdb_cleanup;
    cln->data = tmcf->mmdb;

    return NGX_CONF_OK;
#else
    (void) tmcf;
    return "is not supported: the module was built without libmaxminddb";
#endif
}
