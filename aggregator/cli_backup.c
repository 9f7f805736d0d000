/* cli_backup.c -- the backup command: a consistent copy of the database
 * while tallyd keeps running (SQLite's online backup API). */
#include "aggregator/cli.h"
#include "aggregator/conf.h"
#include "aggregator/db.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
cli_backup(int argc, char **argv)
{
    conf c;
    char err[1024];
    const char *pos[1];
    int npos;
    conf_defaults(&c);
    if (conf_parse_args(&c, CONF_CMD_BACKUP, argc, argv, pos, 1, &npos, err,
                        sizeof(err)) != 0
        || (c.db[0] == '\0' && snprintf(err, sizeof(err), "backup needs --db FILE"))
        || (npos != 1 && snprintf(err, sizeof(err), "backup needs the output file OUT"))) {
        fprintf(stderr, "tallyd backup: %s\nRun 'tallyd --help' for usage.\n", err);
        return CLI_USAGE;
    }
    log_set_level((enum log_level)c.log_level);
    if (access(c.db, R_OK) != 0) {
        log_error("backup: cannot read database %s", c.db);
        return CLI_ERR;
    }
    if (access(pos[0], F_OK) == 0) {
        log_error("backup: %s exists; refusing to overwrite it", pos[0]);
        return CLI_ERR;
    }
    if (db_backup(c.db, pos[0], err, sizeof(err)) != 0) {
        log_error("backup: %s", err);
        unlink(pos[0]);
        return CLI_ERR;
    }
    log_info("backup: %s copied to %s", c.db, pos[0]);
    return CLI_OK;
}
