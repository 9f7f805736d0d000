/* main.c -- tallyd: command dispatch, --help, --version. */
#include "aggregator/cli.h"
#include "aggregator/cli_purge.h"
#include "aggregator/import.h"
#include "aggregator/users_cli.h"
#include "aggregator/replica.h"
#include "aggregator/ship.h"
#include "aggregator/sites_cli.h"

#include <stdio.h>
#include <string.h>

#define TALLYD_VERSION "0.1.0"

int
main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0
        || strcmp(cmd, "-h") == 0) {
        cli_usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tallyd %s\n", TALLYD_VERSION);
        return CLI_OK;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_usage(stdout);
            return CLI_OK;
        }
    }
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "drain") == 0)
        return cli_drain(argc - 2, argv + 2);
    if (strcmp(cmd, "backup") == 0)
        return cli_backup(argc - 2, argv + 2);
    if (strcmp(cmd, "compact") == 0)
        return cli_compact(argc - 2, argv + 2);
    if (strcmp(cmd, "unseal") == 0)
        return cli_unseal(argc - 2, argv + 2);
    if (strcmp(cmd, "ship") == 0)
        return ship_main(argc - 2, argv + 2);
    if (strcmp(cmd, "replicas") == 0)
        return cli_replicas(argc - 2, argv + 2);
    if (strcmp(cmd, "keys") == 0)
        return cli_keys(argc - 2, argv + 2);
    if (strcmp(cmd, "import") == 0)
        return imp_main(argc - 2, argv + 2);
    if (strcmp(cmd, "users") == 0)
        return cli_users(argc - 2, argv + 2);
    if (strcmp(cmd, "share") == 0)
        return cli_share(argc - 2, argv + 2);
    if (strcmp(cmd, "sites") == 0)
        return cli_sites(argc - 2, argv + 2);
    if (strcmp(cmd, "goals") == 0)
        return cli_goals(argc - 2, argv + 2);
    if (strcmp(cmd, "purge") == 0)
        return pg_cli_purge(argc - 2, argv + 2);
    fprintf(stderr, "tallyd: unknown %s '%s'\nRun 'tallyd --help' for usage.\n",
            cmd[0] == '-' ? "flag" : "command", cmd);
    return CLI_USAGE;
}
