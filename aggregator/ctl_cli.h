/*
 * ctl_cli.h -- how the admin commands (`tallyd sites|goals|keys|users|
 * share`) write, shared by their CLIs:
 *
 *  - without --source, on a database that is not a replica's: directly,
 *    as always (single node);
 *  - without --source, on a replica's database (ctl_is_replica): refused,
 *    with a message asking for --source redis://...;
 *  - with --source redis://...: the change goes into the control stream
 *    (ctl.h) and the command then applies every pending control entry,
 *    its own included, to the local database itself (ctl_sync.h: exactly
 *    once even while `tallyd serve` applies them too), and reports the
 *    outcome its entry had.  It waits at most CTL_CLI_WAIT_S seconds
 *    (Redis down, database locked) and then fails with a clear message;
 *    the entry is in the stream by then and every replica applies it.
 */
#ifndef TALLY_AGG_CTL_CLI_H
#define TALLY_AGG_CTL_CLI_H

#include "aggregator/ctl.h"
#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

#define CTL_CLI_WAIT_S 30

/* Decides how `tallyd <cmd>` writes to d.  source: the --source value or
 * NULL.  Returns 0 (write locally), 1 (through the control stream: d is
 * marked a replica's database, ctl_mark) or -1 after printing why (a
 * replica's database without --source, a bad URL, a database error). */
int ctl_cli_mode(const char *cmd, db *d, const char *source);

/* Adds c to the control stream at source and applies the stream to d up
 * to and including it (see above).  Returns the entry's status (enum
 * ctl_status, *obj set: the id of the goal, key, share link or user it
 * made), or -1 after printing the error on stderr.  Before adding, it
 * refuses a database that trimming has left behind (it missed control
 * entries: seed it from a backup, docs/cluster.md). */
int ctl_cli_submit(const char *cmd, db *d, const char *source,
                   const ctl_cmd *c, int64_t *obj);

/* The same without printing: -1 with the reason in err (errlen bytes).
 * Used by the HTTP Sites API of a replica (api_qx.c) too. */
int ctl_submit(db *d, const char *source, const ctl_cmd *c, int64_t *obj,
               char *err, size_t errlen);

#endif
