/* cli_compact.c -- the compact command: brings rollup_daily and
 * rollup_monthly up to the day before the newest event's and seals the
 * finished days (--seal-after; db_seal.h) -- what serve and the drain
 * loop do in their idle time --, then exits.  Safe while tallyd
 * runs: each step is one short transaction. */
#include "aggregator/cli.h"
#include "aggregator/conf.h"
#include "aggregator/db.h"
#include "aggregator/db_seal.h"
#include "aggregator/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS 86400000LL

/* The start of compact and unseal: parses the backup command's flags
 * (--db, --log-level, --config, --seal-after) and up to maxpos positional
 * arguments into c / pos / *npos, then opens c->db read-write into *d.
 * Returns CLI_OK with *d open (the caller closes it), or CLI_USAGE /
 * CLI_ERR after saying why. */
static int
cc_open(const char *cmd, int argc, char **argv, conf *c, const char **pos,
        int maxpos, int *npos, db **d)
{
    char err[1024];
    conf_defaults(c);
    if (conf_parse_args(c, CONF_CMD_BACKUP, argc, argv, pos, maxpos, npos, err,
                        sizeof(err)) != 0
        || (c->db[0] == '\0'
            && snprintf(err, sizeof(err), "%s needs --db FILE", cmd))) {
        fprintf(stderr, "tallyd %s: %s\nRun 'tallyd --help' for usage.\n", cmd,
                err);
        return CLI_USAGE;
    }
    log_set_level((enum log_level)c->log_level);
    if (access(c->db, R_OK | W_OK) != 0) {
        log_error("%s: cannot open database %s for writing", cmd, c->db);
        return CLI_ERR;
    }
    if (db_open(c->db, DB_RW, d, err, sizeof(err)) != 0) {
        log_error("%s: %s", cmd, err);
        return CLI_ERR;
    }
    return CLI_OK;
}

int
cli_compact(int argc, char **argv)
{
    conf c;
    int npos;
    db *d;
    int st = cc_open("compact", argc, argv, &c, NULL, 0, &npos, &d);
    if (st != CLI_OK)
        return st;
    int64_t hwm = 0, steps = 0, dh = 0, md = 0;
    int rc = db_meta_get(d, "hwm_ms", &hwm) < 0 ? -1 : 0;
    while (rc == 0 && hwm > 0) {
        rc = db_compact_step(d, (hwm / DAY_MS - 1) * 24);
        if (rc <= 0)
            break;
        steps++;
        rc = 0;
    }
    int64_t sealed = 0;
    while (rc >= 0 && c.seal_after_days) {
        int64_t n = db_seal_step(d, c.seal_after_days, 64);
        if (n < 0)
            rc = -1;
        if (n <= 0)
            break;
        sealed += n;
    }
    if (rc >= 0 && sealed)
        log_info("compact: sealed %lld days", (long long)sealed);
    if (rc >= 0 && db_compact_bounds(d, &dh, &md) == 0)
        log_info("compact: %lld steps; daily rollups before day %lld, monthly"
                 " before day %lld", (long long)steps, (long long)(dh / 24),
                 (long long)md);
    db_close(d);
    return rc < 0 ? CLI_ERR : CLI_OK;
}

int
cli_unseal(int argc, char **argv)
{
    conf c;
    const char *pos[1];
    int npos = 0;
    db *d;
    int st = cc_open("unseal", argc, argv, &c, pos, 1, &npos, &d);
    if (st != CLI_OK)
        return st;
    int64_t *sites = NULL, one = 0;
    size_t nsites = 0;
    int rc = 0;
    if (npos == 1) {
        int found = db_site_find(d, pos[0], &one);
        if (found == 0)
            fprintf(stderr, "tallyd unseal: no site '%s' in the database\n", pos[0]);
        rc = found <= 0 ? -1 : 0;
        nsites = rc == 0;
    } else {
        rc = db_site_ids(d, &sites, &nsites);
    }
    const int64_t *ids = npos == 1 ? &one : sites;
    int64_t days = 0;
    for (size_t i = 0; rc == 0 && i < nsites; i++) {
        int64_t *list;
        size_t n;
        if (db_seal_days(d, ids[i], INT64_MIN, INT64_MAX, &list, &n) != 0) {
            rc = -1;
            break;
        }
        for (size_t j = 0; rc == 0 && j < n; j++) {
            if (db_begin(d) != 0 || db_seal_unseal(d, ids[i], list[j]) < 0
                || db_commit(d) != 0) {
                db_rollback(d);
                rc = -1;
            } else {
                days++;
            }
        }
        free(list);
    }
    free(sites);
    if (rc == 0)
        log_info("unseal: %lld days back to rows", (long long)days);
    db_close(d);
    return rc == 0 ? CLI_OK : CLI_ERR;
}
