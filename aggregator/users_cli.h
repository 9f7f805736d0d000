/*
 * users_cli.h -- the dashboard's commands (users_cli.c), in cli.h's
 * conventions: arguments after the command word, exit status CLI_OK,
 * CLI_ERR or CLI_USAGE with the message already on stderr.
 *
 *   tallyd users add|passwd --db FILE NAME   password from stdin (one
 *                                            line), or asked twice
 *                                            without echo on a terminal
 *   tallyd users list --db FILE
 *   tallyd users remove --db FILE NAME
 *   tallyd share add --db FILE --site DOMAIN prints /?share=TOKEN
 *   tallyd share list --db FILE [--site DOMAIN]
 *   tallyd share revoke --db FILE ID
 */
#ifndef TALLY_AGG_USERS_CLI_H
#define TALLY_AGG_USERS_CLI_H

int cli_users(int argc, char **argv);
int cli_share(int argc, char **argv);

#endif
