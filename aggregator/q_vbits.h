/*
 * q_vbits.h -- "has this visitor been seen in this group this epoch?"
 * as one bit per (group, visitor) for visitors given as dense ids (a
 * sealed day's dictionary indexes, db_seal.h): a test-and-set instead of
 * a hash probe per raw event.  The raw path (q_exec_raw.c) uses it for
 * the epochs whose events all carry dense ids (a UTC day read from a
 * sealed block) and its hash set otherwise.
 */
#ifndef TALLY_AGG_Q_VBITS_H
#define TALLY_AGG_Q_VBITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t **bits;      /* [group] its bitset, NULL: none / hashed   */
    int64_t   *epoch;     /* [group] the epoch its bits belong to      */
    size_t    *words;     /* [group] words allocated                   */
    size_t     n;         /* groups with slots                         */
    size_t     bytes;     /* allocated in all bitsets                  */
} qvb;

#define QVB_MAX_BYTES (64u << 20)   /* beyond this, groups are hashed */

/* Marks visitor vix (0 <= vix < vn) seen in group g during epoch; the
 * first call for g in a new epoch starts g empty.  Returns 1 when it
 * was not seen yet, 0 when it was, -1 out of memory, or 2 when this
 * group is kept by the caller's hash set for the whole epoch (the
 * memory cap was reached at its first event, or vix is out of range):
 * the caller must then use that set for every event of g in the
 * epoch. */
int qvb_put_slow(qvb *v, size_t g, int64_t epoch, int64_t vix, int64_t vn);

static inline int
qvb_put(qvb *v, size_t g, int64_t epoch, int64_t vix, int64_t vn)
{
    /* the common case: a group already set up for this epoch */
    if (g < v->n && v->epoch[g] == epoch && v->bits[g] != NULL && vix >= 0
        && (size_t)vix < v->words[g] * 64) {
        uint64_t *w = &v->bits[g][(size_t)vix >> 6];
        uint64_t m = 1ull << (vix & 63);
        if (*w & m)
            return 0;
        *w |= m;
        return 1;
    }
    return qvb_put_slow(v, g, epoch, vix, vn);
}

/* Frees everything; v is then empty and reusable. */
void qvb_free(qvb *v);

#endif
