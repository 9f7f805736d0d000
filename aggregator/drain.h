/*
 * drain.h -- moves events from the spool directory into the database,
 * exactly once.
 *
 * A pass lists the segments (spool_segment_name_valid) and groups them by
 * writer pid: one pid's segments are read one after the other, and the
 * pids' streams are merged by event time (the next record of every open
 * stream is decoded; the one with the oldest receive time goes first,
 * ties by segment name), so events of different NGINX workers reach the
 * sessionizer in time order.  Each stream resumes from the position
 * stored in spool_pos.  The events (through ingest.h) and every touched
 * segment's new position are written in the same transaction (at most
 * batch_events events per transaction), so a crash at any instant
 * replays nothing and loses nothing.  Corrupt records are logged with
 * segment and offset, counted and skipped.
 *
 * After the commit, a finished segment (spool_segment_is_finished) that
 * was read to its end is unlinked, then its ".done" marker.  Its spool_pos
 * row (offset = size, finished = 1) stays until a later pass sees the
 * file gone, so a crash between commit and unlink cannot make the next
 * run read it again from offset 0.
 */
#ifndef TALLY_AGG_DRAIN_H
#define TALLY_AGG_DRAIN_H

#include "aggregator/db.h"
#include "aggregator/ingest.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct drain drain;

/* Totals of one pass. */
typedef struct {
    uint64_t events;            /* events stored                       */
    uint64_t records;           /* records read                        */
    uint64_t corrupt;           /* corrupt records / torn tails found  */
    uint64_t invalid;           /* events skipped (no site/name/url, bot) */
    uint64_t commits;           /* transactions committed              */
    uint64_t segments_deleted;  /* finished segments removed           */
    uint64_t segments_pending;  /* segments with unread bytes          */
    uint64_t bytes_pending;     /* their unread bytes                  */
    int64_t  hwm_ms;            /* newest event time stored (0: none)  */
} drain_stats;

/* Creates a drain of spool_dir into d through g (a DB_RW handle and an
 * ingest on it, both borrowed: the caller keeps ownership).  Returns
 * NULL on allocation failure.  Free with drain_free. */
drain *drain_new(const char *spool_dir, db *d, ingest *g,
                 unsigned batch_events);
void drain_free(drain *dr);

/* Runs one pass: first converts a v1 events table left by a migration
 * (migrate_v1.h), then drains until no stream has a complete record.
 * Checks *stop (may be NULL) between transactions and returns early,
 * everything read so far committed, when it is set.  Fills *st.
 * Returns 0, or -1 after a database or directory error (the open
 * transaction is rolled back and the ingest reset; the next pass
 * retries). */
int drain_pass(drain *dr, drain_stats *st, const atomic_int *stop);

/* Corrupt records reported since drain_new. */
uint64_t drain_corrupt_total(const drain *dr);

#endif
