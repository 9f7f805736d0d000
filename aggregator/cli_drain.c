/* cli_drain.c -- the drain command: drain the spool into the database
 * without the HTTP API; with --once until nothing complete is left. */
#include "aggregator/cli.h"
#include "aggregator/conf.h"
#include "aggregator/crypto.h"
#include "aggregator/log.h"
#include "aggregator/pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static atomic_int cli_drain_stop;

static void
cli_drain_signal(int sig)
{
    (void)sig;
    atomic_store(&cli_drain_stop, 1);
}

int
cli_drain(int argc, char **argv)
{
    conf c;
    char err[1024];
    const char *pos[1];
    int npos, once = 0;
    char *args[64];
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            once = 1;
        else if (nargs < 64)
            args[nargs++] = argv[i];
    }
    conf_defaults(&c);
    if (nargs == 64
        || conf_parse_args(&c, CONF_CMD_DRAIN, nargs, args, pos, 0, &npos, err,
                           sizeof(err)) != 0
        || (c.spool[0] == '\0' && snprintf(err, sizeof(err), "drain needs --spool DIR"))
        || (c.db[0] == '\0' && snprintf(err, sizeof(err), "drain needs --db FILE"))) {
        fprintf(stderr, "tallyd drain: %s\nRun 'tallyd --help' for usage.\n", err);
        return CLI_USAGE;
    }
    log_set_level((enum log_level)c.log_level);
    if (crypto_start() != 0)
        return CLI_ERR;
    struct stat sb;
    if (stat(c.spool, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        log_error("drain: spool directory %s: %s", c.spool,
                  errno ? strerror(errno) : "not a directory");
        return CLI_ERR;
    }
    pipeline p;
    if (pipeline_open(&p, &c, err, sizeof(err)) != 0) {
        log_error("drain: %s", err);
        return CLI_ERR;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cli_drain_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    uint64_t total = 0, corrupt = 0, skipped = 0;
    int rc = CLI_OK;
    while (!atomic_load(&cli_drain_stop)) {
        drain_stats st;
        if (drain_pass(p.dr, &st, &cli_drain_stop) != 0) {
            log_error("drain: pass failed");
            rc = CLI_ERR;
            break;
        }
        total += st.events;
        corrupt += st.corrupt;
        skipped += st.invalid;
        if (pipeline_retain(&p, once, &cli_drain_stop) < 0) {
            rc = CLI_ERR;
            break;
        }
        if (st.records == 0 && st.corrupt == 0 && st.segments_deleted == 0) {
            if (once)
                break;
            /* idle: coarse rollups, a few short transactions at once */
            int64_t cn = pipeline_compact(&p, 16, &cli_drain_stop);
            if (cn < 0) {
                rc = CLI_ERR;
                break;
            }
            if (cn > 0)
                continue;
            struct timespec ts = { c.poll_ms / 1000, (long)(c.poll_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    ingest_stats is;
    ingest_get_stats(p.g, &is);
    log_info("drain: stored %llu events (%llu corrupt records, %llu skipped, %llu bots);"
             " %llu visits open", (unsigned long long)total,
             (unsigned long long)corrupt, (unsigned long long)skipped,
             (unsigned long long)is.bots, (unsigned long long)is.visits_open);
    pipeline_close(&p);
    return rc;
}
