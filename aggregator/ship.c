/* ship.c -- the shipper loop and its Redis side; see ship.h. */
#include "aggregator/log.h"
#include "aggregator/redis_source.h"
#include "aggregator/ship_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SHIP_BACKOFF_MIN_MS 100
#define SHIP_BACKOFF_MAX_MS 5000

void
ship_conf_defaults(ship_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->batch = 500;
    c->batch_bytes = 8u << 20;
    c->poll_ms = 200;
    c->lag_log_s = 10;
    c->timeout_ms = 5000;
}

static uint64_t
now_ms(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleeps ms milliseconds in slices of at most 100 ms, returning early when
 * *stop is set. */
static void
ship_sleep(unsigned ms, const atomic_int *stop)
{
    while (ms > 0 && !(stop && atomic_load(stop))) {
        unsigned s = ms > 100 ? 100 : ms;
        struct timespec ts = { 0, (long)s * 1000000L };
        nanosleep(&ts, NULL);
        ms -= s;
    }
}

static int
ship_save(shipper *sh)
{
    if (ship_state_save(sh->state_path, &sh->st) != 0) {
        log_error("ship: cannot write state file %s: %s", sh->state_path,
                  strerror(errno));
        return -1;
    }
    sh->dirty = 0;
    return 0;
}

/* Unlinks a fully shipped finished segment and then its marker; forgets
 * its row once the file is gone. */
static void
ship_unlink(shipper *sh, const char *name)
{
    char path[PATH_MAX];
    if (ship_path(sh, path, name, "") != 0)
        return;
    if (unlink(path) != 0 && errno != ENOENT) {
        log_warn("ship: cannot delete shipped segment %s: %s", name, strerror(errno));
        return;
    }
    if (ship_path(sh, path, name, ".done") == 0 && unlink(path) != 0
        && errno != ENOENT)
        log_warn("ship: cannot delete marker %s.done: %s", name, strerror(errno));
    sh->deleted++;
    log_info("ship: deleted shipped segment %s", name);
    ship_state_forget(&sh->st, name);
    sh->dirty = 1;
}

/* The plan is acknowledged: move the positions on, then delete the
 * segments it finished (after the state saying so is on disk). */
static void
ship_commit(shipper *sh)
{
    int any_done = 0;
    for (size_t i = 0; i < sh->st.nrng; i++) {
        const ship_range *r = &sh->st.rng[i];
        ship_pos *p = ship_state_pos(&sh->st, r->name, 1);
        if (p == NULL)
            continue;        /* out of memory: shipped again, refused then */
        p->off = r->end;
        p->finished = r->done;
        any_done |= r->done;
    }
    if (sh->nidx > 0) {
        ship_id last = { sh->st.plan.ms, sh->st.plan.seq + sh->nidx - 1 };
        if (ship_id_cmp(last, sh->st.last) > 0)
            sh->st.last = last;
    }
    sh->st.has_plan = 0;
    sh->st.nrng = 0;
    sh->nrec = 0;
    sh->nidx = 0;
    sh->buflen = 0;
    sh->plan_sent = 0;
    sh->plan_loaded = 0;
    sh->oldest_ms = 0;
    sh->dirty = 1;
    if (!any_done || ship_save(sh) != 0)
        return;
    for (size_t i = 0; i < sh->st.npos;) {
        if (sh->st.pos[i].finished) {
            char name[SPOOL_NAME_MAX];
            strcpy(name, sh->st.pos[i].name);
            size_t before = sh->st.npos;
            ship_unlink(sh, name);
            if (sh->st.npos < before)
                continue;               /* row i now holds another one */
        }
        i++;
    }
}

/* Gives the new plan its IDs and writes it down before anything is sent. */
static int
ship_plan_start(shipper *sh)
{
    uint64_t ms = now_ms(CLOCK_REALTIME);
    if (ms <= sh->st.last.ms)
        sh->st.plan = (ship_id){ sh->st.last.ms, sh->st.last.seq + 1 };
    else
        sh->st.plan = (ship_id){ ms, 0 };
    sh->st.has_plan = 1;
    sh->plan_sent = 0;
    sh->plan_loaded = 1;
    if (ship_save(sh) != 0) {
        sh->st.has_plan = 0;          /* nothing sent: simply forget it */
        sh->st.nrng = 0;
        sh->nrec = 0;
        sh->nidx = 0;
        sh->buflen = 0;
        sh->plan_loaded = 0;
        return -1;
    }
    return 0;
}

static void
ship_log_lag(shipper *sh)
{
    uint64_t now = now_ms(CLOCK_REALTIME);
    char age[64] = "";
    ship_pending(sh);
    if (sh->oldest_ms && now > sh->oldest_ms)
        snprintf(age, sizeof(age), ", oldest unshipped event %" PRIu64 " s old",
                 (now - sh->oldest_ms) / 1000);
    log_info("ship: lag %" PRIu64 " bytes in %" PRIu64 " segments, %zu records"
             " in flight%s; shipped %" PRIu64 " records (%" PRIu64
             " already there), %" PRIu64 " corrupt, %" PRIu64 " segments deleted",
             sh->pending_bytes, sh->pending_segments,
             sh->st.has_plan ? sh->nrec : (size_t)0, age, sh->shipped,
             sh->already, sh->corrupt, sh->deleted);
}

/* Loads the state file and takes the lock.  0 or -1 (logged). */
static int
ship_open(shipper *sh)
{
    char lock[PATH_MAX + 8], err[512];
    snprintf(lock, sizeof(lock), "%s.lock", sh->state_path);
    sh->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (sh->lockfd < 0) {
        log_error("ship: cannot open lock file %s: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(sh->lockfd, LOCK_EX | LOCK_NB) != 0) {
        log_error("ship: another shipper holds %s; one shipper per spool", lock);
        return -1;
    }
    int rc = ship_state_load(sh->state_path, &sh->st, err, sizeof(err));
    if (rc < 0) {
        log_error("ship: bad state file: %s", err);
        return -1;
    }
    if (rc == 1) {
        strcpy(sh->st.edge, sh->cf.edge);
        sh->dirty = 1;
        sh->recover = 1;
    } else if (strcmp(sh->st.edge, sh->cf.edge) != 0) {
        log_error("ship: state file %s belongs to edge '%s', not '%s'; remove it"
                  " only if that edge's stream is abandoned", sh->state_path,
                  sh->st.edge, sh->cf.edge);
        return -1;
    }
    sh->plan_sent = sh->st.has_plan;   /* it may have reached Redis */
    if (sh->st.has_plan)
        log_info("ship: resending the pending batch of the last run"
                 " (records Redis already has are refused and counted)");
    return 0;
}

static int
ship_loop(shipper *sh, const atomic_int *stop)
{
    unsigned backoff = SHIP_BACKOFF_MIN_MS;
    int down = 0;
    uint64_t next_lag = now_ms(CLOCK_MONOTONIC) + sh->cf.lag_log_s * 1000u;
    while (!(stop && atomic_load(stop))) {
        if (sh->cf.lag_log_s && now_ms(CLOCK_MONOTONIC) >= next_lag) {
            ship_log_lag(sh);
            next_lag = now_ms(CLOCK_MONOTONIC) + sh->cf.lag_log_s * 1000u;
        }
        if (!redis_ok(sh->rc) || !sh->synced || sh->recover) {
            if ((redis_ok(sh->rc) || redis_reconnect(sh->rc) == 0)
                && ship_sync(sh) == 0 && (!sh->recover || ship_recover(sh) == 0)) {
                if (down)
                    log_info("ship: redis is back; shipping again");
                down = 0;
                backoff = SHIP_BACKOFF_MIN_MS;
            } else {
                if (!redis_ok(sh->rc))
                    log_warn("ship: redis unreachable (%s); retrying in %u ms",
                             redis_errstr(sh->rc), backoff);
                down = 1;
                ship_sleep(backoff, stop);
                backoff = backoff * 2 > SHIP_BACKOFF_MAX_MS ? SHIP_BACKOFF_MAX_MS
                                                            : backoff * 2;
                continue;
            }
        }
        if (!sh->st.has_plan) {
            if (ship_plan_build(sh) != 0) {
                ship_sleep(sh->cf.poll_ms, stop);
                continue;
            }
            if (sh->st.nrng == 0) {               /* nothing new */
                if (sh->dirty)
                    ship_save(sh);
                ship_sleep(sh->cf.poll_ms, stop);
                continue;
            }
            if (sh->nrec == 0) {       /* only positions move: no Redis */
                ship_commit(sh);
                continue;
            }
            if (ship_plan_start(sh) != 0) {
                ship_sleep(backoff, stop);
                continue;
            }
        } else if (!sh->plan_loaded && ship_plan_load(sh) != 0) {
            ship_sleep(backoff, stop);      /* I/O error: the same plan later */
            continue;
        }
        int s = ship_send(sh);
        if (s == -2)
            return 1;
        if (s < 0) {
            if (!redis_ok(sh->rc))
                log_warn("ship: lost redis while sending (%s); the batch is"
                         " resent after reconnecting", redis_errstr(sh->rc));
            down = 1;
            ship_sleep(backoff, stop);
            backoff = backoff * 2 > SHIP_BACKOFF_MAX_MS ? SHIP_BACKOFF_MAX_MS
                                                        : backoff * 2;
            continue;
        }
        backoff = SHIP_BACKOFF_MIN_MS;
        ship_commit(sh);
    }
    return 0;
}

int
ship_run(const ship_conf *c, const atomic_int *stop)
{
    shipper *sh = calloc(1, sizeof(*sh));
    if (sh == NULL)
        return 1;
    sh->cf = *c;
    sh->lockfd = -1;
    if (sh->cf.batch == 0)
        sh->cf.batch = 500;
    if (sh->cf.batch_bytes == 0)
        sh->cf.batch_bytes = 8u << 20;
    int rc = 1;
    redis_url u;
    char err[256];
    if (!rsrc_edge_valid(c->edge)
        || rsrc_stream_name(sh->stream, sizeof(sh->stream), c->edge) != 0) {
        log_error("ship: bad edge name (1-%d of A-Z a-z 0-9 . _ -)", RSRC_EDGE_MAX);
        goto out;
    }
    if (redis_url_parse(c->url, &u, err, sizeof(err)) != 0) {
        log_error("ship: %s", err);
        goto out;
    }
    if (c->state[0])
        snprintf(sh->state_path, sizeof(sh->state_path), "%s", c->state);
    else if (snprintf(sh->state_path, sizeof(sh->state_path), "%s/tally-ship.state",
                      c->spool) >= (int)sizeof(sh->state_path))
        goto out;
    if (ship_open(sh) != 0)
        goto out;
    if ((sh->rc = redis_new(&u, c->timeout_ms)) == NULL)
        goto out;
    log_info("ship: shipping spool %s to stream %s (batch %u records)", c->spool,
             sh->stream, sh->cf.batch);
    rc = ship_loop(sh, stop);
    if (sh->dirty)
        ship_save(sh);
    ship_log_lag(sh);
out:
    memset(&u, 0, sizeof(u));
    redis_close(sh->rc);
    if (sh->lockfd >= 0)
        close(sh->lockfd);
    ship_state_free(&sh->st);
    free(sh->buf);
    free(sh->recs);
    free(sh);
    return rc;
}
