/*
 * ngx_http_tally_writer.c -- the per-worker spool writer and salt state.
 *
 * Each worker process owns one open segment (named after its pid) and one
 * copy of the day's salt state.  Nothing here is shared between workers
 * except through files: the segments are per pid, and the salt state file
 * is only replaced under its flock() by tv_state_sync().
 *
 * Log lines go to the cycle's log, never to a request's log, so that no
 * client address ("client: ..." context) is ever written by Tally.
 */

#include "ngx_module/ngx_http_tally_module.h"


typedef struct {
    ngx_http_tally_main_conf_t  *conf;
    int                          fd;
    char                         name[SPOOL_NAME_MAX];
    off_t                        size;
    uint64_t                     last_created_us;
    tv_state                     st;
    ngx_uint_t                   salt_ok;
    time_t                       last_alert;
} ngx_http_tally_writer_t;


static ngx_http_tally_writer_t  ngx_http_tally_w = { NULL, -1, "", 0, 0,
                                                     { 0, {0}, {0} }, 0, 0 };


/* at most one alert a second for a condition repeated on every request */
static ngx_uint_t
ngx_http_tally_writer_may_alert(void)
{
    if (ngx_http_tally_w.last_alert == ngx_time()) {
        return 0;
    }
    ngx_http_tally_w.last_alert = ngx_time();
    return 1;
}


/* Brings the salt state to `today`.  If the state file cannot be synced
 * but a state is loaded, the key is ratcheted in memory (ids stay right,
 * the file stays behind) and the failure is logged. */
static ngx_int_t
ngx_http_tally_writer_salt(ngx_log_t *log, uint32_t today)
{
    int        flags;
    char       err[512];
    uint32_t   steps;
    tv_state   prev;

    prev = ngx_http_tally_w.st;
    flags = 0;

    if (tv_state_sync((char *) ngx_http_tally_w.conf->salt_file.data, today,
                      &ngx_http_tally_w.st, &flags, err, sizeof(err))
        == 0)
    {
        tv_state_wipe(&prev);
        ngx_http_tally_w.salt_ok = 1;

        if (flags & TV_SYNC_CLOCKBACK) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "tally: clock is behind the salt state file \"%V\"; "
                          "keeping its day", &ngx_http_tally_w.conf->salt_file);
        }
        return NGX_OK;
    }

    if (ngx_http_tally_w.salt_ok && prev.day < today
        && today - prev.day <= TV_SYNC_MAX_STEPS)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "tally: %s; ratcheting the salt in memory only", err);

        for (steps = today - prev.day; steps; steps--) {
            tv_ratchet_step(prev.key);
        }
        prev.day = today;
        tv_state_derive(&prev);
        ngx_http_tally_w.st = prev;
        tv_state_wipe(&prev);
        return NGX_OK;
    }

    tv_state_wipe(&prev);
    ngx_http_tally_w.salt_ok = 0;

    if (ngx_http_tally_writer_may_alert()) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "tally: %s", err);
    }
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_tally_writer_open(ngx_log_t *log)
{
    int              fd;
    uint64_t         us;
    struct timeval   tv;

    ngx_gettimeofday(&tv);
    us = (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec;
    if (us <= ngx_http_tally_w.last_created_us) {
        us = ngx_http_tally_w.last_created_us + 1;
    }

    fd = spool_segment_create((char *) ngx_http_tally_w.conf->spool.data,
                              (uint32_t) ngx_pid, us, 1,
                              ngx_http_tally_w.name);
    if (fd == -1) {
        if (ngx_http_tally_writer_may_alert()) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "tally: cannot create a spool segment in \"%V\"",
                          &ngx_http_tally_w.conf->spool);
        }
        return NGX_ERROR;
    }

    ngx_http_tally_w.fd = fd;
    ngx_http_tally_w.size = SPOOL_SEG_HDR_SIZE;
    ngx_http_tally_w.last_created_us = us;

    ngx_log_error(NGX_LOG_INFO, log, 0, "tally: writing spool segment \"%s\"",
                  ngx_http_tally_w.name);
    return NGX_OK;
}


/* closes the current segment and marks it finished */
static void
ngx_http_tally_writer_close(ngx_log_t *log)
{
    if (ngx_http_tally_w.fd == -1) {
        return;
    }

    if (close(ngx_http_tally_w.fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "tally: close() of spool segment \"%s\" failed",
                      ngx_http_tally_w.name);
    }
    ngx_http_tally_w.fd = -1;

    if (spool_segment_finish((char *) ngx_http_tally_w.conf->spool.data,
                             ngx_http_tally_w.name, 1)
        != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "tally: cannot mark spool segment \"%s\" finished",
                      ngx_http_tally_w.name);
    }
}


void
ngx_http_tally_writer_init(ngx_cycle_t *cycle,
    ngx_http_tally_main_conf_t *tmcf)
{
    ngx_http_tally_w.conf = tmcf;
    ngx_http_tally_w.fd = -1;
    ngx_http_tally_w.salt_ok = 0;

    if (tv_init() != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "tally: libsodium failed to initialise");
        return;
    }

    (void) ngx_http_tally_writer_salt(cycle->log, tv_day_of(ngx_time()));
    (void) ngx_http_tally_writer_open(cycle->log);
}


ngx_int_t
ngx_http_tally_writer_ready(ngx_log_t *log)
{
    uint32_t  today;

    if (ngx_http_tally_w.conf == NULL) {
        return NGX_ERROR;
    }

    today = tv_day_of(ngx_time());

    if (!ngx_http_tally_w.salt_ok || today > ngx_http_tally_w.st.day) {
        if (ngx_http_tally_writer_salt(log, today) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_tally_w.fd == -1) {
        return ngx_http_tally_writer_open(log);
    }

    return NGX_OK;
}


const tv_state *
ngx_http_tally_writer_state(void)
{
    return &ngx_http_tally_w.st;
}


ngx_int_t
ngx_http_tally_writer_append(ngx_log_t *log, const u_char *buf, size_t len)
{
    int  truncated_ok;

    if (ngx_http_tally_w.fd == -1) {
        return NGX_ERROR;
    }

    truncated_ok = 0;

    if (spool_segment_append(ngx_http_tally_w.fd, buf, len, &truncated_ok)
        != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "tally: write to spool segment \"%s\" failed%s",
                      ngx_http_tally_w.name,
                      truncated_ok ? "" : ", rollback failed: abandoning it");

        if (!truncated_ok) {
            ngx_http_tally_writer_close(log);
            (void) ngx_http_tally_writer_open(log);
        }
        return NGX_ERROR;
    }

    ngx_http_tally_w.size += len;

    if ((size_t) ngx_http_tally_w.size >= ngx_http_tally_w.conf->segment_size)
    {
        ngx_http_tally_writer_close(log);
        (void) ngx_http_tally_writer_open(log);
    }

    return NGX_OK;
}


void
ngx_http_tally_writer_exit(ngx_log_t *log)
{
    ngx_http_tally_writer_close(log);
    tv_state_wipe(&ngx_http_tally_w.st);
    ngx_http_tally_w.salt_ok = 0;
}
