/*
 * rollup.h -- the per-batch accumulator of rollup deltas.  The ingest adds
 * metric deltas for (site, dim, hour, k1, k2) rows here while it reads a
 * batch; rollup_flush writes each touched row once (an upsert adding the
 * deltas) inside the batch's transaction.  Never one statement per event.
 */
#ifndef TALLY_AGG_ROLLUP_H
#define TALLY_AGG_ROLLUP_H

#include "aggregator/db.h"
#include "aggregator/dims.h"

#include <stddef.h>
#include <stdint.h>

typedef db_rollup_row rollup_row;   /* deltas in m[], by enum metric */

typedef struct rollup rollup;

/* Creates an empty accumulator (caller frees with rollup_free), NULL when
 * out of memory. */
rollup *rollup_new(void);
void rollup_free(rollup *r);

/* The delta row of (site, dim, hour, k1, k2), created zeroed when absent.
 * The pointer is owned by r and valid until rollup_clear or rollup_flush
 * (rows never move).  NULL when out of memory. */
int64_t *rollup_at(rollup *r, int64_t site, int dim, int64_t hour,
                   int64_t k1, int64_t k2);

/* Number of rows held. */
size_t rollup_count(const rollup *r);

/* Writes every non-zero row with db_rollup_add (inside the caller's
 * transaction) and empties r.  Returns 0 or -1 (r is emptied either
 * way). */
int rollup_flush(rollup *r, db *d);

/* Forgets every row. */
void rollup_clear(rollup *r);

#endif
