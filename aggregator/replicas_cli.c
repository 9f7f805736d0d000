/* replicas_cli.c -- `tallyd replicas`: the registered tallyd replicas
 * and how far behind each one is in each edge's stream (replica.h), and
 * `tallyd replicas forget` to unregister a dead one so that trimming can
 * proceed (docs/cluster.md). */
#include "aggregator/cli.h"
#include "aggregator/ctl.h"
#include "aggregator/log.h"
#include "aggregator/redis.h"
#include "aggregator/redis_source.h"
#include "aggregator/replica.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
replicas_usage(FILE *out)
{
    fputs("Usage: tallyd replicas [list] --redis URL\n"
          "       tallyd replicas forget --redis URL NAME\n"
          "  list: every edge stream and the control stream tally:ctl (entries,\n"
          "        added, trimmed, last ID), then\n"
          "        every registered replica's heartbeat age and, per stream,\n"
          "        its last applied ID, the entries it is behind and the age\n"
          "        of the oldest entry it has not applied (seconds)\n"
          "  forget: unregister replica NAME (a dead one), so the streams are\n"
          "        trimmed behind the others again\n", out);
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Age in seconds of the first entry of stream after `after` ("" = from
 * the start), -1 if there is none, -2 on error. */
static double
oldest_age(redis_conn *c, const char *stream, const char *after, int64_t now)
{
    char start[RSRC_ID_MAX + 2];
    if (after[0])
        snprintf(start, sizeof(start), "(%s", after);
    else
        snprintf(start, sizeof(start), "-");
    const char *argv[] = { "XRANGE", stream, start, "+", "COUNT", "1" };
    redis_reply *r = redis_cmd(c, 6, argv);
    if (r == NULL || redis_reply_type(r) != REDIS_R_ARRAY) {
        redis_reply_free(r);
        return -2;
    }
    double age = -1;
    if (redis_reply_len(r) > 0) {
        const char *id = redis_reply_str(redis_reply_at(redis_reply_at(r, 0), 0),
                                         NULL);
        uint64_t ms, seq;
        if (id && rsrc_id_parse(id, &ms, &seq) == 0)
            age = (double)(now - (int64_t)ms) / 1000.0;
        if (age < 0)
            age = 0;
    }
    redis_reply_free(r);
    return age;
}

static int
replicas_list(redis_conn *c)
{
    char **edges = NULL, **names = NULL;
    size_t ne = 0, nn = 0;
    int rc = CLI_ERR;
    const char *sm[] = { "SMEMBERS", RSRC_EDGES_KEY };
    redis_reply *r = redis_cmd(c, 2, sm);
    if (r == NULL || redis_reply_type(r) != REDIS_R_ARRAY) {
        redis_reply_free(r);
        goto out;
    }
    edges = calloc(redis_reply_len(r) + 2, sizeof(*edges));
    for (size_t i = 0; edges && i < redis_reply_len(r); i++) {
        const char *e = redis_reply_str(redis_reply_at(r, i), NULL);
        char stream[REPLICA_STREAM_MAX];
        if (e && rsrc_stream_name(stream, sizeof(stream), e) == 0
            && (edges[ne] = strdup(stream)) != NULL)
            ne++;
    }
    redis_reply_free(r);
    if (edges == NULL)
        goto out;
    for (size_t i = 1; i < ne; i++)
        for (size_t j = i; j > 0 && strcmp(edges[j - 1], edges[j]) > 0; j--) {
            char *t = edges[j];
            edges[j] = edges[j - 1];
            edges[j - 1] = t;
        }
    /* the control stream (admin changes, ctl.h) last */
    if ((edges[ne] = strdup(CTL_STREAM)) == NULL)
        goto out;
    ne++;
    replica_sinfo *si = calloc(ne + 1, sizeof(*si));
    if (si == NULL)
        goto out;
    printf("%-40s %10s %10s %10s  %s\n", "STREAM", "ENTRIES", "ADDED",
           "TRIMMED", "LAST_ID");
    for (size_t i = 0; i < ne; i++) {
        if (replica_stream_info(c, edges[i], &si[i]) != 0) {
            free(si);
            goto out;
        }
        printf("%-40s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "  %s\n", edges[i],
               si[i].length, si[i].added,
               si[i].added > si[i].length ? si[i].added - si[i].length : 0,
               si[i].exists ? si[i].last_gen : "-");
    }
    if (replica_names(c, &names, &nn) != 0) {
        free(si);
        goto out;
    }
    int64_t now = now_ms();
    printf("\n%-20s %15s %-40s %-24s %10s %10s\n", "REPLICA", "HEARTBEAT_AGE_S",
           "STREAM", "APPLIED_ID", "BEHIND", "AGE_S");
    for (size_t k = 0; k < nn; k++) {
        for (size_t i = 0; i < (ne ? ne : 1); i++) {
            int64_t hb;
            char id[REPLICA_ID_MAX];
            uint64_t applied;
            const char *stream = ne ? edges[i] : NULL;
            if (replica_get(c, names[k], stream, &hb, id, &applied) < 0) {
                free(si);
                goto out;
            }
            double hbage = hb > 0 ? (double)(now - hb) / 1000.0 : -1;
            if (stream == NULL) {
                printf("%-20s %15.1f %-40s %-24s %10s %10s\n", names[k], hbage,
                       "-", "-", "-", "-");
                continue;
            }
            uint64_t behind = si[i].added > applied ? si[i].added - applied : 0;
            double age = oldest_age(c, stream, id, now);
            if (age < -1.5) {
                free(si);
                goto out;
            }
            char ages[32];
            snprintf(ages, sizeof(ages), "%.1f", age < 0 ? 0.0 : age);
            printf("%-20s %15.1f %-40s %-24s %10" PRIu64 " %10s\n", names[k],
                   hbage, stream, id[0] ? id : "-", behind, ages);
        }
    }
    free(si);
    rc = CLI_OK;
out:
    if (rc != CLI_OK)
        log_error("replicas: redis: %s", redis_errstr(c)[0] ? redis_errstr(c)
                                                           : "unexpected reply");
    if (edges)
        rsrc_free_names(edges, ne);
    if (names)
        rsrc_free_names(names, nn);
    return rc;
}

int
cli_replicas(int argc, char **argv)
{
    const char *url = NULL, *sub = "list", *name = NULL;
    int i = 0;
    if (argc > 0 && (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "forget") == 0))
        sub = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strncmp(argv[i], "--redis=", 8) == 0) {
            url = argv[i] + 8;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            enum log_level l;
            if (log_level_parse(argv[++i], &l) != 0)
                goto usage;
            log_set_level(l);
        } else if (argv[i][0] != '-' && name == NULL && strcmp(sub, "forget") == 0) {
            name = argv[i];
        } else {
            goto usage;
        }
    }
    if (url == NULL || (strcmp(sub, "forget") == 0 && name == NULL))
        goto usage;
    if (name && !replica_name_valid(name)) {
        fprintf(stderr, "tallyd replicas: invalid replica name '%s'\n", name);
        return CLI_USAGE;
    }
    redis_url u;
    char err[256];
    if (redis_url_parse(url, &u, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd replicas: %s\n", err);
        return CLI_USAGE;
    }
    redis_conn *c = redis_new(&u, 5000);
    memset(&u, 0, sizeof(u));
    if (c == NULL || !redis_ok(c)) {
        log_error("replicas: redis unreachable: %s", c ? redis_errstr(c) : "no memory");
        redis_close(c);
        return CLI_ERR;
    }
    int rc;
    if (strcmp(sub, "forget") == 0) {
        int f = replica_forget(c, name);
        if (f < 0) {
            log_error("replicas: redis: %s", redis_errstr(c));
            rc = CLI_ERR;
        } else if (f == 0) {
            fprintf(stderr, "tallyd replicas: no replica named '%s' is registered\n",
                    name);
            rc = CLI_ERR;
        } else {
            printf("forgot replica %s: the streams are now trimmed behind the"
                   " other replicas only (if it still runs, it registers again"
                   " at its next heartbeat)\n", name);
            rc = CLI_OK;
        }
    } else {
        rc = replicas_list(c);
    }
    redis_close(c);
    return rc;
usage:
    replicas_usage(stderr);
    return CLI_USAGE;
}
