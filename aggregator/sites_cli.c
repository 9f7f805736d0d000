/* sites_cli.c -- tallyd sites add | list | remove | scope-key; see
 * sites_cli.h. */
#include "aggregator/cli_purge.h"
#include "aggregator/sites_cli.h"
#include "aggregator/cli.h"
#include "aggregator/ctl_cli.h"
#include "aggregator/goals.h"
#include "aggregator/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
sites_args_parse(const char *cmd, int argc, char **argv, sites_args *a)
{
    memset(a, 0, sizeof(*a));
    static const char *const flags[] = { "--db", "--timezone", "--site",
                                         "--event", "--page", "--key-id",
                                         "--source" };
    for (int i = 0; i < argc; i++) {
        const char *x = argv[i];
        size_t f = 0;
        while (f < 7 && strcmp(x, flags[f]) != 0)
            f++;
        if (f < 7) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tallyd %s: %s needs a value\n", cmd, x);
                return -1;
            }
            const char **slot[] = { &a->db, &a->timezone, &a->site, &a->event,
                                    &a->page, &a->key_id, &a->source };
            *slot[f] = argv[++i];
        } else if (x[0] == '-' && x[1] != '\0') {
            fprintf(stderr, "tallyd %s: unknown flag '%s'\nRun 'tallyd --help' for usage.\n",
                    cmd, x);
            return -1;
        } else if (a->npos < 2) {
            a->pos[a->npos++] = x;
        } else {
            fprintf(stderr, "tallyd %s: unexpected argument '%s'\n", cmd, x);
            return -1;
        }
    }
    if (a->db == NULL) {
        fprintf(stderr, "tallyd %s: needs --db FILE\n", cmd);
        return -1;
    }
    return 0;
}

db *
sites_open(const char *cmd, const sites_args *a)
{
    char err[512];
    db *d;
    if (db_open(a->db, DB_RW, &d, err, sizeof err) != 0) {
        fprintf(stderr, "tallyd %s: %s\n", cmd, err);
        return NULL;
    }
    if (db_goals_init(d) != 0) {
        fprintf(stderr, "tallyd %s: cannot create the goals tables: %s\n", cmd,
                db_errmsg(d));
        db_close(d);
        return NULL;
    }
    return d;
}

static int
sites_domain_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '/')
            return 0;
    return 1;
}

static int
sites_print(void *ctx, int64_t id, const char *domain, const char *tz)
{
    (void)ctx;
    printf("%-6lld %-40s %s\n", (long long)id, domain, tz);
    return 0;
}

/* sites add | remove | scope-key through the control stream
 * (ctl_cli.h).  Returns the exit status. */
static int
sites_ctl(const char *sub, db *d, const sites_args *a, const char *tz)
{
    ctl_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CLI_ERR;
    c->verb = strcmp(sub, "add") == 0 ? CTL_SITE_ADD
            : strcmp(sub, "remove") == 0 ? CTL_SITE_REMOVE : CTL_KEY_SCOPE;
    snprintf(c->site, sizeof(c->site), "%s", a->pos[0]);
    snprintf(c->tz, sizeof(c->tz), "%s", tz);
    c->t = (int64_t)time(NULL);
    c->id = a->key_id ? atoll(a->key_id) : 0;
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "sites %s", sub);
    int64_t obj;
    int st = ctl_cli_submit(cmd, d, a->source, c, &obj), rc = CLI_OK;
    if (st < 0) {
        rc = CLI_ERR;
    } else if (c->verb == CTL_SITE_ADD && st != CTL_INVALID) {
        printf("%s %s (time zone %s)\n", st == CTL_DONE ? "added" : "updated",
               c->site, tz);
    } else if (c->verb == CTL_SITE_REMOVE && st == CTL_DONE) {
        printf("removed %s and all its data\n", c->site);
    } else if (c->verb == CTL_KEY_SCOPE && st == CTL_DONE) {
        printf("key %lld may now read %s (and only its scoped sites)\n",
               (long long)c->id, c->site);
    } else {
        fprintf(stderr, "tallyd %s: %s\n", cmd, st == CTL_NOTFOUND
                ? (c->verb == CTL_KEY_SCOPE ? "no such site or key" : "no such site")
                : "the change was refused");
        rc = CLI_ERR;
    }
    free(c);
    return rc;
}

int
cli_sites(int argc, char **argv)
{
    const char *sub = argc ? argv[0] : "";
    if (strcmp(sub, "delete") == 0)     /* erasure: cli_purge.c */
        return pg_cli_sites_delete(argc - 1, argv + 1);
    int add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0,
        rm = strcmp(sub, "remove") == 0, scope = strcmp(sub, "scope-key") == 0;
    if (!add && !list && !rm && !scope) {
        fprintf(stderr, "tallyd sites: %s subcommand%s%s (add, list, remove, delete"
                " or scope-key)\nRun 'tallyd --help' for usage.\n",
                argc ? "unknown" : "missing", argc ? " " : "", sub);
        return CLI_USAGE;
    }
    sites_args a;
    if (sites_args_parse("sites", argc - 1, argv + 1, &a) != 0)
        return CLI_USAGE;
    int want = list ? 0 : 1;
    if (a.npos != want) {
        fprintf(stderr, "tallyd sites %s: %s\n", sub, want ? "needs one DOMAIN"
                : "takes no arguments");
        return CLI_USAGE;
    }
    if (!list && !sites_domain_ok(a.pos[0])) {
        fprintf(stderr, "tallyd sites %s: '%s' is not a valid domain\n", sub, a.pos[0]);
        return CLI_USAGE;
    }
    const char *tz = a.timezone ? a.timezone : "UTC";
    if (add) {
        char err[256];
        if (!tz_name_valid(tz) || tz_get(tz, err, sizeof err) == NULL) {
            fprintf(stderr, "tallyd sites add: unknown time zone '%s' (use an IANA"
                    " name such as Europe/Berlin)\n", tz);
            return CLI_USAGE;
        }
    }
    if (scope && (a.key_id == NULL || atoll(a.key_id) <= 0)) {
        fprintf(stderr, "tallyd sites scope-key: needs --key-id ID\n");
        return CLI_USAGE;
    }
    db *d = sites_open("sites", &a);
    if (d == NULL)
        return CLI_ERR;
    int rc = CLI_OK;
    int mode = list ? 0 : ctl_cli_mode("sites", d, a.source);
    if (mode != 0) {
        rc = mode < 0 ? CLI_ERR : sites_ctl(sub, d, &a, tz);
        db_close(d);
        return rc;
    }
    if (add) {
        int r = db_site_upsert(d, a.pos[0], tz);
        if (r < 0)
            rc = CLI_ERR;
        else
            printf("%s %s (time zone %s)\n", r ? "added" : "updated", a.pos[0], tz);
    } else if (list) {
        rc = db_sites_list(d, sites_print, NULL) == 0 ? CLI_OK : CLI_ERR;
    } else if (rm) {
        int r = db_site_delete(d, a.pos[0]);
        if (r < 0) {
            rc = CLI_ERR;
        } else if (r == 0) {
            fprintf(stderr, "tallyd sites remove: no site '%s'\n", a.pos[0]);
            rc = CLI_ERR;
        } else {
            printf("removed %s and all its data\n", a.pos[0]);
        }
    } else {
        int64_t sid;
        int f = db_site_find(d, a.pos[0], &sid);
        if (f <= 0) {
            if (f == 0)
                fprintf(stderr, "tallyd sites scope-key: no site '%s'\n", a.pos[0]);
            rc = CLI_ERR;
        } else if (db_key_site_add(d, atoll(a.key_id), sid) != 0) {
            rc = CLI_ERR;
        } else {
            printf("key %s may now read %s (and only its scoped sites)\n",
                   a.key_id, a.pos[0]);
        }
    }
    if (rc == CLI_ERR && !rm && !scope)
        fprintf(stderr, "tallyd sites %s: database error: %s\n", sub, db_errmsg(d));
    db_close(d);
    return rc;
}
