/*
 * ctl_sync.h -- applying the control stream (ctl.h) to a database,
 * exactly once and in stream order, shared by `tallyd serve --source`
 * (rdrain.c, every pass) and the admin commands (ctl_cli.h), which may
 * run at the same time on the same database.
 *
 * The position is source_pos's row CTL_STREAM (db_streams.h), written in
 * the same transaction as the changes.  It is read again inside that
 * (IMMEDIATE) transaction, so two appliers never apply an entry twice:
 * the second one skips what the first committed.  An entry that does not
 * decode is logged with its ID, recorded CTL_INVALID and skipped -- on
 * every replica alike.
 */
#ifndef TALLY_AGG_CTL_SYNC_H
#define TALLY_AGG_CTL_SYNC_H

#include "aggregator/db.h"
#include "aggregator/redis_source.h"

#include <stdint.h>

#define CTL_SYNC_BATCH 256       /* entries per transaction */

/* What the last ctl_sync saw or committed. */
typedef struct {
    char     pos[RSRC_ID_MAX];   /* last entry applied ("0-0": none)    */
    uint64_t n;                  /* entries applied up to it            */
    int      site_removed;       /* a site.remove was applied: the
                                    caller drops ids it cached          */
} ctl_state;

/* Marks d as a replica's database: creates the admin tables and the
 * control position (source_pos row CTL_STREAM, "0-0") if missing.  From
 * then on the admin commands refuse local-only writes on it.  Returns 0
 * or -1 (logged). */
int ctl_mark(db *d);

/* 1 when d belongs to a replica (ctl_mark ran on it), 0 when not, -1.
 * Creates the (empty) source_pos table when missing (a DB_RW handle). */
int ctl_is_replica(db *d);

/* Reads the committed position into *st (pos, n; site_removed = 0).
 * Returns 0 or -1. */
int ctl_position(db *d, ctl_state *st);

/* Reads up to CTL_SYNC_BATCH entries after the database's position from
 * src and applies them in one transaction (d: DB_RW, no transaction
 * open).  *st gets the committed position.  Returns the number applied
 * (0: nothing new), -1 on a Redis error (rsrc_errstr) or -2 on a
 * database error (rolled back, logged; busy counts as one). */
long ctl_sync(db *d, rsrc *src, ctl_state *st);

#endif
