/*
 * tally_seg.h -- one writer's current spool segment (plain C, no NGINX
 * types; prefix tally_seg_).  Used by the NGINX worker from its event loop
 * (tally_sync off and <interval>) or from a thread-pool task (tally_sync
 * always), never from both at once.  Functions never log: a failure
 * leaves errno and the name of the failed operation in the struct for the
 * caller to log from the event loop.
 *
 * Rules (see spool/spool.h for the format):
 *   - a new segment is created durable (file and directory fsynced) before
 *     any record goes into it;
 *   - a segment is rotated (closed, marked finished, a new one created on
 *     the next append) once it reaches max_size bytes or, if it holds a
 *     record, once it is older than max_age_us;
 *   - a failed write is rolled back (truncate) or, when that fails, the
 *     segment is abandoned: closed and finished, never written again;
 *   - after a failed fdatasync the segment is never synced or written again
 *     (the kernel may have dropped the dirty pages and cleared the error):
 *     it is closed and finished, and the next append starts a new one;
 *   - with a preallocation step (tally_sync always) the segment is
 *     extended with zeros that many bytes ahead of its records, which are
 *     then written in place: fdatasync() then flushes data only, no inode
 *     update (see UNWRITTEN TAIL in spool/spool.h).  Preallocation is best
 *     effort (a full disk simply makes the next write an append), and the
 *     zero tail is trimmed before the segment is marked finished.
 */

#ifndef TALLY_SEG_H
#define TALLY_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"

/* the preallocation step used with tally_sync always */
#define TALLY_SEG_PREALLOC  (1024 * 1024)

typedef struct {
    /* configuration, set by tally_seg_init */
    const char  *dir;
    uint32_t     pid;
    uint64_t     max_size;         /* rotate at this size (bytes) */
    uint64_t     max_age_us;       /* rotate when older, 0: never */
    int          sync_on_close;    /* fdatasync before closing */
    uint64_t     prealloc;         /* zeros written ahead, 0: append */

    /* state */
    int          fd;               /* -1: none open */
    char         name[SPOOL_NAME_MAX];
    uint64_t     size;             /* bytes of records, header included */
    uint64_t     alloc;            /* file size, zero tail included */
    uint64_t     created_us;       /* also identifies the segment */
    uint64_t     last_created_us;

    /* results for the caller; cleared by it */
    int          err;              /* errno of the last failure */
    const char  *what;             /* failed operation, NULL if none */
    char         err_name[SPOOL_NAME_MAX];   /* segment it concerned */
    unsigned     opened;           /* segments created since cleared */
} tally_seg;

/* Microseconds since the Unix epoch (wall clock). */
uint64_t tally_seg_now_us(void);

void tally_seg_init(tally_seg *s, const char *dir, uint32_t pid,
                    uint64_t max_size, uint64_t max_age_us,
                    int sync_on_close, uint64_t prealloc);

/* 1 if the open segment holds records and must be rotated by size or age
 * at now_us, else 0. */
int tally_seg_due(const tally_seg *s, uint64_t now_us);

/* Creates a new durable segment (a segment must not be open).  Returns 0,
 * or -1 with err/what set. */
int tally_seg_open(tally_seg *s);

/* Closes the open segment (trims its zero tail, fdatasync first if
 * sync_on_close) and marks it finished.  Returns 0, or -1 with err/what set (the segment is closed
 * either way).  No-op without an open segment. */
int tally_seg_close(tally_seg *s);

/* Rotates the segment if due and opens one if none is open.  Returns 0 or
 * -1 (no segment open; err/what set). */
int tally_seg_ready(tally_seg *s, uint64_t now_us);

/* Appends len bytes of whole records with one write() (tally_seg_ready
 * must have succeeded).  Returns 0 when stored; -1 when not stored (rolled
 * back, the segment stays usable) and -2 when not stored and the segment
 * was abandoned; err/what set for both. */
int tally_seg_append(tally_seg *s, const void *buf, size_t len);

/* fdatasync()s the open segment.  Returns 0, or -1 with err/what set: the
 * segment is then closed and finished, never synced again. */
int tally_seg_sync(tally_seg *s);

/* fdatasync() on fd, then close() it.  Returns 0 or an errno value.  For a
 * dup() of the segment's fd synced in a thread while the owner goes on. */
int tally_seg_sync_fd(int fd);

#endif /* TALLY_SEG_H */
