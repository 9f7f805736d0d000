/*
 * attrs.h -- an event's enrichment and dictionary encoding: the wiring
 * between the spool event, the enrichers (enrich_url.h, enrich_ua.h,
 * enrich_ref.h, enrich_channel.h) and the db's string ids.
 *
 * Per event it derives pathname, hostname and UTM tags from the URL,
 * browser / OS / device from the User-Agent, source and visit:referrer
 * from the referrer (own-site referrers are no source), a tagged source
 * (utm_source, source=, ref=) taking precedence as in Plausible, the
 * channel, and the country from SPOOL_F_COUNTRY; and turns every string
 * into a dictionary id (0 = none), the 14 attributes into one attrs id.
 * UA and referrer results are cached by their input string.
 *
 * Without enrichment data (no uap.json / referers.json found) it still
 * works, degraded: browser, OS and device are "none", a referrer's
 * source is its host (www. removed) and visit:referrer host + path.
 * A handle belongs to one thread.
 */
#ifndef TALLY_AGG_ATTRS_H
#define TALLY_AGG_ATTRS_H

#include "aggregator/db.h"
#include "aggregator/dims.h"
#include "spool/spool.h"

#include <stddef.h>
#include <stdint.h>

typedef struct attrs_ctx attrs_ctx;

/* Resolves the enrichment data directory into out (cap bytes): flag when
 * given (it must hold uap.json and referers.json), else the first of
 * <binary dir>/data, <binary dir>/../build/data, <binary dir>/../data
 * (build/<sanitizer>/tallyd), /usr/share/tally/data holding both files.  Returns 1 found, 0 none found (out = ""), -1 when
 * the explicit flag directory lacks the files (message in err). */
int attrs_find_data_dir(const char *flag, char *out, size_t cap, char *err,
                        size_t errlen);

/* Creates a context, loading the data in data_dir (NULL or "" = run
 * without data).  Returns the context (caller frees with attrs_free) or
 * NULL with a message in err. */
attrs_ctx *attrs_new(const char *data_dir, char *err, size_t errlen);
void attrs_free(attrs_ctx *x);

/* 1 when enrichment data is loaded. */
int attrs_has_data(const attrs_ctx *x);

/* Forgets every cached id (call after a rollback: ids handed out in the
 * discarded transaction no longer exist). */
void attrs_reset(attrs_ctx *x);

/* One event, encoded.  All ids belong to the db; 0 means none. */
typedef struct {
    int64_t site, name, pathname, hostname, props, revenue, attrs;
    int64_t a[ATTR_COUNT];   /* the attrs tuple, by enum attr */
    int     pageview;        /* name is "pageview" */
    int     flags;           /* DB_EV_NONINTERACTIVE */
} attrs_event;

/* Enriches and encodes e inside d's open transaction.  Returns 1 done,
 * 0 skipped (*why says: "lacks site, name or url", "bot"), -1 database
 * error. */
int attrs_encode(attrs_ctx *x, db *d, const spool_event *e, attrs_event *out,
                 const char **why);

/* A custom property as (key id, value id). */
typedef struct {
    int64_t key, value;
} attrs_prop;

/* The properties of props_id (0 = none: *n = 0).  json/len is its text
 * when the caller has it, else NULL (read from the db).  *out is owned
 * by x, valid until the next call.  Returns 0 or -1. */
int attrs_props(attrs_ctx *x, db *d, int64_t props_id, const char *json,
                size_t len, const attrs_prop **out, size_t *n);

/* The tuple of attrs id (0 = all none) into a[ATTR_COUNT].  Returns 0 or
 * -1. */
int attrs_tuple(attrs_ctx *x, db *d, int64_t id, int64_t a[]);

/* Counters: UA parses, referrer parses (cache misses). */
void attrs_stats(const attrs_ctx *x, uint64_t *ua_misses, uint64_t *ref_misses);

#endif
