/*
 * logfilter.h -- which parsed access-log lines count as pageviews.
 *
 * The rules (docs/import.md), checked in this order; the first one that
 * fails names the reason:
 *
 *   method     the method is not GET (HEAD, POST, ..., or no method, as
 *              in a TLS handshake sent to a plain-HTTP port); a format
 *              without $request or $request_method keeps every line here
 *   status     the status is not in the list (default: 2xx and 304); a
 *              format without $status keeps every line here
 *   malformed  the request has no path starting with '/' (and lines that
 *              do not parse at all: the caller's)
 *   robots     a request browsers or crawlers make on their own:
 *              /robots.txt, /sitemap.xml, /favicon.ico, /.well-known/...,
 *              and apple-touch-icon* anywhere
 *   static     an asset or a download, by the extension of the path's last
 *              segment, any case (css, js, images, fonts, media, pdf, zip,
 *              ...: lf_filter_static_exts lists them), unless
 *              include_static is set
 *   bot        the caller's bot verdict (bots/ decides; asked last, and
 *              only for lines every other rule kept)
 */
#ifndef TALLY_AGG_LOGFILTER_H
#define TALLY_AGG_LOGFILTER_H

#include "aggregator/logfmt.h"

typedef enum {
    LF_KEEP = 0,
    LF_SKIP_MALFORMED,
    LF_SKIP_METHOD,
    LF_SKIP_STATUS,
    LF_SKIP_ROBOTS,
    LF_SKIP_STATIC,
    LF_SKIP_BOT,
    LF_SKIP_COUNT          /* number of values, for summary arrays */
} lf_skip;

typedef struct {
    unsigned char status_ok[1000];  /* status_ok[s]: status s counts   */
    int           include_static;   /* count assets and downloads too  */
} lf_filter;

/* The bot hook: returns nonzero when the request comes from a bot.  ctx
 * is the caller's. */
typedef int (*lf_bot_fn)(void *ctx, const lf_record *rec);

/* Sets the defaults: statuses 200-299 and 304, include_static off. */
void lf_filter_init(lf_filter *f);

/* Replaces the status list with spec: comma-separated codes ("304"),
 * ranges ("200-299") and classes ("2xx"), 100..999.  Returns 0, or -1
 * with a reason in err (errlen bytes; err may be NULL) and f unchanged. */
int lf_filter_set_statuses(lf_filter *f, const char *spec, char *err,
                           size_t errlen);

/* Decides about one record.  is_bot may be NULL (no bot filtering); it is
 * called only when every other rule keeps the line. */
lf_skip lf_filter_check(const lf_filter *f, const lf_record *rec,
                        lf_bot_fn is_bot, void *ctx);

/* The reason's name for summaries: "kept", "malformed", "method",
 * "status", "robots", "static", "bot" (static strings; "?" if out of
 * range). */
const char *lf_skip_name(lf_skip s);

/* The static extensions, lower case, sorted, NULL-terminated. */
extern const char *const lf_filter_static_exts[];

#endif
