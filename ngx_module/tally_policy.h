/*
 * tally_policy.h -- small policy helpers of the edge module (plain C, no
 * NGINX types; prefix tp_): exclusion values, country codes, site and
 * origin lists, and the status counters with their JSON and Prometheus
 * text.
 */

#ifndef TALLY_POLICY_H
#define TALLY_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* The status counters, in the order of tp_status_format's output. */
enum {
    TP_ACCEPTED_EVENTS = 0,
    TP_ACCEPTED_REQUESTS,
    TP_REJECTED_400,
    TP_REJECTED_403,
    TP_REJECTED_405,
    TP_REJECTED_413,
    TP_REJECTED_415,
    TP_DROPPED_BOTS,
    TP_EXCLUDED,
    TP_UNAVAILABLE,            /* 503 answers */
    TP_BYTES_WRITTEN,          /* spool bytes written (records) */
    TP_SYNCS,                  /* successful fdatasync()s of segments */
    TP_WRITE_ERRORS,           /* failed writes, syncs, segment creations */
    TP_SPOOL_BYTES,            /* gauge: segment bytes in the spool */
    TP_NCOUNTERS
};

/* tally_skip: 1 (skip) when the value is non-empty and not "0". */
int tp_skip_value(const char *s, size_t len);

/* A country code: 2 ASCII letters (after trimming blanks), upper-cased
 * into out[0..1].  Returns 1, or 0 when s is anything else (empty, "-",
 * "XX1", "EU-West"). */
int tp_country(const char *s, size_t len, char out[2]);

/* A string of a configured list. */
typedef struct {
    const char *ptr;
    size_t      len;
} tp_str;

/* 1 if s equals (ASCII case-insensitively) one of list[0..n). */
int tp_list_has(const tp_str *list, size_t n, const char *s, size_t len);

/* Bytes tp_status_format needs at most. */
#define TP_STATUS_MAX 4096

/* Formats the counters v[0..TP_NCOUNTERS) plus the configured spool limit
 * (max_bytes, 0: none) as a JSON object (prometheus == 0) or Prometheus
 * text exposition (prometheus != 0) into buf (cap >= TP_STATUS_MAX).
 * Returns the length written. */
size_t tp_status_format(int prometheus, const uint64_t *v, uint64_t max_bytes,
                        char *buf, size_t cap);

#endif /* TALLY_POLICY_H */
