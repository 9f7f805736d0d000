/* serve.c -- the serve command: opens the database, runs the drain in
 * one thread and the HTTP API in a thread pool, and stops cleanly on
 * SIGTERM or SIGINT (the drain commits its current transaction, HTTP
 * stops, the database is closed, exit 0). */
#include "aggregator/api.h"
#include "aggregator/api_qx.h"
#include "aggregator/cli.h"
#include "aggregator/conf.h"
#include "aggregator/crypto.h"
#include "aggregator/db.h"
#include "aggregator/drain.h"
#include "aggregator/pipeline.h"
#include "aggregator/rdrain.h"
#include "aggregator/http.h"
#include "aggregator/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pipeline        p;
    unsigned        poll_ms;
    rdrain         *rd;            /* --source: the edge streams */
    int             spool;         /* --spool given */
    atomic_int      stop, fatal;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
} serve_state;

/* Sleeps up to ms, waking early when stop is set. */
static void
serve_nap(serve_state *s, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stop)
           && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&s->mu);
}

static void *
serve_drain_thread(void *arg)
{
    serve_state *s = arg;
    while (!atomic_load(&s->stop)) {
        drain_stats st = { 0 };
        long rn = s->rd ? rdrain_pass(s->rd, &s->stop) : 0;
        if (rn == RDRAIN_FATAL) {       /* logged; stop serving, exit 1 */
            atomic_store(&s->fatal, 1);
            kill(getpid(), SIGTERM);
            break;
        }
        if (s->spool && drain_pass(s->p.dr, &st, &s->stop) != 0) {
            log_error("drain: pass failed; retrying in 1 s");
            serve_nap(s, 1000);
            continue;
        }
        if (pipeline_retain(&s->p, 0, &s->stop) < 0)
            log_error("retention: failed; retrying in an hour");
        int idle = st.events == 0 && st.records == 0 && st.corrupt == 0 && rn <= 0;
        /* coarse rollups in idle time, a few short transactions at once */
        int64_t cn = idle ? pipeline_compact(&s->p, 16, &s->stop) : 0;
        if (cn < 0)
            log_error("compact: failed; retrying when idle again");
        if (idle && cn <= 0)
            serve_nap(s, rn < 0 ? rdrain_backoff_ms(s->rd) : s->poll_ms);
    }
    return NULL;
}

int
cli_serve(int argc, char **argv)
{
    conf c;
    char err[1024];
    const char *pos[1];
    int npos;
    conf_defaults(&c);
    if (conf_parse_args(&c, CONF_CMD_SERVE, argc, argv, pos, 0, &npos, err,
                        sizeof(err)) != 0
        || conf_check_serve(&c, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd serve: %s\nRun 'tallyd --help' for usage.\n", err);
        return CLI_USAGE;
    }
    log_set_level((enum log_level)c.log_level);
    if (crypto_start() != 0) {
        log_error("serve: libsodium failed to start");
        return CLI_ERR;
    }
    struct stat sb;
    if (c.spool[0] && (stat(c.spool, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        log_error("serve: spool directory %s: %s", c.spool,
                  errno ? strerror(errno) : "not a directory");
        return CLI_ERR;
    }
    serve_state s = { .poll_ms = c.poll_ms, .spool = c.spool[0] != '\0' };
    if (pipeline_open(&s.p, &c, err, sizeof(err)) != 0) {
        log_error("serve: %s", err);
        return CLI_ERR;
    }
    if (c.source[0] && ((s.rd = rdrain_new(c.source, c.replica, s.p.d, s.p.g,
                                           c.batch_events, c.stream_warn, err,
                                           sizeof(err))) == NULL
                        || rdrain_start(s.rd) == RDRAIN_FATAL)) {
        if (s.rd == NULL)
            log_error("serve: --source: %s", err);
        rdrain_free(s.rd);
        pipeline_close(&s.p);
        return CLI_ERR;
    }

    /* every thread started from here on inherits the blocked signals;
     * this thread takes them with sigwait */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    atomic_init(&s.stop, 0);
    atomic_init(&s.fatal, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s.cv, &ca);
    pthread_condattr_destroy(&ca);

    int rc = CLI_ERR;
    http_server *hs = NULL;
    pthread_t th;
    int started = 0;
    size_t nroutes;
    const http_route *routes = api_routes(&nroutes);
    if (api_init(c.db) != 0
        || (c.source[0] && qx_api_set_source(c.source) != 0)) {
        log_error("serve: out of memory");
        goto out;
    }
    hs = http_start(c.listen_host, c.listen_port, routes, nroutes,
                    c.http_threads, API_MAX_BODY, err, sizeof(err));
    if (hs == NULL) {
        log_error("serve: %s", err);
        goto out;
    }
    if (pthread_create(&th, NULL, serve_drain_thread, &s) != 0) {
        log_error("serve: cannot start the drain thread");
        goto out;
    }
    started = 1;
    /* the listen address is described, not printed: Tally's logs never
     * carry an IP address, not even the server's own */
    const char *where = strncmp(c.listen_host, "127.", 4) == 0
                        || strcmp(c.listen_host, "::1") == 0 ? "loopback"
                      : strcmp(c.listen_host, "0.0.0.0") == 0
                        || strcmp(c.listen_host, "::") == 0 ? "all interfaces"
                      : "the configured address";
    log_info("serve: listening on %s port %u (GET /health, POST /api/v2/query);"
             " draining spool %s into %s every %u ms",
             where, c.listen_port, c.spool[0] ? c.spool : "(none)", c.db, c.poll_ms);
    if (s.rd)
        log_info("serve: applying every edge's Redis stream into %s%s%s", c.db,
                 c.replica[0] ? " as replica " : "", c.replica);

    for (;;) {
        int sig;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("serve: SIGHUP ignored (nothing to reload yet)");
            continue;
        }
        log_info("serve: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    rc = atomic_load(&s.fatal) ? CLI_ERR : CLI_OK;
out:
    pthread_mutex_lock(&s.mu);
    atomic_store(&s.stop, 1);
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    if (started)
        pthread_join(th, NULL);        /* the drain commits and returns */
    http_stop(hs);
    log_info("serve: stopped; %llu corrupt records seen in this run",
             (unsigned long long)drain_corrupt_total(s.p.dr));
    rdrain_free(s.rd);
    pipeline_close(&s.p);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return rc;
}
