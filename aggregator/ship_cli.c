/* ship_cli.c -- `tallyd ship`: flags, signals, then ship_run (ship.h). */
#include "aggregator/log.h"
#include "aggregator/ship.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int ship_stop;

static void
ship_on_signal(int sig)
{
    (void)sig;
    atomic_store(&ship_stop, 1);
}

static void
ship_usage(FILE *out)
{
    fputs("Usage: tallyd ship --spool DIR --redis redis://HOST[:PORT][/DB] --edge NAME\n"
          "                   [--batch N] [--poll-ms N] [--state FILE]\n"
          "                   [--lag-log-s N] [--log-level LEVEL]\n"
          "  Ships every spool record to the Redis Stream tally:edge:NAME exactly\n"
          "  once and deletes finished segments Redis has acknowledged.\n"
          "  --batch N        XADDs per round trip (default 500)\n"
          "  --poll-ms N      idle spool poll interval in ms (default 200)\n"
          "  --state FILE     state file (default DIR/tally-ship.state)\n"
          "  --lag-log-s N    log the backlog every N seconds (default 10, 0 = never)\n"
          "  --log-level L    debug, info, warn or error (default info)\n", out);
}

/* Parses a decimal in [lo, hi]. */
static int
ship_num(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    unsigned long x = strtoul(s, &end, 10);
    if (*end != '\0' || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static int
ship_copy(char *dst, size_t cap, const char *v)
{
    if (v == NULL || v[0] == '\0' || strlen(v) >= cap)
        return -1;
    strcpy(dst, v);
    return 0;
}

/* Applies one flag.  0, or -1 for a bad value or unknown flag. */
static int
ship_flag(ship_conf *c, const char *name, const char *v)
{
    unsigned long x;
    enum log_level lvl;
    if (strcmp(name, "spool") == 0)
        return ship_copy(c->spool, sizeof(c->spool), v);
    if (strcmp(name, "redis") == 0)
        return ship_copy(c->url, sizeof(c->url), v);
    if (strcmp(name, "edge") == 0)
        return ship_copy(c->edge, sizeof(c->edge), v);
    if (strcmp(name, "state") == 0)
        return ship_copy(c->state, sizeof(c->state), v);
    if (strcmp(name, "batch") == 0) {
        if (ship_num(v, 1, 10000, &x) != 0)
            return -1;
        c->batch = (unsigned)x;
        return 0;
    }
    if (strcmp(name, "poll-ms") == 0) {
        if (ship_num(v, 1, 60000, &x) != 0)
            return -1;
        c->poll_ms = (unsigned)x;
        return 0;
    }
    if (strcmp(name, "lag-log-s") == 0) {
        if (ship_num(v, 0, 86400, &x) != 0)
            return -1;
        c->lag_log_s = (unsigned)x;
        return 0;
    }
    if (strcmp(name, "log-level") == 0) {
        if (v == NULL || log_level_parse(v, &lvl) != 0)
            return -1;
        log_set_level(lvl);
        return 0;
    }
    return -1;
}

/* See ship.h. */
int
ship_main(int argc, char **argv)
{
    ship_conf c;
    ship_conf_defaults(&c);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ship_usage(stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            fprintf(stderr, "tallyd ship: unexpected argument '%s'\n", a);
            ship_usage(stderr);
            return 2;
        }
        char name[32];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (nl < sizeof(name)) {
            memcpy(name, a + 2, nl);
            name[nl] = '\0';
        }
        if (nl >= sizeof(name) || ship_flag(&c, name, v) != 0) {
            fprintf(stderr, "tallyd ship: bad or unknown flag --%.*s\n", (int)nl, a + 2);
            ship_usage(stderr);
            return 2;
        }
    }
    if (!c.spool[0] || !c.url[0] || !c.edge[0]) {
        fprintf(stderr, "tallyd ship: --spool, --redis and --edge are required\n");
        ship_usage(stderr);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ship_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);     /* a dropped Redis socket is an error, not death */

    return ship_run(&c, &ship_stop);
}
