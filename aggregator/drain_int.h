/*
 * drain_int.h -- private to aggregator/drain*.c: the drain handle and the
 * spool directory helpers (drain_dir.c).
 */
#ifndef TALLY_AGG_DRAIN_INT_H
#define TALLY_AGG_DRAIN_INT_H

#include "aggregator/drain.h"
#include "aggregator/ingest.h"
#include "spool/spool.h"

#include <limits.h>

/* Readers open at once: one per writer pid (a pid's segments are read
 * one after the other); more pids wait for a later pass. */
#define DRAIN_MAX_STREAMS 64

typedef struct {
    char name[SPOOL_NAME_MAX];
} drain_name;

struct drain {
    char         dir[PATH_MAX];
    db          *d;
    ingest      *g;
    unsigned     batch_max;
    uint64_t     corrupt_total;
    drain_stats *cur;          /* stats of the running pass */
};

/* Builds "<dir>/<name><suffix>" into out.  Returns 0, or -1 if it does
 * not fit. */
int drain_path(char *out, size_t cap, const char *dir, const char *name,
               const char *suffix);

/* Lists the segment names of the spool, sorted.  Returns 0 with a
 * malloc'd array (caller frees), or -1. */
int drain_list(const char *dir, drain_name **out, size_t *n);

/* Deletes the spool_pos rows of segments whose files are gone (its own
 * transaction).  Returns 0 or -1. */
int drain_forget_gone(drain *dr, const drain_name *v, size_t n);

/* Unlinks a consumed finished segment and then its marker. */
void drain_unlink(drain *dr, const char *name, drain_stats *st);

/* Removes ".done" markers whose segment no longer exists. */
void drain_orphan_markers(drain *dr);

/* The reader's corrupt-record callback (ctx is the drain). */
void drain_on_corrupt(void *ctx, const char *segment, uint64_t offset,
                      const char *why);

#endif
