/*
 * ingest.h -- from spool events to stored rows: enrichment and dictionary
 * encoding (attrs.h), sessions (session.h), raw event rows, visits rows
 * and hourly rollups with exact visitors (uniq.h, rollup.h).
 *
 * Use, on a DB_RW handle, per drain batch:
 *
 *     db_begin(d); ingest_ready(g);
 *     ingest_event(g, ev) ...;          raw rows go in at once
 *     ingest_flush(g); <positions>; db_commit(d);
 *
 * ingest_flush writes every visit changed in the batch and the batch's
 * aggregated rollup deltas (one upsert per touched row), and the event
 * time high-water mark (meta hwm_ms), in the caller's transaction: rows,
 * rollups and spool positions commit together.  After a rollback call
 * ingest_reset: the next ingest_ready rebuilds the in-memory state (open
 * visits, the day's visitor sets) by replaying the raw events from the
 * start of the day before the high-water mark's day -- the same code as
 * live ingestion, without writing.  So a crash or kill at any instant
 * gives the same tables as an uninterrupted run.
 *
 * Rules (docs/storage.md): a visit ends after 30 minutes without events
 * of its visitor on its site; a visit is split when it would reach back
 * to a UTC day more than one day before the newest event (so every open
 * visit starts on a day whose visitor sets are in memory); bots (UA
 * data) are dropped and counted.
 */
#ifndef TALLY_AGG_INGEST_H
#define TALLY_AGG_INGEST_H

#include "aggregator/attrs.h"
#include "aggregator/db.h"
#include "spool/spool.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ingest ingest;

/* Creates an ingest writing to d with enrichment x (both borrowed: the
 * caller keeps and frees them after ingest_free).  NULL when out of
 * memory. */
ingest *ingest_new(db *d, attrs_ctx *x);
void ingest_free(ingest *g);

/* Inside an open transaction: rebuilds the in-memory state if needed
 * (first use, or after ingest_reset).  Returns 0 or -1. */
int ingest_ready(ingest *g);

/* Stores one spool event inside the open transaction.  Returns 1 stored,
 * 0 skipped (*why: a short reason), -1 database error. */
int ingest_event(ingest *g, const spool_event *e, const char **why);

/* Writes the batch's visits, rollup deltas and high-water mark inside
 * the open transaction, then evicts idle visits and finished days.
 * Returns 0 or -1 (then roll back and ingest_reset). */
int ingest_flush(ingest *g);

/* Forgets all in-memory state (after a rollback). */
void ingest_reset(ingest *g);

/* The newest event time stored (ms), 0 before the first. */
int64_t ingest_hwm(const ingest *g);

typedef struct {
    uint64_t visits_open;     /* visits in memory                  */
    uint64_t uniq_keys;       /* visitor-set keys in memory        */
    uint64_t replayed;        /* events replayed by the last ready */
    uint64_t bots;            /* bot events dropped since start    */
} ingest_stats;

void ingest_get_stats(const ingest *g, ingest_stats *st);

/* ---- rebuilding stored days (tallyd purge, aggregator/purge.c) ----
 *
 * An ingest of its own (ingest_new on the same handle) re-derives the
 * visits and rollups of whole site-days from their stored raw events,
 * after the caller deleted those days' visits and rollup rows, inside
 * the caller's transaction:
 *
 *     ingest_rebuild_begin(g);
 *     ingest_rebuild_event(g, e, &visit_id) ...   (ts, seq) order, per site
 *     ingest_flush(g) ...                         as often as wanted
 *
 * Sessions, visitor sets and rollup deltas are the live path's own
 * (ingest_event after enrichment: same visit rule, same code), so the
 * rebuilt rows equal those a fresh drain of the remaining events would
 * write.  Visits get new ids; no raw row is written (the caller stores
 * visit_id in the event's row).  ingest_flush writes this ingest's
 * high-water mark into meta hwm_ms: the caller restores the real one.
 * The days fed must not share a visit with days not fed. */

/* Empties g's state and makes it ready without replaying.  0 or -1. */
int ingest_rebuild_begin(ingest *g);

/* Adds stored event e (its visit_id is ignored); *visit_id is the id of
 * the visit it now belongs to.  Returns 0 or -1. */
int ingest_rebuild_event(ingest *g, const db_event2 *e, int64_t *visit_id);

#endif
