/*
 * logfmt.h -- NGINX `log_format` strings compiled into fast line parsers.
 *
 * A format is NGINX's own syntax: literal text and variable references
 * `$name` or `${name}` (names are [A-Za-z0-9_]).  It compiles into steps
 * "literal, field, literal, field, ..., literal"; a field's value runs up
 * to the first place where the literal after it matches in full.  A field
 * between double quotes (`"$http_user_agent"`) skips quotes escaped with a
 * backslash (Apache writes `\"`, NGINX writes `\x22`), and a field followed
 * by ':' whose value starts with '[' (an IPv6 `$host`) is read past the ']'.
 * Two variables with no literal text between them are refused.  Bytes
 * after the last step are ignored (like GoAccess), so `combined` also reads
 * NGINX's `main` format, which appends `"$http_x_forwarded_for"`.
 *
 * Names accepted by lf_compile() instead of a format string:
 *
 *   combined        $remote_addr - $remote_user [$time_local] "$request"
 *                   $status $body_bytes_sent "$http_referer"
 *                   "$http_user_agent"                 (NGINX's predefined)
 *   common          the first six fields of combined  (Apache's / CLF)
 *   vhost_combined  $host:$server_port followed by a space and combined;
 *                   the same layout as Apache's and Debian's
 *                   `vhost_combined` ("%v:%p %h %l %u %t ...") and
 *                   GoAccess's VCOMBINED.
 *
 * Fields a record fills in (every other variable is read and skipped):
 *
 *   $remote_addr               addr
 *   $http_x_forwarded_for      xff: the first address of the list
 *   $time_local                time_ms  "10/Oct/2000:13:55:36 -0700"
 *   $time_iso8601              time_ms  "2000-10-10T13:55:36-07:00" (or Z,
 *                                        optional fraction of a second)
 *   $msec                      time_ms  "971211336.123"
 *   $request                   method, target, protocol ("GET /p?q HTTP/1.1")
 *   $request_method            method
 *   $request_uri               target          (wins over $request's)
 *   $uri / $document_uri       path            (used when no target is
 *   $args / $query_string      query            logged; NGINX's "-" = none)
 *   $server_protocol           protocol
 *   $status                    status (three digits)
 *   $body_bytes_sent           body_bytes (Apache's "-" reads as 0)
 *   $bytes_sent                bytes
 *   $request_time              request_time_ms  "0.123"
 *   $http_referer              referer
 *   $http_user_agent           user_agent
 *   $host, $http_host,         host: the first of these present in the
 *   $server_name                     format, in this order
 *   $server_port               server_port
 *
 * Values are slices into the line, still escaped as NGINX wrote them
 * (lf_unescape() decodes a copy); a string value of exactly "-", which
 * NGINX writes for a missing value, reads as empty.  `target` is split
 * into `path` (before '?') and `query` (after '?', without it); for an
 * absolute-form target ("http://host/p?q", sent by proxies and scanners)
 * `path` starts after the host ("/" if nothing follows it).
 */
#ifndef TALLY_AGG_LOGFMT_H
#define TALLY_AGG_LOGFMT_H

#include <stddef.h>
#include <stdint.h>

/* A slice of the parsed line: p is never NULL after lf_parse(), n may be
 * 0.  It is not NUL terminated. */
typedef struct {
    const char *p;
    size_t      n;
} lf_str;

/* What a format provides: bits of lf_format_has(). */
enum {
    LF_HAS_ADDR     = 1u << 0,
    LF_HAS_XFF      = 1u << 1,
    LF_HAS_TIME     = 1u << 2,
    LF_HAS_METHOD   = 1u << 3,
    LF_HAS_PATH     = 1u << 4,
    LF_HAS_STATUS   = 1u << 5,
    LF_HAS_REFERER  = 1u << 6,
    LF_HAS_UA       = 1u << 7,
    LF_HAS_HOST     = 1u << 8,
    LF_HAS_BYTES    = 1u << 9,
    LF_HAS_RTIME    = 1u << 10
};

/* lf_parse() results. */
enum {
    LF_OK = 0,
    LF_ERR_MATCH,     /* "line does not match format" (err_col says where) */
    LF_ERR_TIME,      /* "bad time"                                      */
    LF_ERR_STATUS,    /* "bad status"                                    */
    LF_ERR_NUMBER     /* "bad number"                                    */
};

typedef struct {
    lf_str   addr;            /* $remote_addr                       */
    lf_str   xff;             /* first address of X-Forwarded-For   */
    int64_t  time_ms;         /* unix ms UTC; 0 if not in format    */
    lf_str   method;          /* "GET"; empty if not parseable      */
    lf_str   target;          /* "/p?q"; empty if only $uri logged  */
    lf_str   path;            /* "/p"                               */
    lf_str   query;           /* "q"                                */
    lf_str   protocol;        /* "HTTP/1.1"                         */
    int      status;          /* 100..999; 0 if not in format       */
    uint64_t body_bytes;
    uint64_t bytes;
    uint32_t request_time_ms;
    lf_str   referer;
    lf_str   user_agent;
    lf_str   host;
    uint32_t server_port;
    unsigned has;             /* lf_format_has() of the format      */
    /* set when lf_parse() fails: */
    const char *err;          /* static reason, e.g. "bad time"     */
    size_t      err_col;      /* 1-based byte column of the problem */
} lf_record;

typedef struct lf_format lf_format;

/* Compiles fmt (a format string, or one of the names "combined",
 * "common", "vhost_combined").  Returns a format the caller owns and
 * frees with lf_free(), or NULL with a reason in err (errlen bytes, NUL
 * terminated; err may be NULL).  fmt is copied: it need not outlive the
 * result. */
lf_format *lf_compile(const char *fmt, char *err, size_t errlen);

/* Frees a format from lf_compile(); NULL is allowed. */
void lf_free(lf_format *f);

/* The LF_HAS_* bits of what f's lines carry (the importer needs at least
 * LF_HAS_TIME and LF_HAS_PATH). */
unsigned lf_format_has(const lf_format *f);

/* The format string f was compiled from (names expanded); owned by f. */
const char *lf_format_string(const lf_format *f);

/* Parses one line (len bytes, no newline, need not be NUL terminated)
 * into *out, whose slices point into line: line must outlive their use.
 * Allocates nothing; f is only read, so threads may share it.  Returns
 * LF_OK, or an LF_ERR_* code with out->err (static string) and
 * out->err_col set; the other fields of out are then unspecified. */
int lf_parse(const lf_format *f, const char *line, size_t len,
             lf_record *out);

/* Writes "<reason> at column N" for a failed out into buf (size n, NUL
 * terminated, truncated if needed) and returns buf. */
const char *lf_strerror(const lf_record *out, char *buf, size_t n);

/* Decodes the escapes NGINX and Apache write in log values ("\xHH",
 * "\\", "\"") from src (n bytes) into dst, which must hold n bytes (the
 * result is never longer); other bytes, and a backslash that starts no
 * such escape, are copied as they are.  Returns the decoded length; dst
 * is not NUL terminated.  src and dst may be the same buffer. */
size_t lf_unescape(const char *src, size_t n, char *dst);

/* Converts a civil UTC date and time to unix milliseconds (proleptic
 * Gregorian, any year >= 1).  Exposed for the tests and for callers that
 * build day boundaries. */
int64_t lf_civil_to_ms(int y, int mon, int d, int h, int mi, int s);

#endif
