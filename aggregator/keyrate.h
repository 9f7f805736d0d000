/*
 * keyrate.h -- per-API-key rate limits: a token bucket per key id,
 * refilled continuously at the per-minute rate, holding at most one
 * minute's worth.  Default 600 requests/min; TALLY_API_RATE_PER_MIN
 * (read once, 0 = unlimited) changes it.  Thread-safe; memory is one
 * small entry per key that made a request.
 */
#ifndef TALLY_AGG_KEYRATE_H
#define TALLY_AGG_KEYRATE_H

#include <stdint.h>

#define KEYRATE_DEFAULT_PER_MIN 600

/* Takes one token for key_id at monotonic time now_ms.  Returns 0 when
 * allowed, else the whole seconds (>= 1) until a token is available. */
int keyrate_take(int64_t key_id, int64_t now_ms);

/* The configured rate (requests per minute; 0 = unlimited). */
int64_t keyrate_per_min(void);

#endif
