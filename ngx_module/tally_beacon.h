/*
 * tally_beacon.h -- parsing and validation of event beacons (plain C, no
 * NGINX types; prefix tb_).
 *
 * A beacon body is either one Plausible Events API object or a Tally batch
 * (a JSON array of 1..TB_MAX_BATCH such objects).  Fields of an object:
 *
 *   name|n         string, required, 1..120 bytes
 *   url|u          string, required, absolute http(s) URL, <= 2000 bytes
 *   domain|d       string, required; a comma-separated list of at most 10
 *                  sites, each trimmed and lower-cased, 1..255 bytes
 *   referrer|r     string or null, optional, <= 2000 bytes
 *   props|p|meta|m object (or a string holding a JSON object), optional,
 *                  <= 30 pairs; keys <= 300 bytes, values string, number or
 *                  boolean (stored as strings) <= 2000 bytes; pairs whose
 *                  key or value is empty (or whose value is null) are
 *                  dropped, as Plausible does
 *   revenue|$      object {"currency": 3 upper-case letters,
 *                  "amount": number or numeric string} or null, optional
 *   interactive|i  boolean, optional (default true)
 *
 * When a field is given under both names the short one wins (as in
 * Plausible).  Unknown fields are ignored.  Invalid UTF-8, NUL bytes and
 * duplicate keys make the body invalid JSON.
 *
 * Every (object, domain) pair becomes one spool_event (so at most
 * TB_MAX_BATCH * TB_MAX_DOMAINS == SPOOL_MAX_EVENTS events), with SITE,
 * NAME, URL, REFERRER, PROPS (compact JSON object, string values),
 * REVENUE (compact JSON {"currency":"EUR","amount":"12.5"}, the amount a
 * decimal string) and INTERACTIVE ("0" only when false) filled in.  The
 * caller fills time_ms, visitor_id, UA and COUNTRY.
 */

#ifndef TALLY_BEACON_H
#define TALLY_BEACON_H

#include <stddef.h>

#include "spool/spool.h"

#define TB_MAX_BATCH       10
#define TB_MAX_NAME        120
#define TB_MAX_URL         2000
#define TB_MAX_DOMAIN      255
#define TB_MAX_DOMAINS     10
#define TB_MAX_REFERRER    2000
#define TB_MAX_PROPS       30
#define TB_MAX_PROP_KEY    300
#define TB_MAX_PROP_VALUE  2000

/* A parsed beacon: n events whose fields point into the body and into
 * the result's memory (decoded strings, lower-cased sites, props and
 * revenue text).  Free with tb_result_free. */
typedef struct {
    spool_event *ev;                 /* n events */
    size_t       n;
    char        *mem;                /* memory the result owns, or NULL */
} tb_result;

/* Parses and validates the len bytes at body (need not be NUL terminated)
 * into res.  Returns 0 on success: res->ev[0..res->n-1] are the events
 * (1 <= n <= SPOOL_MAX_EVENTS); they point into body, which must outlive
 * them.  Returns -1 on a rejected beacon with *err set to a short static
 * message naming the problem (e.g. "missing field: url"), safe to embed in
 * a JSON string as is; res is then empty.  Either way res must afterwards
 * be released with tb_result_free (harmless when empty).
 *
 * The JSON is checked strictly (RFC 8259: UTF-8 without overlong forms or
 * surrogates, no control characters in strings, no \u0000, paired
 * surrogate escapes, no duplicate keys in any object, integers within 64
 * bits, finite reals, nesting at most 2048 deep); any violation is
 * "invalid JSON" before any other rule is looked at. */
int tb_parse(const char *body, size_t len, tb_result *res, const char **err);

/* The same with caller-provided scratch memory: when scratch_cap >=
 * tb_scratch_size(len) the result lives in scratch (no allocation; the
 * caller keeps scratch until it is done with the events, and
 * tb_result_free then frees nothing), else tb_parse allocates. */
int tb_parse_scratch(const char *body, size_t len, tb_result *res,
                     void *scratch, size_t scratch_cap, const char **err);

/* Bytes of scratch memory a body of len bytes may need. */
size_t tb_scratch_size(size_t len);

/* Releases what res owns and leaves it empty.  The events' pointers
 * become invalid. */
void tb_result_free(tb_result *res);

/* Checks a Content-Type header value: returns 1 if its media type (the
 * part before any ';' parameters, blanks trimmed, compared
 * case-insensitively) is application/json or text/plain, else 0.  value
 * need not be NUL terminated. */
int tb_content_type_ok(const char *value, size_t len);

#endif /* TALLY_BEACON_H */
