/*
 * pipeline.h -- the drain side of tallyd as serve and drain set it up:
 * the read-write database, the enrichment data, the ingest, the drain,
 * and raw-event retention.
 */
#ifndef TALLY_AGG_PIPELINE_H
#define TALLY_AGG_PIPELINE_H

#include "aggregator/attrs.h"
#include "aggregator/conf.h"
#include "aggregator/db.h"
#include "aggregator/drain.h"
#include "aggregator/ingest.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    db        *d;
    attrs_ctx *x;
    ingest    *g;
    drain     *dr;
    unsigned   retain_days;     /* 0 = keep raw events */
    int64_t    retain_next_ms;  /* wall clock of the next retention run */
    int64_t    compact_done_h;  /* compaction found nothing left below it */
    unsigned   seal_after;      /* seal days this old (db_seal.h); 0 = off */
    int64_t    seal_done_hwm;   /* sealing found nothing left at this hwm */
} pipeline;

/* Opens c->db read-write (creating or migrating it), loads the
 * enrichment data (--data-dir, else the default places; none found is a
 * warning) and builds the drain of c->spool.  Returns 0, or -1 with a
 * message in err (everything opened is closed again). */
int pipeline_open(pipeline *p, const conf *c, char *err, size_t errlen);

/* Closes everything pipeline_open opened (NULL members are fine). */
void pipeline_close(pipeline *p);

/* When retention is on and due (at most hourly, or always when force),
 * deletes raw events older than retain_days days (never any the ingest's
 * restart replay needs), 10,000 per transaction, checking *stop between
 * them.  Returns the number deleted, or -1. */
int64_t pipeline_retain(pipeline *p, int force, const atomic_int *stop);

/* Moves the daily / monthly rollups forward (db_compact_step) over the
 * UTC days before the day before the newest event's, at most max_steps
 * steps (0: until done), checking *stop between them; then, when
 * seal_after is set, seals up to 4 finished days (db_seal_step; all of
 * them when max_steps is 0).  Returns the number of steps taken, or -1. */
int64_t pipeline_compact(pipeline *p, int64_t max_steps, const atomic_int *stop);

#endif
