/* cli_purge.c -- `tallyd purge` and `tallyd sites delete` (purge.h). */
#include "aggregator/cli.h"
#include "aggregator/cli_purge.h"
#include "aggregator/db.h"
#include "aggregator/log.h"
#include "aggregator/purge.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *db, *site, *before, *path;
    int         yes;
    const char *pos[2];
    int         npos;
} pg_args;

/* Parses the flags both commands take.  0, or -1 with err set. */
static int
pg_parse(int argc, char **argv, pg_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        const char **dst = strcmp(f, "--db") == 0 ? &a->db
                         : strcmp(f, "--site") == 0 ? &a->site
                         : strcmp(f, "--before") == 0 ? &a->before
                         : strcmp(f, "--path") == 0 ? &a->path : NULL;
        if (dst != NULL || strcmp(f, "--log-level") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "%s needs a value", f);
                return -1;
            }
            const char *v = argv[++i];
            if (dst != NULL) {
                *dst = v;
                continue;
            }
            enum log_level lv;
            if (log_level_parse(v, &lv) != 0) {
                snprintf(err, errlen, "bad --log-level '%s'", v);
                return -1;
            }
            log_set_level(lv);
        } else if (strcmp(f, "--yes") == 0) {
            a->yes = 1;
        } else if (f[0] == '-' && f[1] != '\0') {
            snprintf(err, errlen, "unknown flag '%s'", f);
            return -1;
        } else if (a->npos < 2) {
            a->pos[a->npos++] = f;
        } else {
            snprintf(err, errlen, "unexpected argument '%s'", f);
            return -1;
        }
    }
    if (a->db == NULL) {
        snprintf(err, errlen, "--db FILE is required");
        return -1;
    }
    return 0;
}

/* Opens an existing database read-write.  NULL (logged) on error. */
static db *
pg_open(const char *path)
{
    char err[512];
    db *d;
    if (access(path, R_OK | W_OK) != 0) {
        log_error("cannot open database %s for writing", path);
        return NULL;
    }
    if (db_open(path, DB_RW, &d, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return NULL;
    }
    return d;
}

static int
pg_exit(int rc)
{
    return rc == PG_OK ? CLI_OK : CLI_ERR;
}

int
pg_cli_purge(int argc, char **argv)
{
    pg_args a;
    char err[512];
    pg_spec s = { .before_day = -1 };
    if (pg_parse(argc, argv, &a, err, sizeof(err)) != 0
        || (a.site == NULL && snprintf(err, sizeof(err), "--site SITE is required"))
        || ((a.before == NULL) == (a.path == NULL)
            && snprintf(err, sizeof(err), "give exactly one of --before"
                        " YYYY-MM-DD and --path PREFIX"))
        || (a.npos > 0 && snprintf(err, sizeof(err), "unexpected argument '%s'",
                                   a.pos[0]))
        || (a.before != NULL && pg_day_parse(a.before, &s.before_day) != 0
            && snprintf(err, sizeof(err), "--before wants a date YYYY-MM-DD,"
                        " not '%s'", a.before))
        || (a.path != NULL && a.path[0] == '\0'
            && snprintf(err, sizeof(err), "--path wants a non-empty prefix"))) {
        fprintf(stderr, "tallyd purge: %s\nRun 'tallyd --help' for usage.\n", err);
        return CLI_USAGE;
    }
    s.domain = a.site;
    s.path = a.path;
    db *d = pg_open(a.db);
    if (d == NULL)
        return CLI_ERR;
    pg_report r;
    char msg[512];
    int rc = pg_purge(d, &s, &r, msg, sizeof(msg));
    db_close(d);
    if (rc != PG_OK) {
        log_error("purge: %s; nothing changed", msg);
        return pg_exit(rc);
    }
    char what[600];
    if (s.path != NULL)
        snprintf(what, sizeof(what), "whose path starts with '%s'", s.path);
    else
        snprintf(what, sizeof(what), "before %s", a.before);
    printf("purged %s: %lld raw events %s\n", s.domain,
           (long long)r.events_deleted, what);
    if (r.windows > 0) {
        char a1[11], a2[11];
        pg_day_str(r.first_day, a1);
        pg_day_str(r.last_day, a2);
        printf("rebuilt %lld days (%s..%s) from %lld remaining events\n",
               (long long)r.days_rebuilt, a1, a2, (long long)r.events_rebuilt);
    }
    printf("deleted %lld visits and %lld rollup rows before rebuilding\n",
           (long long)r.visits_deleted, (long long)r.rollups_deleted);
    if (r.other_pid != 0)
        printf("dictionary kept: process %ld has the database open; run the"
               " purge again with tallyd stopped to delete strings nothing"
               " uses any more\n", r.other_pid);
    else
        printf("dictionary: deleted %lld unused strings and %lld attribute"
               " tuples\n", (long long)r.strings_deleted,
               (long long)r.attrs_deleted);
    if (r.wal_kept)
        printf("note: readers kept the WAL from being truncated; old page"
               " images stay in %s-wal until a later checkpoint\n", a.db);
    return CLI_OK;
}

int
pg_cli_sites_delete(int argc, char **argv)
{
    pg_args a;
    char err[512];
    if (pg_parse(argc, argv, &a, err, sizeof(err)) != 0
        || (a.site != NULL && a.npos == 0 && (a.pos[a.npos++] = a.site, 0))
        || (a.npos != 1 && snprintf(err, sizeof(err), "give exactly one SITE"))
        || ((a.before || a.path)
            && snprintf(err, sizeof(err), "--before and --path are for"
                        " 'tallyd purge'"))) {
        fprintf(stderr, "tallyd sites delete: %s\nRun 'tallyd --help' for"
                " usage.\n", err);
        return CLI_USAGE;
    }
    const char *site = a.pos[0];
    db *d = pg_open(a.db);
    if (d == NULL)
        return CLI_ERR;
    db_pg_site_rows n;
    long pid;
    char msg[512];
    int rc = pg_site_delete(d, site, a.yes, &n, &pid, msg, sizeof(msg));
    db_close(d);
    if (rc != PG_OK) {
        log_error("sites delete: %s; nothing changed", msg);
        return pg_exit(rc);
    }
    char rows[512];
    snprintf(rows, sizeof(rows), "%lld raw events, %lld visits, %lld rollup"
             " rows, %lld goals, %lld API-key scopes, %lld share links,"
             " %lld import ledger rows, %lld import positions",
             (long long)n.events, (long long)n.visits, (long long)n.rollups,
             (long long)n.goals, (long long)n.key_sites, (long long)n.shares,
             (long long)n.import_ledger, (long long)n.import_follow);
    if (!a.yes) {
        fprintf(stderr, "tallyd sites delete: would delete site %s and %s;"
                " nothing deleted: add --yes to delete\n", site, rows);
        return CLI_ERR;
    }
    printf("deleted site %s: %s\n", site, rows);
    if (pid != 0)
        printf("dictionary kept: process %ld has the database open; the"
               " next purge or site deletion run with tallyd stopped deletes"
               " the strings nothing uses any more\n", pid);
    return CLI_OK;
}
