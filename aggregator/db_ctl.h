/*
 * db_ctl.h -- applying control-stream commands (ctl.h) to the admin
 * tables: sites, goals, key_sites, api_keys, web_users, web_shares.
 * Site rows are named by domain in every command, never by id: a site's
 * id is local to a database (the ingest creates sites too, in the order
 * events arrive).  Goal, key and share ids are assigned by SQLite in
 * apply order, so replicas that applied the same entries from the same
 * start agree on them.
 *
 *   ctl_applied(ms INTEGER, seq INTEGER,   the entry ID "MS-SEQ"
 *               status INTEGER,            enum ctl_status
 *               obj INTEGER)               the goal/key/share/user id it
 *                                          made, 0 if none
 *
 * ctl_applied keeps the outcome of the entries of the last 7 days (by
 * entry ID time, so every replica prunes the same rows), for the CLI
 * that added an entry to report what happened.  The position in the
 * control stream is source_pos's row CTL_STREAM (db_streams.h).
 */
#ifndef TALLY_AGG_DB_CTL_H
#define TALLY_AGG_DB_CTL_H

#include "aggregator/ctl.h"
#include "aggregator/db.h"

#include <stdint.h>

/* Creates ctl_applied, the goals tables and the web tables if missing (a
 * DB_RW handle).  Returns 0 or -1 (logged). */
int db_ctl_init(db *d);

/* Applies entry ms-seq inside the caller's open transaction and records
 * its outcome in ctl_applied.  c == NULL means the entry did not decode:
 * it is recorded CTL_INVALID and changes nothing else.  A command the
 * tables refuse (a constraint, an invalid goal) is rolled back to a
 * savepoint and recorded CTL_INVALID too, so every replica skips it the
 * same way.  Returns the status (enum ctl_status, *obj set), or -1 on a
 * database error (the caller rolls back). */
int db_ctl_apply(db *d, uint64_t ms, uint64_t seq, const ctl_cmd *c,
                 int64_t *obj);

/* The recorded outcome of entry ms-seq: 1 (*status, *obj set), 0 none
 * (not applied yet, or pruned), -1. */
int db_ctl_result(db *d, uint64_t ms, uint64_t seq, int *status,
                  int64_t *obj);

#endif
