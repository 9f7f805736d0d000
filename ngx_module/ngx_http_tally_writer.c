/*
 * ngx_http_tally_writer.c -- the per-worker spool writer and salt state.
 *
 * Each worker process owns one open segment (named after its pid, see
 * tally_seg.h) and one copy of the day's salt state.  Nothing here is
 * shared between workers except through files and the counters in the
 * shared zone: the segments are per pid, and the salt state file is only
 * replaced under its flock() by tv_state_sync().
 *
 * Sync policies (tally_sync):
 *
 *   off         records are written with one write() in the event loop and
 *               acknowledged once it returned;
 *   <interval>  the same, and a timer hands an fdatasync() of a dup() of
 *               the segment's fd to the thread pool at most that often;
 *   always      group commit: records join a pending batch; one task per
 *               worker writes a batch and fdatasync()s it in the thread
 *               pool; its completion answers the batch's requests and posts
 *               the next batch (which filled up meanwhile).  While a task
 *               is in flight the segment belongs to the thread.
 *
 * Log lines go to the cycle's log, never to a request's log, so that no
 * client address ("client: ..." context) is ever written by Tally.
 */

#include "ngx_module/ngx_http_tally_module.h"

#include <dirent.h>


/* a batch waiting for the disk grows at most this large, then 503 */
#define NGX_HTTP_TALLY_BATCH_MAX   (8 * 1024 * 1024)

/* the spool directory is scanned (by one worker) at most this often */
#define NGX_HTTP_TALLY_TICK        1000


typedef struct {
    u_char                      *data;
    size_t                       len;
    size_t                       cap;
} ngx_http_tally_buf_t;


#if (NGX_THREADS)

typedef struct {
    tally_seg                   *seg;
    u_char                      *data;
    size_t                       len;
    int                          rc;
} ngx_http_tally_batch_ctx_t;


typedef struct {
    int                          fd;
    uint64_t                     created_us;
    int                          err;
} ngx_http_tally_sync_ctx_t;

#endif


typedef struct {
    ngx_http_tally_main_conf_t  *conf;
    ngx_log_t                   *log;
    tally_seg                    seg;
    tv_state                     st;
    ngx_uint_t                   salt_ok;
    time_t                       last_alert;

    ngx_http_tally_buf_t         pending;   /* records not yet written */
    ngx_http_tally_buf_t         flight;    /* the batch being written */
    ngx_queue_t                  waiting;   /* requests of pending */
    ngx_queue_t                  flying;    /* requests of flight */
    ngx_uint_t                   busy;      /* batch task in flight */

    ngx_uint_t                   dirty;     /* written since last sync */
    ngx_uint_t                   sync_busy; /* sync task in flight */

#if (NGX_THREADS)
    ngx_thread_task_t           *batch_task;
    ngx_thread_task_t           *sync_task;
#endif

    ngx_event_t                  flush;     /* posted: write pending (off) */
    ngx_event_t                  guard;     /* non-cancelable, while busy */
    ngx_event_t                  tick;      /* scan, idle age rotation */
    ngx_event_t                  sync_ev;   /* tally_sync <interval> */
} ngx_http_tally_writer_t;


static ngx_http_tally_writer_t  ngx_http_tally_w;


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


/* logs what the segment functions reported and clears it */
static void
ngx_http_tally_writer_report(ngx_log_t *log, ngx_uint_t always)
{
    tally_seg  *s = &ngx_http_tally_w.seg;

    if (s->opened) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "tally: writing spool segment \"%s\"", s->name);
        s->opened = 0;
    }

    if (s->what == NULL) {
        return;
    }

    ngx_http_tally_count(TP_WRITE_ERRORS, 1);

    if (always || ngx_http_tally_writer_may_alert()) {
        if (ngx_strcmp(s->what, "create") == 0) {
            ngx_log_error(NGX_LOG_ALERT, log, s->err,
                          "tally: cannot create a spool segment in \"%V\"",
                          &ngx_http_tally_w.conf->spool);
        } else {
            ngx_log_error(NGX_LOG_ALERT, log, s->err,
                          "tally: %s of spool segment \"%s\" failed%s",
                          s->what, s->err_name,
                          s->fd == -1 ? "; starting a new segment" : "");
        }
    }

    s->what = NULL;
    s->err = 0;
}


/*
 * TEST SEAM -- never set in production.  Seconds added to the clock when
 * the worker computes today's UTC day for the salt ratchet (nothing else:
 * spool record times are not shifted), from the environment variable
 * TALLY_TEST_CLOCK_OFFSET (a signed decimal), read once at worker start.
 * NGINX clears the environment of its workers: the variable reaches them
 * only through the main-context directive "env TALLY_TEST_CLOCK_OFFSET;"
 * (or "env TALLY_TEST_CLOCK_OFFSET=86400;").  The master's own check of
 * the state file at configuration time uses the real clock.  Tests use
 * it to cross midnight (tests/ngx_module/test_ratchet_edge.py).
 */
static time_t  ngx_http_tally_clock_offset;


static void
ngx_http_tally_writer_clock_seam(ngx_log_t *log)
{
    char       *v, *end;
    long long   n;

    ngx_http_tally_clock_offset = 0;

    v = getenv("TALLY_TEST_CLOCK_OFFSET");
    if (v == NULL || *v == '\0') {
        return;
    }

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < -(1LL << 40) || n > (1LL << 40)) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "tally: ignoring invalid TALLY_TEST_CLOCK_OFFSET \"%s\"",
                      v);
        return;
    }

    ngx_http_tally_clock_offset = (time_t) n;
    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "tally: TALLY_TEST_CLOCK_OFFSET=%T shifts the salt day "
                  "(a test seam: never set it in production)",
                  ngx_http_tally_clock_offset);
}


/* Today's UTC day for the salt ratchet (with the test seam's offset). */
static uint32_t
ngx_http_tally_writer_today(void)
{
    return tv_day_of((int64_t) ngx_time()
                     + (int64_t) ngx_http_tally_clock_offset);
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


static uint64_t
ngx_http_tally_now_us(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();
    return (uint64_t) tp->sec * 1000000 + (uint64_t) tp->msec * 1000;
}


/* grows b to hold at least need bytes; NGX_OK or NGX_ERROR */
static ngx_int_t
ngx_http_tally_buf_reserve(ngx_http_tally_buf_t *b, size_t need)
{
    size_t   cap;
    u_char  *p;

    if (need <= b->cap) {
        return NGX_OK;
    }

    cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        cap *= 2;
    }

    p = ngx_alloc(cap, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (b->len) {
        ngx_memcpy(p, b->data, b->len);
    }
    ngx_free(b->data);
    b->data = p;
    b->cap = cap;

    return NGX_OK;
}


/* ---- the spool backlog: one worker scans the directory each second ---- */

static void
ngx_http_tally_writer_scan(ngx_log_t *log)
{
    DIR                     *dir;
    time_t                   now;
    uint64_t                 total;
    struct stat              st;
    struct dirent           *de;
    ngx_atomic_uint_t        last;
    ngx_http_tally_shctx_t  *sh = ngx_http_tally_sh;

    if (sh == NULL) {
        return;
    }

    now = ngx_time();
    last = sh->scan_sec;

    if ((time_t) last >= now
        || !ngx_atomic_cmp_set(&sh->scan_sec, last, (ngx_atomic_uint_t) now))
    {
        return;                          /* another worker does it */
    }

    dir = opendir((char *) ngx_http_tally_w.conf->spool.data);
    if (dir == NULL) {
        return;
    }

    total = 0;

    while ((de = readdir(dir)) != NULL) {
        if (!spool_segment_name_valid(de->d_name)) {
            continue;
        }
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            total += (uint64_t) st.st_size;
        }
    }

    closedir(dir);

    sh->c[TP_SPOOL_BYTES] = (ngx_atomic_uint_t) total;
}


/* ---- group commit (tally_sync always) --------------------------------- */

#if (NGX_THREADS)

static void ngx_http_tally_batch_post(void);


/* runs in a thread of the pool: the segment belongs to it meanwhile */
static void
ngx_http_tally_batch_thread(void *data, ngx_log_t *log)
{
    ngx_http_tally_batch_ctx_t *ctx = data;

    uint64_t    now;
    tally_seg  *s = ctx->seg;

    now = tally_seg_now_us();

    if (tally_seg_due(s, now)) {
        (void) tally_seg_close(s);
    }

    if (ctx->len == 0) {
        ctx->rc = 0;
        return;
    }

    if (s->fd == -1 && tally_seg_open(s) != 0) {
        ctx->rc = -1;
        return;
    }

    if (tally_seg_append(s, ctx->data, ctx->len) != 0) {
        ctx->rc = -1;
        return;
    }

    ctx->rc = tally_seg_sync(s);
}


/*
 * The completion, back in the event loop.  The next batch (the records
 * that came in meanwhile) goes to the thread first, then this batch's
 * requests are answered: sending those answers is the worker's largest
 * share of a round, and the disk need not wait for it.  The order of the
 * records on disk is unchanged (the next batch is written only now), and
 * a request is still answered only once its own batch was synced.
 */
static void
ngx_http_tally_batch_done(ngx_event_t *ev)
{
    ngx_int_t                    rc;
    ngx_queue_t                 *q, done;
    ngx_http_tally_wait_t       *wt;
    ngx_http_tally_batch_ctx_t  *ctx;

    ctx = ngx_http_tally_w.batch_task->ctx;

    if (ngx_http_tally_w.guard.timer_set) {
        ngx_del_timer(&ngx_http_tally_w.guard);
    }

    ngx_http_tally_writer_report(ngx_http_tally_w.log, 1);

    if (ctx->len) {
        if (ctx->rc == 0) {
            ngx_http_tally_count(TP_BYTES_WRITTEN, ctx->len);
            ngx_http_tally_count(TP_SPOOL_BYTES, ctx->len);
            ngx_http_tally_count(TP_SYNCS, 1);
        }
    }

    /* ctx is reused by the next batch: nothing is read from it below */
    rc = (ctx->rc == 0) ? NGX_OK : NGX_ERROR;

    ngx_queue_init(&done);
    if (!ngx_queue_empty(&ngx_http_tally_w.flying)) {
        ngx_queue_add(&done, &ngx_http_tally_w.flying);
        ngx_queue_init(&ngx_http_tally_w.flying);
    }

    ngx_http_tally_w.flight.len = 0;
    ngx_http_tally_w.busy = 0;

    if (ngx_http_tally_w.pending.len) {
        ngx_http_tally_batch_post();
    }

    /* records of requests answered now join the batch after the next */

    while (!ngx_queue_empty(&done)) {
        q = ngx_queue_head(&done);
        ngx_queue_remove(q);
        wt = ngx_queue_data(q, ngx_http_tally_wait_t, queue);
        wt->queued = 0;
        ngx_http_tally_answer(wt, rc);
    }
}


static void
ngx_http_tally_guard_handler(ngx_event_t *ev)
{
    /* keeps a gracefully exiting worker alive while a batch is on its way
     * to the disk; the completion deletes it */
    if (ngx_http_tally_w.busy) {
        ngx_add_timer(ev, NGX_HTTP_TALLY_TICK);
    }
}


/* posts the pending batch (possibly empty: only rotates a due segment) */
static void
ngx_http_tally_batch_post(void)
{
    ngx_queue_t                 *q;
    ngx_http_tally_buf_t         b;
    ngx_http_tally_wait_t       *wt;
    ngx_http_tally_batch_ctx_t  *ctx;

    b = ngx_http_tally_w.flight;
    ngx_http_tally_w.flight = ngx_http_tally_w.pending;
    ngx_http_tally_w.pending = b;
    ngx_http_tally_w.pending.len = 0;

    ngx_queue_init(&ngx_http_tally_w.flying);
    if (!ngx_queue_empty(&ngx_http_tally_w.waiting)) {
        ngx_queue_add(&ngx_http_tally_w.flying, &ngx_http_tally_w.waiting);
        ngx_queue_init(&ngx_http_tally_w.waiting);
    }

    ctx = ngx_http_tally_w.batch_task->ctx;
    ctx->seg = &ngx_http_tally_w.seg;
    ctx->data = ngx_http_tally_w.flight.data;
    ctx->len = ngx_http_tally_w.flight.len;
    ctx->rc = -1;

    ngx_http_tally_w.busy = 1;

    if (ngx_thread_task_post(ngx_http_tally_w.conf->thread_pool,
                             ngx_http_tally_w.batch_task)
        == NGX_OK)
    {
        ngx_add_timer(&ngx_http_tally_w.guard, NGX_HTTP_TALLY_TICK);
        return;
    }

    /* the pool's queue is full (logged by NGINX): nothing was stored */

    ngx_http_tally_count(TP_WRITE_ERRORS, 1);

    while (!ngx_queue_empty(&ngx_http_tally_w.flying)) {
        q = ngx_queue_head(&ngx_http_tally_w.flying);
        ngx_queue_remove(q);
        wt = ngx_queue_data(q, ngx_http_tally_wait_t, queue);
        wt->queued = 0;
        ngx_http_tally_answer(wt, NGX_ERROR);
    }

    ngx_http_tally_w.flight.len = 0;
    ngx_http_tally_w.busy = 0;
}


/* ---- periodic sync (tally_sync <interval>) ----------------------------- */

static void
ngx_http_tally_sync_thread(void *data, ngx_log_t *log)
{
    ngx_http_tally_sync_ctx_t *ctx = data;

    ctx->err = tally_seg_sync_fd(ctx->fd);
}


static void
ngx_http_tally_sync_done(ngx_event_t *ev)
{
    ngx_http_tally_sync_ctx_t  *ctx;

    ctx = ngx_http_tally_w.sync_task->ctx;
    ngx_http_tally_w.sync_busy = 0;

    if (ctx->err == 0) {
        ngx_http_tally_count(TP_SYNCS, 1);
        return;
    }

    ngx_http_tally_count(TP_WRITE_ERRORS, 1);

    ngx_log_error(NGX_LOG_ALERT, ngx_http_tally_w.log, ctx->err,
                  "tally: fdatasync of a spool segment failed; "
                  "starting a new segment");

    /* never sync the same file again: it may have lost data silently */
    if (ngx_http_tally_w.seg.fd != -1
        && ngx_http_tally_w.seg.created_us == ctx->created_us)
    {
        ngx_http_tally_w.seg.sync_on_close = 0;
        (void) tally_seg_close(&ngx_http_tally_w.seg);
        ngx_http_tally_w.seg.sync_on_close = 1;
        ngx_http_tally_writer_report(ngx_http_tally_w.log, 1);
    }
}

#endif /* NGX_THREADS */


/*
 * tally_sync off and <interval>: the records of every request handled in
 * one round of the event loop go out with one write() in this posted
 * event, which then answers them (202 only after that write() returned).
 */
static void
ngx_http_tally_flush_handler(ngx_event_t *ev)
{
    size_t                  len;
    ngx_int_t               rc;
    ngx_queue_t            *q, batch;
    tally_seg              *s = &ngx_http_tally_w.seg;
    ngx_http_tally_wait_t  *wt;

    len = ngx_http_tally_w.pending.len;
    ngx_http_tally_w.pending.len = 0;

    ngx_queue_init(&batch);
    if (!ngx_queue_empty(&ngx_http_tally_w.waiting)) {
        ngx_queue_add(&batch, &ngx_http_tally_w.waiting);
        ngx_queue_init(&ngx_http_tally_w.waiting);
    }

    rc = NGX_OK;

    if (len) {
        if (tally_seg_ready(s, ngx_http_tally_now_us()) != 0
            || tally_seg_append(s, ngx_http_tally_w.pending.data, len) != 0)
        {
            rc = NGX_ERROR;

        } else {
            ngx_http_tally_w.dirty = 1;
            ngx_http_tally_count(TP_BYTES_WRITTEN, len);
            ngx_http_tally_count(TP_SPOOL_BYTES, len);

            if (tally_seg_due(s, 0)) {
                /* rotate by size at once, so readers see it finished */
                (void) tally_seg_close(s);
                (void) tally_seg_open(s);
                ngx_http_tally_w.dirty = 0;
            }
        }

        if (s->opened || s->what) {
            ngx_http_tally_writer_report(ngx_http_tally_w.log, 0);
        }
    }

    while (!ngx_queue_empty(&batch)) {
        q = ngx_queue_head(&batch);
        ngx_queue_remove(q);
        wt = ngx_queue_data(q, ngx_http_tally_wait_t, queue);
        wt->queued = 0;
        ngx_http_tally_answer(wt, rc);
    }
}


static void
ngx_http_tally_sync_handler(ngx_event_t *ev)
{
    int                         fd;
#if (NGX_THREADS)
    ngx_http_tally_sync_ctx_t  *ctx;
#endif

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, ngx_http_tally_w.conf->sync_interval);

    if (!ngx_http_tally_w.dirty || ngx_http_tally_w.sync_busy
        || ngx_http_tally_w.seg.fd == -1)
    {
        return;
    }

    ngx_http_tally_w.dirty = 0;

#if (NGX_THREADS)
    fd = dup(ngx_http_tally_w.seg.fd);
    if (fd != -1) {
        ctx = ngx_http_tally_w.sync_task->ctx;
        ctx->fd = fd;
        ctx->created_us = ngx_http_tally_w.seg.created_us;
        ctx->err = 0;

        if (ngx_thread_task_post(ngx_http_tally_w.conf->thread_pool,
                                 ngx_http_tally_w.sync_task)
            == NGX_OK)
        {
            ngx_http_tally_w.sync_busy = 1;
            return;
        }
        close(fd);
    }
#endif

    /* no thread: sync in the event loop */
    (void) fd;
    if (tally_seg_sync(&ngx_http_tally_w.seg) == 0) {
        ngx_http_tally_count(TP_SYNCS, 1);
    }
    ngx_http_tally_writer_report(ngx_http_tally_w.log, 1);
}


/* every second: backlog scan, rotation of an idle segment past its age */
static void
ngx_http_tally_tick_handler(ngx_event_t *ev)
{
    uint64_t  now;

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_TALLY_TICK);

    /*
     * The day turns for an idle edge too: ratchet here, not only on the
     * next beacon, so yesterday's key does not outlive midnight.
     */
    if (ngx_http_tally_w.salt_ok
        && ngx_http_tally_writer_today() > ngx_http_tally_w.st.day)
    {
        (void) ngx_http_tally_writer_salt(ngx_http_tally_w.log,
                                          ngx_http_tally_writer_today());
    }

    ngx_http_tally_writer_scan(ngx_http_tally_w.log);

    if (ngx_http_tally_w.busy) {
        return;
    }

    now = ngx_http_tally_now_us();

    if (!tally_seg_due(&ngx_http_tally_w.seg, now)) {
        return;
    }

#if (NGX_THREADS)
    if (ngx_http_tally_w.conf->sync == NGX_HTTP_TALLY_SYNC_ALWAYS) {
        ngx_http_tally_batch_post();
        return;
    }
#endif

    (void) tally_seg_close(&ngx_http_tally_w.seg);
    ngx_http_tally_w.dirty = 0;
    ngx_http_tally_writer_report(ngx_http_tally_w.log, 1);
}


void
ngx_http_tally_writer_init(ngx_cycle_t *cycle,
    ngx_http_tally_main_conf_t *tmcf)
{
    ngx_http_tally_w.conf = tmcf;
    ngx_http_tally_w.log = cycle->log;
    ngx_http_tally_w.salt_ok = 0;
    ngx_queue_init(&ngx_http_tally_w.waiting);
    ngx_queue_init(&ngx_http_tally_w.flying);

    tally_seg_init(&ngx_http_tally_w.seg, (char *) tmcf->spool.data,
                   (uint32_t) ngx_pid, tmcf->segment_size,
                   (uint64_t) tmcf->segment_age * 1000,
                   tmcf->sync != NGX_HTTP_TALLY_SYNC_OFF,
                   tmcf->sync == NGX_HTTP_TALLY_SYNC_ALWAYS
                   ? TALLY_SEG_PREALLOC : 0);

#if (NGX_THREADS)
    if (tmcf->sync != NGX_HTTP_TALLY_SYNC_OFF) {
        ngx_http_tally_w.batch_task = ngx_thread_task_alloc(cycle->pool,
                                          sizeof(ngx_http_tally_batch_ctx_t));
        ngx_http_tally_w.sync_task = ngx_thread_task_alloc(cycle->pool,
                                          sizeof(ngx_http_tally_sync_ctx_t));
        if (ngx_http_tally_w.batch_task == NULL
            || ngx_http_tally_w.sync_task == NULL)
        {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "tally: cannot allocate thread tasks");
            ngx_http_tally_w.conf = NULL;    /* every beacon gets 503 */
            return;
        }
        ngx_http_tally_w.batch_task->handler = ngx_http_tally_batch_thread;
        ngx_http_tally_w.batch_task->event.handler = ngx_http_tally_batch_done;
        ngx_http_tally_w.batch_task->event.data = &ngx_http_tally_w;
        ngx_http_tally_w.batch_task->event.log = cycle->log;
        ngx_http_tally_w.sync_task->handler = ngx_http_tally_sync_thread;
        ngx_http_tally_w.sync_task->event.handler = ngx_http_tally_sync_done;
        ngx_http_tally_w.sync_task->event.data = &ngx_http_tally_w;
        ngx_http_tally_w.sync_task->event.log = cycle->log;

        ngx_http_tally_w.guard.handler = ngx_http_tally_guard_handler;
        ngx_http_tally_w.guard.data = &ngx_http_tally_w;
        ngx_http_tally_w.guard.log = cycle->log;
        ngx_http_tally_w.guard.cancelable = 0;
    }
#endif

    ngx_http_tally_w.flush.handler = ngx_http_tally_flush_handler;
    ngx_http_tally_w.flush.data = &ngx_http_tally_w;
    ngx_http_tally_w.flush.log = cycle->log;

    ngx_http_tally_w.tick.handler = ngx_http_tally_tick_handler;
    ngx_http_tally_w.tick.data = &ngx_http_tally_w;
    ngx_http_tally_w.tick.log = cycle->log;
    ngx_http_tally_w.tick.cancelable = 1;
    ngx_add_timer(&ngx_http_tally_w.tick, NGX_HTTP_TALLY_TICK);

    if (tmcf->sync == NGX_HTTP_TALLY_SYNC_INTERVAL) {
        ngx_http_tally_w.sync_ev.handler = ngx_http_tally_sync_handler;
        ngx_http_tally_w.sync_ev.data = &ngx_http_tally_w;
        ngx_http_tally_w.sync_ev.log = cycle->log;
        ngx_http_tally_w.sync_ev.cancelable = 1;
        ngx_add_timer(&ngx_http_tally_w.sync_ev, tmcf->sync_interval);
    }

    if (tv_init() != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "tally: libsodium failed to initialise");
        return;
    }

    ngx_http_tally_writer_clock_seam(cycle->log);
    (void) ngx_http_tally_writer_salt(cycle->log,
                                      ngx_http_tally_writer_today());

    if (tmcf->sync != NGX_HTTP_TALLY_SYNC_ALWAYS) {
        (void) tally_seg_open(&ngx_http_tally_w.seg);
        ngx_http_tally_writer_report(cycle->log, 1);
    }
}


ngx_int_t
ngx_http_tally_writer_ready(ngx_log_t *log)
{
    uint32_t                     today;
    ngx_http_tally_main_conf_t  *conf = ngx_http_tally_w.conf;

    if (conf == NULL) {
        return NGX_ERROR;
    }

    if (conf->spool_max_size && ngx_http_tally_sh
        && ngx_http_tally_sh->c[TP_SPOOL_BYTES]
           >= (ngx_atomic_uint_t) conf->spool_max_size)
    {
        return NGX_DECLINED;
    }

    today = ngx_http_tally_writer_today();

    if (!ngx_http_tally_w.salt_ok || today > ngx_http_tally_w.st.day) {
        if (ngx_http_tally_writer_salt(log, today) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


const tv_state *
ngx_http_tally_writer_state(void)
{
    return &ngx_http_tally_w.st;
}


ngx_uint_t
ngx_http_tally_writer_group_commit(void)
{
    return ngx_http_tally_w.conf != NULL
           && ngx_http_tally_w.conf->sync == NGX_HTTP_TALLY_SYNC_ALWAYS;
}


u_char *
ngx_http_tally_writer_reserve(size_t len)
{
    ngx_http_tally_buf_t  *b = &ngx_http_tally_w.pending;

    if (b->len + len > NGX_HTTP_TALLY_BATCH_MAX) {
        return NULL;
    }

    if (ngx_http_tally_buf_reserve(b, b->len + len) != NGX_OK) {
        return NULL;
    }

    return b->data + b->len;
}


ngx_int_t
ngx_http_tally_writer_commit(ngx_http_tally_wait_t *wt, size_t len)
{
    ngx_http_tally_w.pending.len += len;
    ngx_queue_insert_tail(&ngx_http_tally_w.waiting, &wt->queue);
    wt->queued = 1;

#if (NGX_THREADS)
    if (ngx_http_tally_writer_group_commit()) {
        if (!ngx_http_tally_w.busy) {
            ngx_http_tally_batch_post();
        }
        return NGX_AGAIN;
    }
#endif

    if (!ngx_http_tally_w.flush.posted) {
        ngx_post_event(&ngx_http_tally_w.flush, &ngx_posted_events);
    }

    return NGX_AGAIN;
}


void
ngx_http_tally_writer_exit(ngx_log_t *log)
{
    if (ngx_http_tally_w.conf == NULL) {
        return;
    }

    if (ngx_http_tally_w.flush.posted) {
        ngx_delete_posted_event(&ngx_http_tally_w.flush);
    }

    /* the thread pool has exited (its module comes first): the segment is
     * ours; pending records were never acknowledged */
    (void) tally_seg_close(&ngx_http_tally_w.seg);
    ngx_http_tally_writer_report(log, 1);

    tv_state_wipe(&ngx_http_tally_w.st);
    ngx_http_tally_w.salt_ok = 0;

    ngx_free(ngx_http_tally_w.pending.data);
    ngx_free(ngx_http_tally_w.flight.data);
    ngx_memzero(&ngx_http_tally_w.pending, sizeof(ngx_http_tally_buf_t));
    ngx_memzero(&ngx_http_tally_w.flight, sizeof(ngx_http_tally_buf_t));
}
