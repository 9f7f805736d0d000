/* goals_cli.c -- tallyd goals add | list | remove; see sites_cli.h. */
#include "aggregator/cli.h"
#include "aggregator/ctl_cli.h"
#include "aggregator/goals.h"
#include "aggregator/sites_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
goals_print(void *ctx, int64_t id, int kind, const char *value)
{
    (void)ctx;
    printf("%-6lld %-6s %s\n", (long long)id, kind == GOAL_PAGE ? "page" : "event", value);
    return 0;
}

/* goals add | remove through the control stream (ctl_cli.h).  Returns
 * the exit status. */
static int
goals_ctl(const char *sub, db *d, const sites_args *a, enum goal_kind kind,
          const char *value, long long gid)
{
    ctl_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CLI_ERR;
    int add = strcmp(sub, "add") == 0;
    c->verb = add ? CTL_GOAL_ADD : CTL_GOAL_REMOVE;
    snprintf(c->site, sizeof(c->site), "%s", a->site);
    c->kind = (int)kind;
    snprintf(c->value, sizeof(c->value), "%s", value ? value : "");
    c->t = (int64_t)time(NULL);
    c->id = gid;
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "goals %s", sub);
    int64_t id;
    int st = ctl_cli_submit(cmd, d, a->source, c, &id), rc = CLI_OK;
    if (st < 0) {
        rc = CLI_ERR;
    } else if (add && (st == CTL_DONE || st == CTL_EXISTS)) {
        printf("%s goal %lld: %s %s\n", st == CTL_DONE ? "added" : "exists",
               (long long)id, kind == GOAL_PAGE ? "page" : "event", value);
    } else if (!add && st == CTL_DONE) {
        printf("removed goal %lld\n", gid);
    } else {
        if (st == CTL_NOTFOUND && add)
            fprintf(stderr, "tallyd %s: no site '%s' (add it with 'tallyd sites"
                    " add')\n", cmd, a->site);
        else if (st == CTL_NOTFOUND)
            fprintf(stderr, "tallyd %s: site %s has no goal %lld\n", cmd,
                    a->site, gid);
        else
            fprintf(stderr, "tallyd %s: the change was refused\n", cmd);
        rc = CLI_ERR;
    }
    free(c);
    return rc;
}

int
cli_goals(int argc, char **argv)
{
    const char *sub = argc ? argv[0] : "";
    int add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0,
        rm = strcmp(sub, "remove") == 0;
    if (!add && !list && !rm) {
        fprintf(stderr, "tallyd goals: %s subcommand%s%s (add, list or remove)\n"
                "Run 'tallyd --help' for usage.\n", argc ? "unknown" : "missing",
                argc ? " " : "", sub);
        return CLI_USAGE;
    }
    sites_args a;
    if (sites_args_parse("goals", argc - 1, argv + 1, &a) != 0)
        return CLI_USAGE;
    if (a.site == NULL) {
        fprintf(stderr, "tallyd goals %s: needs --site DOMAIN\n", sub);
        return CLI_USAGE;
    }
    char err[256];
    enum goal_kind kind = a.page ? GOAL_PAGE : GOAL_EVENT;
    const char *value = a.page ? a.page : a.event;
    if (add && ((a.page != NULL) == (a.event != NULL) || a.npos != 0)) {
        fprintf(stderr, "tallyd goals add: needs exactly one of --event NAME or"
                " --page PATTERN\n");
        return CLI_USAGE;
    }
    if (add && goal_validate(kind, value, err, sizeof err) != 0) {
        fprintf(stderr, "tallyd goals add: %s\n", err);
        return CLI_USAGE;
    }
    char *end = NULL;
    long long gid = rm && a.npos == 1 ? strtoll(a.pos[0], &end, 10) : 0;
    if (rm && (a.npos != 1 || *end != '\0' || gid <= 0)) {
        fprintf(stderr, "tallyd goals remove: needs one goal ID (see goals list)\n");
        return CLI_USAGE;
    }
    if (list && a.npos != 0) {
        fprintf(stderr, "tallyd goals list: takes no arguments\n");
        return CLI_USAGE;
    }
    db *d = sites_open("goals", &a);
    if (d == NULL)
        return CLI_ERR;
    int rc = CLI_OK;
    int64_t sid, id;
    int mode = list ? 0 : ctl_cli_mode("goals", d, a.source);
    if (mode != 0) {
        rc = mode < 0 ? CLI_ERR : goals_ctl(sub, d, &a, kind, value, gid);
        db_close(d);
        return rc;
    }
    int f = db_site_find(d, a.site, &sid);
    if (f <= 0) {
        fprintf(stderr, "tallyd goals %s: %s '%s'%s\n", sub,
                f ? "database error looking up" : "no site", a.site,
                f ? "" : " (add it with 'tallyd sites add')");
        rc = CLI_ERR;
    } else if (add) {
        int r = db_goal_add(d, sid, kind, value, (int64_t)time(NULL), &id);
        if (r < 0)
            rc = CLI_ERR;
        else
            printf("%s goal %lld: %s %s\n", r ? "added" : "exists", (long long)id,
                   kind == GOAL_PAGE ? "page" : "event", value);
    } else if (list) {
        rc = db_goal_each(d, sid, goals_print, NULL) == 0 ? CLI_OK : CLI_ERR;
    } else {
        int r = db_goal_remove(d, sid, gid);
        if (r <= 0) {
            if (r == 0)
                fprintf(stderr, "tallyd goals remove: site %s has no goal %lld\n",
                        a.site, gid);
            rc = CLI_ERR;
        } else {
            printf("removed goal %lld\n", gid);
        }
    }
    db_close(d);
    return rc;
}
