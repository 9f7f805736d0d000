/*
 * cli.h -- tallyd's commands.  Each takes the arguments after its command
 * word(s) and returns the process exit status: 0 success, 1 runtime
 * error, 2 usage error (the message is already printed on stderr).
 */
#ifndef TALLY_AGG_CLI_H
#define TALLY_AGG_CLI_H

#include <stdio.h>

#define CLI_OK    0
#define CLI_ERR   1
#define CLI_USAGE 2

/* tallyd serve --spool DIR --db FILE --listen HOST:PORT [...] (serve.c) */
int cli_serve(int argc, char **argv);

/* tallyd keys add|list|revoke ... (keys_cli.c); argv[0] is the
 * subcommand. */
int cli_keys(int argc, char **argv);

/* tallyd drain --spool DIR --db FILE [--once] [...] (cli_drain.c) */
int cli_drain(int argc, char **argv);

/* tallyd backup --db FILE OUT (cli_backup.c) */
int cli_backup(int argc, char **argv);

/* tallyd compact --db FILE (cli_compact.c) */
int cli_compact(int argc, char **argv);

/* tallyd unseal --db FILE [DOMAIN] (cli_compact.c) */
int cli_unseal(int argc, char **argv);

/* Prints the full usage text (cli_usage.c). */
void cli_usage(FILE *out);

#endif
