/*
 * rdrain.h -- the Redis source of `tallyd serve --source redis://...`:
 * applies every edge's stream (docs/redis.md) to the database, exactly
 * once, and trims the streams behind the slowest replica (replica.h,
 * docs/cluster.md).
 *
 * A pass reads a batch of entries from every stream (tally:edge:<NAME>
 * for every name in tally:edges, rechecked every 2 s), each from its
 * stored position (db_streams.h), and merges them by time: the entry
 * whose record's first event is oldest goes first (ties: stream name),
 * and a stream whose batch runs out is read again before the merge goes
 * on.  Every record is decoded with spool_record_decode; a corrupt one
 * (or an entry without the "r" field) is counted, logged with stream,
 * ID, segment and offset, and skipped: the position moves past it.  The
 * events go through the ingest (ingest.h) and each stream's new position
 * (last ID, entries applied) is written in the same transaction (at most
 * batch_events events per transaction), so a SIGKILL at any instant
 * replays nothing and skips nothing.
 *
 * After each commit: with a replica name, the positions and a heartbeat
 * are published (replica_publish); then each advanced stream is trimmed
 * behind the minimum over every registered replica and this consumer
 * (replica_trim).  Every 2 s the stream's XINFO is checked: when trimming
 * removed entries this database never applied (a replica that joins
 * late, or one that was forgotten while it ran), rdrain refuses to go on
 * (RDRAIN_FATAL) and tells the operator to seed it from another
 * replica's `tallyd backup`.  A stream longer than stream_warn entries is
 * logged (once a minute).
 *
 * While Redis is unreachable, passes fail fast (-1) and the caller waits
 * rdrain_backoff_ms() (100 ms doubling to 5 s); nothing is lost, reading
 * resumes from the committed positions.
 */
#ifndef TALLY_AGG_RDRAIN_H
#define TALLY_AGG_RDRAIN_H

#include "aggregator/db.h"
#include "aggregator/ingest.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RDRAIN_FATAL (-2)

typedef struct rdrain rdrain;

/* Totals since rdrain_new. */
typedef struct {
    uint64_t events;      /* events stored                           */
    uint64_t entries;     /* stream entries applied (corrupt too)    */
    uint64_t corrupt;     /* corrupt entries skipped                 */
    uint64_t invalid;     /* events skipped (no site/name/url, bot)  */
    uint64_t commits;     /* transactions committed                  */
    uint64_t trimmed;     /* entries this consumer trimmed           */
    uint64_t ctl;         /* control entries applied (ctl_sync.h)    */
} rdrain_stats;

/* Creates the source: url is redis://... (redis.h), replica a replica
 * name (replica_name_valid) or NULL/"" for an unregistered consumer,
 * d/g a DB_RW handle and an ingest on it (borrowed).  Creates the
 * source_pos table.  Does not talk to Redis yet.  Returns NULL with a
 * reason in err (bad URL or name, database error, no memory). */
rdrain *rdrain_new(const char *url, const char *replica, db *d, ingest *g,
                   unsigned batch_events, unsigned stream_warn, char *err,
                   size_t errlen);
void rdrain_free(rdrain *rd);

/* Connects, discovers the streams, registers the replica and checks
 * that no stream was trimmed past this database's positions.  Returns
 * 0, -1 when Redis is unreachable (rdrain_pass does the same later), or
 * RDRAIN_FATAL (logged: this database cannot continue). */
int rdrain_start(rdrain *rd);

/* Runs one pass (see above), checking *stop (may be NULL) between
 * transactions.  Returns the number of entries applied (0: nothing new),
 * -1 on a Redis or database error (what was applied before it is
 * committed; wait rdrain_backoff_ms() and call again), or RDRAIN_FATAL. */
long rdrain_pass(rdrain *rd, const atomic_int *stop);

/* How long to wait after a failed pass (ms). */
unsigned rdrain_backoff_ms(const rdrain *rd);

/* Totals since rdrain_new. */
void rdrain_get_stats(const rdrain *rd, rdrain_stats *st);

#endif
