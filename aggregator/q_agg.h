/*
 * q_agg.h -- the executor's in-memory aggregation: an exact hash set of
 * (u64, u64) pairs with an int64 value (first-seen sets, id caches) and
 * a table of result groups keyed by a tuple of int64 dimension keys.
 * No hashing shortcuts: keys are compared in full, so counts are exact.
 */
#ifndef TALLY_AGG_Q_AGG_H
#define TALLY_AGG_Q_AGG_H

#include "aggregator/q_parse.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t a, b;
    int64_t  v;
    int      used;
} qh_entry;

typedef struct {
    qh_entry *e;
    size_t    n, cap;     /* cap: power of two or 0 */
} qh;

/* Finds or inserts (a, b).  Returns 1 inserted (value set to v), 0 found,
 * -1 out of memory; *slot (if not NULL) points at the value until the
 * next insert or clear. */
int qh_put(qh *h, uint64_t a, uint64_t b, int64_t v, int64_t **slot);

/* The value slot of (a, b), or NULL. */
int64_t *qh_get(const qh *h, uint64_t a, uint64_t b);

void qh_clear(qh *h);    /* empties, keeps memory */
void qh_free(qh *h);

/* Accumulators of one result row (see q_exec.c for their meaning). */
typedef struct {
    int64_t ev_pv, ev_ev, ev_visitors, ev_visits;
    int64_t vi_visits, vi_bounces, vi_duration, vi_pv, vi_ev, vi_visitors;
} qx_acc;

typedef struct {
    int64_t  k[Q_MAX_DIMS];
    qx_acc   acc;
    double   out[Q_M_COUNT];  /* final metric values by q_metric */
    int      null_out[Q_M_COUNT];
    const char *label[Q_MAX_DIMS];
} qx_group;

typedef struct {
    size_t    nk;             /* key length */
    qx_group *g;
    size_t    n, cap;
    uint32_t *idx;            /* open addressing: group index + 1 */
    size_t    icap;
    size_t    last;           /* qg_get's last group + 1 (0: none): raw
                                 event streams repeat keys in runs */
} qg_table;

/* The group of key k (nk values), created zeroed.  Returns its index or
 * -1 (out of memory). */
long qg_get(qg_table *t, const int64_t *k);

/* Index of key k or -1 when absent. */
long qg_find(const qg_table *t, const int64_t *k);

void qg_free(qg_table *t);

#endif
