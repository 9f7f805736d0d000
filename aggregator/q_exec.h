/*
 * q_exec.h -- the Stats API v2 executor: plans and runs a parsed q_query
 * (q_parse.h) on the hourly rollups when they can answer it exactly, else
 * on the raw events and visits, and renders Plausible's response
 *
 *   {"results":[{"dimensions":[...],"metrics":[...]}],
 *    "meta":{...},"query":{...}}
 *
 * Both paths compute the same numbers (tests/aggregator/test_q_exec.py
 * runs every query shape both ways); docs/api.md defines each metric.
 */
#ifndef TALLY_AGG_Q_EXEC_H
#define TALLY_AGG_Q_EXEC_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int         force_raw;    /* never use the rollups (tests, bench)   */
    int64_t     now_ms;       /* the current instant; 0 = the clock     */
    int64_t     key_id;       /* the API key asking (scope check), or -1 */
    const char *only_site;    /* a share link's site, or NULL           */
} qx_opts;

/* Runs the Stats API v2 request body (len bytes) on d.  Returns the
 * malloc'd response body (NULL only when out of memory) and sets *status:
 * 200; 400 {"error"} for an invalid query or one Tally cannot answer
 * exactly; 404 for an unknown site or one outside the key's scope; 500.
 * *path (if not NULL) is set to "rollup", "raw" or "" (not run). */
char *qx_handle(db *d, const char *body, size_t len, const qx_opts *o,
                int *status, const char **path);

/* Plausible's realtime visitors of site: distinct visitors (per salt
 * day) with an event in the last 5 minutes before now_ms.  Returns 1 and
 * *n, 0 unknown site, -1 error. */
int qx_realtime_visitors(db *d, const char *site, int64_t now_ms,
                         int64_t *n);

/* 1 when TALLY_FORCE_RAW is set to a non-empty value other than "0"
 * (read once). */
int qx_env_force_raw(void);

#endif
