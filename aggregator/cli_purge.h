/*
 * cli_purge.h -- the erasure commands (cli_purge.c, purge.h).  Each takes
 * the arguments after its command words and returns the exit status
 * (cli.h: 0 done, 1 refused or failed -- nothing changed, 2 usage).
 */
#ifndef TALLY_AGG_CLI_PURGE_H
#define TALLY_AGG_CLI_PURGE_H

/* tallyd purge --db FILE --site SITE (--before YYYY-MM-DD | --path PREFIX) */
int pg_cli_purge(int argc, char **argv);

/* tallyd sites delete --db FILE SITE [--yes]; without --yes it only
 * prints what it would delete (exit 1). */
int pg_cli_sites_delete(int argc, char **argv);

#endif
