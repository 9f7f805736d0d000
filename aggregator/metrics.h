/*
 * metrics.h -- a tiny process-wide registry of Prometheus metrics, served
 * as text by GET /metrics (exposition format 0.0.4).  Any part of tallyd
 * may count: names are static strings, registered on first use (at most
 * METRICS_MAX series); updates are lock-free atomics after that.
 *
 *   metrics_add("tally_drain_events_total", n);          counter
 *   metrics_set("tally_spool_backlog_bytes", bytes);     gauge
 *   metrics_observe_ms("tally_query_duration_seconds", ms);  histogram
 *
 * A name ending in _total is a counter, one observed is a histogram
 * (buckets 5 ms .. 10 s), anything else a gauge.  Labels may be part of
 * the name ("tally_http_requests_total{code=\"200\"}").
 */
#ifndef TALLY_AGG_METRICS_H
#define TALLY_AGG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX 128

void metrics_add(const char *name, uint64_t n);
void metrics_set(const char *name, int64_t v);
void metrics_observe_ms(const char *name, double ms);

/* Appends the exposition text of every metric to a malloc'd string
 * (caller frees); extra (may be NULL) is appended verbatim first.  NULL
 * when out of memory. */
char *metrics_render(const char *extra);

#endif
