/*
 * ship_int.h -- the shipper's internals shared by ship.c (the loop and
 * Redis) and ship_plan.c (reading the spool into a plan).  Not an API.
 */
#ifndef TALLY_AGG_SHIP_INT_H
#define TALLY_AGG_SHIP_INT_H

#include "aggregator/redis.h"
#include "aggregator/ship.h"
#include "aggregator/ship_state.h"
#include "spool/spool.h"

#include <stdint.h>

/* One record of the current plan: bytes at buf[boff .. boff+len). */
typedef struct {
    size_t   boff, len;
    uint64_t off;        /* offset in its segment */
    size_t   rng;        /* index of its range in st.rng */
    uint64_t idx;        /* its stream ID is plan.ms-(plan.seq + idx) */
} ship_rec;

typedef struct {
    ship_conf    cf;
    char         state_path[PATH_MAX];
    char         stream[128];
    ship_state   st;
    redis_conn  *rc;
    int          synced;        /* SADD + XINFO done on this connection  */
    int          recover;       /* no state file: rebuild from the stream */
    int          lockfd;
    int          dirty;         /* st differs from the state file        */
    int          plan_sent;     /* the plan may have reached Redis       */
    int          plan_loaded;   /* recs/buf hold the plan's records      */
    unsigned char *buf;
    size_t       buflen, bufcap;
    ship_rec    *recs;
    size_t       nrec, caprec;
    uint64_t     nidx;          /* IDs the plan uses (>= nrec)           */
    /* figures for the lag line */
    uint64_t     pending_bytes, pending_segments;
    uint64_t     oldest_ms;     /* first event time of the first record
                                   not acknowledged, 0 = none known      */
    uint64_t     shipped, already, corrupt, deleted;
    spool_event  ev[SPOOL_MAX_EVENTS];
} shipper;

/* Reads a new plan from the spool into sh->st (has_plan, rng) and
 * sh->recs/buf: segments in name order from their shipped positions, up
 * to cf.batch records and about cf.batch_bytes bytes.  Forgets rows of
 * segments whose files are gone (sets dirty).  Updates the pending
 * figures.  Returns 0 (a plan with no ranges means nothing to do) or -1
 * on a directory error. */
int ship_plan_build(shipper *sh);

/* Re-reads the records of the plan loaded from the state file (after a
 * restart) into sh->recs/buf, each with the ID index it had.  A range
 * whose segment is gone or shorter than planned (someone removed or
 * rewrote spool files) is logged and its missing records skipped, their
 * IDs left unused.  Returns 0, or -1 on an I/O error (retry later). */
int ship_plan_load(shipper *sh);

/* After a (re)connect: SADD tally:edges EDGE, then XINFO STREAM; raises
 * st.last to the stream's last-generated-id (new plans go above it).
 * Sets synced.  Returns 0, or -1 (connection or server error, logged). */
int ship_sync(shipper *sh);

/* No state file: rebuilds segment positions from the stream's entries
 * ("seg", "off" + length of "r") for segments still in the spool; clears
 * recover.  Returns 0, or -1 to retry after reconnecting. */
int ship_recover(shipper *sh);

/* Sends the plan's XADDs in one pipeline and reads every reply.  Returns
 * 0 when every record is in the stream (added now, or refused as already
 * there for a plan that may have been sent before), -1 to retry (logged),
 * -2 when a plan never sent before is refused (another writer). */
int ship_send(shipper *sh);

/* Recomputes pending_bytes/pending_segments: bytes of the spool's
 * segments past their acknowledged positions. */
void ship_pending(shipper *sh);

/* Builds "<spool>/<name><suffix>" into out (PATH_MAX).  0 or -1. */
int ship_path(const shipper *sh, char *out, const char *name,
              const char *suffix);

#endif
