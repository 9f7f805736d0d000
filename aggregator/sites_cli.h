/*
 * sites_cli.h -- tallyd sites add|list|remove|scope-key and tallyd goals
 * add|list|remove (sites_cli.c, goals_cli.c).  Same conventions as
 * cli.h: argv[0] is the subcommand; returns 0, 1 (error) or 2 (usage).
 */
#ifndef TALLY_AGG_SITES_CLI_H
#define TALLY_AGG_SITES_CLI_H

#include "aggregator/db.h"

int cli_sites(int argc, char **argv);
int cli_goals(int argc, char **argv);

/* Shared by both: parses --db FILE, --timezone Z, --site D, --event N,
 * --page P, --key-id N, --source redis://... (ctl_cli.h) and up to two
 * positional arguments. */
typedef struct {
    const char *db, *timezone, *site, *event, *page, *key_id, *source;
    const char *pos[2];
    int         npos;
} sites_args;

/* Returns 0, or -1 after printing a usage error for `cmd`. */
int sites_args_parse(const char *cmd, int argc, char **argv, sites_args *a);

/* Opens a->db read-write (created and migrated if needed) with the goals
 * tables.  NULL after printing the error. */
db *sites_open(const char *cmd, const sites_args *a);

#endif
