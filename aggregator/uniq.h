/*
 * uniq.h -- exact distinct-visitor counting for the hourly rollups.
 *
 * Every rollup row has two visitor columns: visitors_hour (distinct
 * visitors of that hour) and visitors_new (the visitor counted in the
 * first hour of the day in which it has that value).  Summing
 * visitors_new over the hours of whole days gives, exactly, the sum over
 * those days of each day's distinct visitors -- the number Plausible's
 * "visitors" means for salted daily ids.
 *
 * To decide "first of the day" this keeps, for each UTC day still open,
 * one record per (site, visitor) holding an entry per value (dim, k1, k2)
 * the visitor had that day:
 *   event dimensions: a 24-bit mask of the hours the visitor had the
 *     value in (order-independent: an earlier hour arriving later moves
 *     the visitor's visitors_new to it);
 *   visit dimensions: the mask of hours in which the visitor's visits
 *     with the value start, plus a count of any further visits in one
 *     hour -- visit values can change (the exit page moves, attributes
 *     arrive with the first pageview), so they are reference counted.
 * A visitor's entries sit together (one hash lookup per visitor, then a
 * probe in the visitor's own small hash table of values), so an event or
 * a visit costs one or two cache misses, not one per dimension.  Visitors and values are matched exactly (string
 * ids below 2^29 are stored as they are; larger ones as a 64-bit hash,
 * compared only within one visitor's record).  Memory is bounded by one
 * or two days of activity; uniq_drop_before forgets finished days.
 */
#ifndef TALLY_AGG_UNIQ_H
#define TALLY_AGG_UNIQ_H

#include "aggregator/rollup.h"

#include <stddef.h>
#include <stdint.h>

typedef struct uniq uniq;

/* A visitor's record on one day, from uniq_visitor.  Valid until the next
 * uniq_visitor or uniq_drop_before on the same uniq. */
typedef struct {
    void    *day;
    uint32_t slot;
} uniq_ref;

uniq *uniq_new(void);
void uniq_free(uniq *u);

/* Finds (or creates) the record of (site, visitor) on UTC day `day`.
 * Returns 0 or -1 (out of memory). */
int uniq_visitor(uniq *u, int64_t site, uint64_t visitor, int64_t day,
                 uniq_ref *ref);

/* An event of ref's visitor with value (dim, k1, k2) at absolute UTC hour
 * `hour` (on ref's day): adds the visitors_hour / visitors_new deltas it
 * causes to r.  row is r's row of (site, dim, hour, k1, k2) (rollup_at).
 * Returns 0 or -1 (out of memory). */
int uniq_event(uniq *u, const uniq_ref *ref, rollup *r, int64_t *row,
               int64_t site, int dim, int64_t k1, int64_t k2, int64_t hour);

/* A visit of ref's visitor starting at `hour` (on ref's day) gains
 * (sign = +1) or loses (sign = -1) visit value (dim, k1, k2): adds the
 * visitor deltas to r (row as above).  Returns 0 or -1. */
int uniq_visit(uniq *u, const uniq_ref *ref, rollup *r, int64_t *row,
               int64_t site, int dim, int64_t k1, int64_t k2, int64_t hour,
               int sign);

/* Forgets every day before `day` (UTC day number). */
void uniq_drop_before(uniq *u, int64_t day);

/* Keys held (for logs and memory accounting). */
size_t uniq_entries(const uniq *u);

#endif
