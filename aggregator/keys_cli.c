/* keys_cli.c -- tallyd keys add | list | revoke. */
#include "aggregator/cli.h"
#include "aggregator/conf.h"
#include "aggregator/crypto.h"
#include "aggregator/ctl_cli.h"
#include "aggregator/db.h"
#include "aggregator/goals.h"
#include "aggregator/keys.h"
#include "aggregator/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
keys_cli_print(void *ctx, const db_key_info *k)
{
    (void)ctx;
    char created[32], revoked[32] = "-";
    time_t t = (time_t)k->created;
    struct tm tm;
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    if (k->revoked) {
        t = (time_t)k->revoked;
        strftime(revoked, sizeof(revoked), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    }
    printf("%-6lld %-24s %-22s %s\n", (long long)k->id, k->name, created, revoked);
    return 0;
}

/* Restricts key kid to the n sites; on failure revokes it. */
static int
keys_cli_scope(db *d, int64_t kid, const int64_t *site_ids, int n)
{
    for (int i = 0; i < n; i++) {
        if (db_key_site_add(d, kid, site_ids[i]) != 0) {
            db_key_revoke(d, kid, (int64_t)time(NULL));
            return -1;
        }
    }
    return 0;
}

/* keys add | revoke through the control stream (ctl_cli.h): the key is
 * made here, only its hash goes into the stream.  Returns the exit
 * status. */
static int
keys_ctl(int is_add, db *d, const conf *c, const char *const *sites,
         int nsites, long long id)
{
    ctl_cmd *cmd = calloc(1, sizeof(*cmd));
    if (cmd == NULL)
        return CLI_ERR;
    char key[KEYS_BUF];
    const char *what = is_add ? "keys add" : "keys revoke";
    cmd->t = (int64_t)time(NULL);
    if (is_add) {
        cmd->verb = CTL_KEY_ADD;
        keys_generate(key, cmd->hash);
        cmd->has_hash = 1;
        snprintf(cmd->name, sizeof(cmd->name), "%s", c->name);
        for (int i = 0; i < nsites && i < CTL_SITES_MAX; i++)
            snprintf(cmd->sites[cmd->nsites++], CTL_SITE_MAX + 1, "%s", sites[i]);
    } else {
        cmd->verb = CTL_KEY_REVOKE;
        cmd->id = id;
    }
    int64_t kid;
    int st = ctl_cli_submit(what, d, c->source, cmd, &kid), rc = CLI_ERR;
    if (st == CTL_DONE && is_add) {
        printf("created API key id %lld%s%s; store it now, it cannot be shown again:\n%s\n",
               (long long)kid, c->name[0] ? " named " : "", c->name, key);
        fflush(stdout);
        rc = CLI_OK;
    } else if (st == CTL_DONE) {
        printf("revoked key %lld\n", id);
        rc = CLI_OK;
    } else if (st == CTL_NOTFOUND) {
        fprintf(stderr, "tallyd %s: %s\n", what, is_add
                ? "a --site is unknown (add it with 'tallyd sites add'); no key"
                  " was made"
                : "no active key with that id");
    } else if (st >= 0) {
        fprintf(stderr, "tallyd %s: the change was refused\n", what);
    }
    crypto_wipe(key, sizeof(key));
    crypto_wipe(cmd, sizeof(*cmd));
    free(cmd);
    return rc;
}

int
cli_keys(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "tallyd keys: missing subcommand (add, list or revoke)\n"
                        "Run 'tallyd --help' for usage.\n");
        return CLI_USAGE;
    }
    const char *sub = argv[0];
    int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0,
        is_revoke = strcmp(sub, "revoke") == 0;
    if (!is_add && !is_list && !is_revoke) {
        fprintf(stderr, "tallyd keys: unknown subcommand '%s' (add, list or revoke)\n"
                        "Run 'tallyd --help' for usage.\n", sub);
        return CLI_USAGE;
    }
    /* keys add --site DOMAIN (repeatable): scope the key (goals.h) */
    const char *sites[16];
    int nsites = 0, n2 = 1;
    for (int i = 1; i < argc; i++) {
        if (is_add && strcmp(argv[i], "--site") == 0 && i + 1 < argc && nsites < 16)
            sites[nsites++] = argv[++i];
        else
            argv[n2++] = argv[i];
    }
    argc = n2;
    conf c;
    char err[1024];
    const char *pos[1];
    int npos;
    conf_defaults(&c);
    if (conf_parse_args(&c, CONF_CMD_KEYS, argc - 1, argv + 1, pos,
                        is_revoke ? 1 : 0, &npos, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd keys %s: %s\nRun 'tallyd --help' for usage.\n", sub, err);
        return CLI_USAGE;
    }
    if (c.db[0] == '\0') {
        fprintf(stderr, "tallyd keys %s: needs --db FILE\n", sub);
        return CLI_USAGE;
    }
    if (c.name[0] != '\0' && !is_add) {
        fprintf(stderr, "tallyd keys %s: --name only applies to 'keys add'\n", sub);
        return CLI_USAGE;
    }
    long long id = 0;
    if (is_revoke) {
        char *end;
        errno = 0;
        if (npos != 1 || (id = strtoll(pos[0], &end, 10)) <= 0 || *end || errno) {
            fprintf(stderr, "tallyd keys revoke: needs the numeric ID of a key\n");
            return CLI_USAGE;
        }
    }
    log_set_level((enum log_level)c.log_level);
    if (crypto_start() != 0) {
        fprintf(stderr, "tallyd: libsodium failed to start\n");
        return CLI_ERR;
    }
    db *d;
    if (db_open(c.db, DB_RW, &d, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd keys %s: %s\n", sub, err);
        return CLI_ERR;
    }
    int rc = CLI_OK;
    int mode = is_list ? 0 : ctl_cli_mode(is_add ? "keys add" : "keys revoke", d,
                                          c.source);
    if (mode != 0) {
        rc = mode < 0 ? CLI_ERR : keys_ctl(is_add, d, &c, sites, nsites, id);
        db_close(d);
        return rc;
    }
    int64_t site_ids[16];
    for (int i = 0; i < nsites; i++) {
        if (db_goals_init(d) != 0 || db_site_find(d, sites[i], &site_ids[i]) != 1) {
            fprintf(stderr, "tallyd keys add: no site '%s' (add it with 'tallyd sites add')\n",
                    sites[i]);
            db_close(d);
            return CLI_ERR;
        }
    }
    if (is_add) {
        char key[KEYS_BUF];
        int64_t kid;
        if (keys_add(d, c.name[0] ? c.name : "", key, &kid) != 0) {
            fprintf(stderr, "tallyd keys add: cannot store the key: %s\n", db_errmsg(d));
            rc = CLI_ERR;
        } else if (keys_cli_scope(d, kid, site_ids, nsites) != 0) {
            fprintf(stderr, "tallyd keys add: cannot scope the key (revoked it): %s\n",
                    db_errmsg(d));
            rc = CLI_ERR;
        } else {
            printf("created API key id %lld%s%s; store it now, it cannot be shown again:\n%s\n",
                   (long long)kid, c.name[0] ? " named " : "", c.name, key);
            fflush(stdout);
        }
        crypto_wipe(key, sizeof(key));
    } else if (is_list) {
        printf("%-6s %-24s %-22s %s\n", "id", "name", "created", "revoked");
        if (db_key_each(d, keys_cli_print, NULL) != 0)
            rc = CLI_ERR;
    } else {
        int r = db_key_revoke(d, (int64_t)id, (int64_t)time(NULL));
        if (r < 0) {
            rc = CLI_ERR;
        } else if (r == 0) {
            fprintf(stderr, "tallyd keys revoke: no active key with id %lld\n", id);
            rc = CLI_ERR;
        } else {
            printf("revoked key %lld\n", id);
        }
    }
    db_close(d);
    return rc;
}
