/*
 * rdrain_int.h -- private to aggregator/rdrain*.c: the source's state.
 *
 * Per stream, entries are read ahead (up to RD_WIN_MAX) into a window in
 * ID order and dealt to sub-streams by writer pid (the pid in the entry's
 * "seg" name): a writer's records are in time order, the stream as a
 * whole is not (the shipper sends a backlog segment by segment).  The
 * merge applies the sub-stream head with the oldest event time, like the
 * spool drain merges writer pids.  Positions, per stream:
 *   P, n    every entry with ID <= P is applied; n of them
 *   last    per sub-stream, the last entry applied above P (entries of a
 *           sub-stream are applied in ID order, so this is exact)
 * An entry e is applied iff e.id <= P or e.id <= last[sub(e)].
 */
#ifndef TALLY_AGG_RDRAIN_INT_H
#define TALLY_AGG_RDRAIN_INT_H

#include "aggregator/ctl.h"
#include "aggregator/ctl_sync.h"
#include "aggregator/rdrain.h"
#include "aggregator/redis.h"
#include "aggregator/redis_source.h"
#include "aggregator/replica.h"
#include "spool/spool.h"

#define RD_READ       1024        /* entries per XREAD                 */
#define RD_WIN_MAX    32768       /* entries read ahead per stream     */
#define RD_SUB_NONE   0xffffffffu /* entries whose seg has no pid      */

typedef struct {
    char           id[RSRC_ID_MAX];
    uint32_t       sub;           /* writer pid                         */
    int            applied;
    unsigned char *rec;           /* NULL once applied, or corrupt      */
    size_t         len;
    char           seg[SPOOL_NAME_MAX];
    uint64_t       off;
    uint64_t       t;             /* first event's time; 0 if corrupt   */
    const char    *why;           /* corrupt: the reason, else NULL     */
} rd_entry;

typedef struct {
    uint32_t   key;
    char       last[RSRC_ID_MAX];       /* in the open transaction, "" */
    char       committed[RSRC_ID_MAX];  /* in the database, ""         */
    rd_entry **q;                       /* unapplied, ID order         */
    size_t     qhead, qlen, qcap;
} rd_sub;

typedef struct {
    char       name[REPLICA_STREAM_MAX];
    char       pos[RSRC_ID_MAX];        /* P in the open transaction */
    uint64_t   n;
    char       pos_c[RSRC_ID_MAX];      /* P in the database         */
    uint64_t   n_c;
    rd_sub    *subs;
    size_t     nsubs, capsubs;
    rd_entry **win;                     /* read ahead, ID order      */
    size_t     whead, wlen, wcap;
    char       readpos[RSRC_ID_MAX];
    int        exhausted;               /* nothing more for now      */
    int        dirty;                   /* to publish and trim       */
    int64_t    warned_ms;
} rd_stream;

struct rdrain {
    db          *d;
    ingest      *g;
    rsrc        *src;
    redis_conn  *rc;
    char         name[RSRC_EDGE_MAX + 1];    /* "" = not a replica */
    unsigned     batch_max, stream_warn;
    rd_stream  **s;
    size_t       ns, cap;
    int64_t      next_maint_ms;
    int          down, migrated, oom;
    unsigned     backoff_ms;
    rdrain_stats st;
    ctl_state    ctl;                        /* the control stream  */
    int          ctl_dirty;                  /* to publish and trim */
    spool_event  ev[SPOOL_MAX_EVENTS];
};

int64_t rd_now_ms(void);

/* ---- rdrain_win.c: window, sub-streams, positions ---- */

/* Adds stream `name` with its positions from the database.  0 or -1. */
int rd_stream_add(rdrain *rd, const char *name);
void rd_stream_free(rd_stream *s);

/* Reads ahead until the stream is exhausted or the window is full.
 * Returns 0 or -1 (Redis error or no memory). */
int rd_top_up(rdrain *rd, rd_stream *s);

/* The sub-stream whose next entry is oldest over every stream, or NULL
 * when none has one.  *sp gets its stream. */
rd_sub *rd_pick(rdrain *rd, rd_stream **sp);

/* Marks the head of sub applied (its record freed) and moves P over the
 * applied entries at the front of the window. */
void rd_done(rd_stream *s, rd_sub *sub, rd_entry *e);

/* Writes the "ahead" text (db_streams.h) of s into a malloc'd string. */
char *rd_ahead(const rd_stream *s);

/* The transaction committed: its positions are the database's now. */
void rd_committed(rd_stream *s);

/* Back to the database's positions; the window is dropped. */
void rd_rewind(rd_stream *s);

/* ---- rdrain_maint.c: Redis bookkeeping ---- */

/* Logs Redis as unreachable (once) and grows the backoff.  Returns -1. */
int rd_down(rdrain *rd, const char *what);
void rd_up(rdrain *rd);

/* New edges, registration and heartbeat, the trimming check and the
 * length warning.  Returns 0, -1 (Redis) or RDRAIN_FATAL. */
int rd_maint(rdrain *rd);

/* After a commit: publish positions, trim the streams that moved.
 * 0 or -1 (they stay dirty for the next time). */
int rd_after_commit(rdrain *rd);

#endif
