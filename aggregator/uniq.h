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
 * a set of 64-bit keys hash(site, dim, value, day, visitor):
 *   event dimensions: a 24-bit mask of the hours the visitor had the
 *     value in (order-independent: an earlier hour arriving later moves
 *     the visitor's visitors_new to it);
 *   visit dimensions: the mask of hours in which the visitor's visits
 *     with the value start, plus a count of any further visits in one
 *     hour -- visit values can change (the exit page moves, attributes
 *     arrive with the first pageview), so they are reference counted.
 * Memory is bounded by one or two days of activity; uniq_drop_before
 * forgets finished days.  The 64-bit keys make a wrong count possible
 * only on a hash collision (probability about n^2 / 2^65 for n keys a
 * day: below 1e-5 at 10 million).
 */
#ifndef TALLY_AGG_UNIQ_H
#define TALLY_AGG_UNIQ_H

#include "aggregator/rollup.h"

#include <stddef.h>
#include <stdint.h>

typedef struct uniq uniq;

uniq *uniq_new(void);
void uniq_free(uniq *u);

/* An event of visitor with value (dim, k1, k2) at absolute UTC hour
 * `hour`: adds the visitors_hour / visitors_new deltas it causes to r.
 * Returns 0 or -1 (out of memory). */
int uniq_event(uniq *u, rollup *r, int64_t site, int dim, int64_t k1,
               int64_t k2, uint64_t visitor, int64_t hour);

/* A visit of visitor starting at `hour` gains (sign = +1) or loses
 * (sign = -1) visit value (dim, k1, k2): adds the visitor deltas to r.
 * Returns 0 or -1. */
int uniq_visit(uniq *u, rollup *r, int64_t site, int dim, int64_t k1,
               int64_t k2, uint64_t visitor, int64_t hour, int sign);

/* Forgets every day before `day` (UTC day number). */
void uniq_drop_before(uniq *u, int64_t day);

/* Keys held (for logs and memory accounting). */
size_t uniq_entries(const uniq *u);

#endif
