/*
 * ship_state.h -- the shipper's durable state file (one per spool), text:
 *
 *   tally-ship 1
 *   edge NAME
 *   last MS SEQ                      highest stream ID known to be used
 *   seg NAME OFFSET FINISHED         shipped (acknowledged) position of a
 *   ...                              segment; FINISHED 1 = fully shipped
 *   plan MS SEQ                      the pending batch, if any: its first
 *   range NAME FROM COUNT END DONE   ID and, in ID order, the records it
 *   ...                              covers: COUNT records read from FROM
 *   end
 *
 * The record k (0-based, over all ranges in order) of a plan has stream ID
 * "MS-(SEQ+k)".  A plan is written (atomically and durably) BEFORE any of
 * its XADDs is sent, so after a crash the very same records are sent again
 * with the very same IDs, and Redis refuses those it already has.  See
 * ship.h and docs/redis.md.
 */
#ifndef TALLY_AGG_SHIP_STATE_H
#define TALLY_AGG_SHIP_STATE_H

#include "aggregator/redis_source.h"
#include "spool/spool.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t ms, seq;
} ship_id;

/* Shipped position of one segment. */
typedef struct {
    char     name[SPOOL_NAME_MAX];
    uint64_t off;        /* everything before it is acknowledged */
    int      finished;   /* 1: finished and shipped to its end    */
} ship_pos;

/* One segment's part of a plan. */
typedef struct {
    char     name[SPOOL_NAME_MAX];
    uint64_t from;       /* reader start offset                     */
    uint32_t count;      /* records read from there, all in the plan */
    uint64_t end;        /* the segment's position once acknowledged */
    int      done;       /* finished and read to its end            */
} ship_range;

typedef struct {
    char        edge[RSRC_EDGE_MAX + 1];
    ship_id     last;
    ship_pos   *pos;
    size_t      npos, cappos;
    int         has_plan;
    ship_id     plan;
    ship_range *rng;
    size_t      nrng, caprng;
} ship_state;

/* Loads path into st (which must be zeroed or freed).  Returns 0, 1 if the
 * file does not exist (st left empty), or -1 with a reason in err. */
int ship_state_load(const char *path, ship_state *st, char *err,
                    size_t errlen);

/* Writes st to path atomically and durably (temp file, fsync, rename,
 * fsync of the directory).  Returns 0 or -1 with errno set. */
int ship_state_save(const char *path, const ship_state *st);

/* The position row of segment name; with create, adds a zero row when
 * missing.  NULL if missing (or out of memory). */
ship_pos *ship_state_pos(ship_state *st, const char *name, int create);

/* Removes the row of segment name, if any. */
void ship_state_forget(ship_state *st, const char *name);

/* Appends a range to the plan.  Returns 0 or -1 (out of memory). */
int ship_state_add_range(ship_state *st, const ship_range *r);

/* Frees everything st holds and zeroes it. */
void ship_state_free(ship_state *st);

/* a < b: -1, equal 0, a > b: 1. */
int ship_id_cmp(ship_id a, ship_id b);

#endif
