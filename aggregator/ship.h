/*
 * ship.h -- `tallyd ship`: moves an edge's spool into the Redis Stream
 * "tally:edge:<EDGE>", exactly once, then deletes what Redis holds.
 *
 * Every spool record (one atomic batch of events) becomes one stream
 * entry: field "r" = the record's bytes exactly as in the segment (20-byte
 * header + payload, so the consumer checks its CRCs with
 * spool_record_decode), "seg" = segment name, "off" = its offset.
 *
 * IDs and exactly once.  Segments of several writer pids grow at the same
 * time, so no ID computed from (segment, offset) alone can both grow in
 * shipping order and be recomputed after a crash.  Instead the shipper
 * numbers records itself: a batch ("plan") of up to `batch` records gets
 * the IDs MS-SEQ, MS-(SEQ+1), ... with MS = max(now in ms, last MS) and
 * SEQ continuing after the last ID in the same millisecond, so IDs grow
 * strictly.  The plan -- which records (segment, start offset, count) get
 * which IDs -- is written to the state file atomically and durably BEFORE
 * the XADDs are sent.  After a crash (or a lost connection) the same plan
 * is sent again: same records, same IDs.  Redis refuses an XADD whose ID is
 * not above the stream's last ID ("ERR The ID specified in XADD is equal
 * or smaller than the target stream top item"), which for a re-sent plan
 * means "already there" and is counted, not an error.  Redis keeps a
 * stream's last ID even when the entries are trimmed, so the refusal also
 * works after the consumer trimmed them.  New plans start above
 * max(state's last ID, the stream's last-generated-id from XINFO STREAM),
 * read at every (re)connect.  A refused XADD of a plan never sent before
 * means another writer uses the stream (two shippers with the same --edge):
 * the shipper stops with an error instead of guessing.
 *
 * Deleting.  Once every XADD of a plan is acknowledged, the positions move
 * on (in the state file).  A segment that was finished before it was read
 * (spool_segment_is_finished) and is acknowledged to its end is unlinked,
 * then its ".done" marker -- only after the state saying so is on disk.
 * Its row is forgotten once the file is gone.
 *
 * Redis down: reconnects with exponential backoff (100 ms doubling, capped
 * at 5 s), keeps the pending plan, and goes on when Redis is back.  Every
 * connect announces the edge: SADD tally:edges <EDGE>.
 */
#ifndef TALLY_AGG_SHIP_H
#define TALLY_AGG_SHIP_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct {
    char     spool[PATH_MAX];   /* spool directory                         */
    char     url[1024];         /* redis://...                             */
    char     edge[72];          /* edge name, rsrc_edge_valid              */
    char     state[PATH_MAX];   /* state file; "" = <spool>/tally-ship.state */
    unsigned batch;             /* max XADDs per round trip (default 500)  */
    size_t   batch_bytes;       /* max record bytes per round trip (8 MiB) */
    unsigned poll_ms;           /* idle spool poll interval (default 200)  */
    unsigned lag_log_s;         /* lag log line interval (default 10)      */
    int      timeout_ms;        /* Redis connect/read timeout (5000)       */
} ship_conf;

/* Fills c with the defaults above (strings empty). */
void ship_conf_defaults(ship_conf *c);

/* Runs the shipper until *stop is set (checked at least every 100 ms
 * while idle or backing off, and between batches).  Takes an exclusive
 * lock on "<state>.lock" so one spool has one shipper.  Returns 0 after a
 * clean stop (state saved), 1 on a fatal error (logged): bad state file,
 * lock held by another shipper, stream written by someone else. */
int ship_run(const ship_conf *c, const atomic_int *stop);

/* `tallyd ship ...` (ship_cli.c): argv holds the arguments after "ship".
 * Parses the flags, installs SIGTERM/SIGINT (stop) and SIGPIPE (ignore)
 * handlers and runs ship_run.  Returns the exit status: 0 after a clean
 * stop, 1 on a fatal error, 2 on a usage error (message on stderr). */
int ship_main(int argc, char **argv);

#endif
