/* logfmt.c -- see logfmt.h. */
#include "aggregator/logfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- variables -------------------------------------------------------- */

enum lf_var {
    V_SKIP = 0,
    V_ADDR, V_XFF, V_TIME_LOCAL, V_TIME_ISO, V_MSEC, V_REQUEST, V_METHOD,
    V_REQUEST_URI, V_URI, V_ARGS, V_PROTOCOL, V_STATUS, V_BODY_BYTES,
    V_BYTES, V_RTIME, V_REFERER, V_UA, V_HOST, V_HTTP_HOST, V_SERVER_NAME,
    V_PORT
};

static const struct {
    const char *name;
    enum lf_var var;
    unsigned    has;
} lf_vars[] = {
    { "remote_addr",               V_ADDR,        LF_HAS_ADDR },
    { "http_x_forwarded_for",      V_XFF,         LF_HAS_XFF },
    { "proxy_add_x_forwarded_for", V_XFF,         LF_HAS_XFF },
    { "time_local",                V_TIME_LOCAL,  LF_HAS_TIME },
    { "time_iso8601",              V_TIME_ISO,    LF_HAS_TIME },
    { "msec",                      V_MSEC,        LF_HAS_TIME },
    { "request",                   V_REQUEST,     LF_HAS_METHOD | LF_HAS_PATH },
    { "request_method",            V_METHOD,      LF_HAS_METHOD },
    { "request_uri",               V_REQUEST_URI, LF_HAS_PATH },
    { "uri",                       V_URI,         LF_HAS_PATH },
    { "document_uri",              V_URI,         LF_HAS_PATH },
    { "args",                      V_ARGS,        0 },
    { "query_string",              V_ARGS,        0 },
    { "server_protocol",           V_PROTOCOL,    0 },
    { "status",                    V_STATUS,      LF_HAS_STATUS },
    { "body_bytes_sent",           V_BODY_BYTES,  LF_HAS_BYTES },
    { "bytes_sent",                V_BYTES,       LF_HAS_BYTES },
    { "request_time",              V_RTIME,       LF_HAS_RTIME },
    { "http_referer",              V_REFERER,     LF_HAS_REFERER },
    { "http_user_agent",           V_UA,          LF_HAS_UA },
    { "host",                      V_HOST,        LF_HAS_HOST },
    { "http_host",                 V_HTTP_HOST,   LF_HAS_HOST },
    { "server_name",               V_SERVER_NAME, LF_HAS_HOST },
    { "server_port",               V_PORT,        0 },
};

static const struct {
    const char *name;
    const char *fmt;
} lf_aliases[] = {
    { "combined",
      "$remote_addr - $remote_user [$time_local] \"$request\" $status "
      "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"" },
    { "common",
      "$remote_addr - $remote_user [$time_local] \"$request\" $status "
      "$body_bytes_sent" },
    { "vhost_combined",
      "$host:$server_port $remote_addr - $remote_user [$time_local] "
      "\"$request\" $status $body_bytes_sent \"$http_referer\" "
      "\"$http_user_agent\"" },
    { "main",
      "$remote_addr - $remote_user [$time_local] \"$request\" $status "
      "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" "
      "\"$http_x_forwarded_for\"" },
};

/* ---- compiled format -------------------------------------------------- */

/* One field and the literal that follows it (lit_n == 0 only for a field
 * at the very end of the format). */
struct lf_step {
    const char   *lit;
    size_t        lit_n;
    unsigned char var;
    unsigned char quoted;   /* between '"' literals: skip \-escapes   */
    unsigned char bracket;  /* followed by ':': read past "[...]"     */
};

struct lf_format {
    char          *src;     /* the expanded format string            */
    char          *lits;    /* literal text, steps point in here     */
    const char    *lead;    /* literal before the first field        */
    size_t         lead_n;
    unsigned       has;
    size_t         nsteps;
    struct lf_step steps[];
};

static void __attribute__((format(printf, 3, 4)))
lf_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int
lf_namechar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

static enum lf_var
lf_lookup(const char *name, size_t n, unsigned *has)
{
    for (size_t i = 0; i < sizeof lf_vars / sizeof lf_vars[0]; i++) {
        if (strlen(lf_vars[i].name) == n
            && strncasecmp(lf_vars[i].name, name, n) == 0) {
            *has |= lf_vars[i].has;
            return lf_vars[i].var;
        }
    }
    return V_SKIP;
}

lf_format *
lf_compile(const char *fmt, char *err, size_t errlen)
{
    if (fmt == NULL || fmt[0] == '\0') {
        lf_seterr(err, errlen, "empty log format");
        return NULL;
    }
    for (size_t i = 0; i < sizeof lf_aliases / sizeof lf_aliases[0]; i++)
        if (strcmp(fmt, lf_aliases[i].name) == 0)
            fmt = lf_aliases[i].fmt;

    size_t len = strlen(fmt), maxsteps = len / 2 + 1;
    lf_format *f = calloc(1, sizeof *f + maxsteps * sizeof f->steps[0]);
    char *src = malloc(len + 1), *lits = malloc(len + 1);
    if (f == NULL || src == NULL || lits == NULL) {
        free(f), free(src), free(lits);
        lf_seterr(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(src, fmt, len + 1);
    f->src = src;
    f->lits = lits;
    f->lead = lits;

    /* literal text is copied to lits; each step's lit points there */
    size_t nl = 0;                 /* bytes used in lits                */
    const char *cur = lits;        /* start of the literal being built  */
    int have_field = 0;
    for (size_t i = 0; i <= len;) {
        if (i < len && src[i] != '$') {
            lits[nl++] = src[i++];
            continue;
        }
        /* end of a literal: attach it to the previous field or the lead */
        size_t curn = (size_t)(lits + nl - cur);
        if (!have_field)
            f->lead_n = curn;
        else {
            f->steps[f->nsteps - 1].lit = cur;
            f->steps[f->nsteps - 1].lit_n = curn;
        }
        if (i == len)
            break;
        /* a variable */
        size_t col = i + 1, ns, nn;
        if (i + 1 < len && src[i + 1] == '{') {
            ns = i + 2;
            nn = 0;
            while (ns + nn < len && lf_namechar((unsigned char)src[ns + nn]))
                nn++;
            if (ns + nn >= len || src[ns + nn] != '}') {
                lf_seterr(err, errlen, "unterminated ${ at column %zu", col);
                goto fail;
            }
            i = ns + nn + 1;
        } else {
            ns = i + 1;
            nn = 0;
            while (ns + nn < len && lf_namechar((unsigned char)src[ns + nn]))
                nn++;
            i = ns + nn;
        }
        if (nn == 0) {
            lf_seterr(err, errlen, "'$' without a variable name at column %zu",
                      col);
            goto fail;
        }
        if (have_field && f->steps[f->nsteps - 1].lit_n == 0) {
            lf_seterr(err, errlen, "variable at column %zu follows another "
                      "variable with no text between them", col);
            goto fail;
        }
        struct lf_step *s = &f->steps[f->nsteps++];
        s->var = (unsigned char)lf_lookup(src + ns, nn, &f->has);
        s->lit = lits + nl;
        s->lit_n = 0;
        have_field = 1;
        cur = lits + nl;
    }
    if (!have_field) {
        lf_seterr(err, errlen, "log format has no variables");
        goto fail;
    }
    /* flags that depend on the literals around each field */
    for (size_t k = 0; k < f->nsteps; k++) {
        struct lf_step *s = &f->steps[k];
        const char *pl = k == 0 ? f->lead : f->steps[k - 1].lit;
        size_t pn = k == 0 ? f->lead_n : f->steps[k - 1].lit_n;
        s->quoted = pn > 0 && pl[pn - 1] == '"' && s->lit_n > 0
                    && s->lit[0] == '"';
        s->bracket = s->lit_n > 0 && s->lit[0] == ':';
    }
    return f;
fail:
    lf_free(f);
    return NULL;
}

void
lf_free(lf_format *f)
{
    if (f == NULL)
        return;
    free(f->src);
    free(f->lits);
    free(f);
}

unsigned
lf_format_has(const lf_format *f)
{
    return f->has;
}

const char *
lf_format_string(const lf_format *f)
{
    return f->src;
}

/* ---- numbers and times ------------------------------------------------ */

#define DIG(c) ((unsigned)((unsigned char)(c) - '0'))

/* n decimal digits at p into *v; 0 on success */
static int
lf_digits(const char *p, size_t n, unsigned *v)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = DIG(p[i]);
        if (d > 9)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* an unsigned decimal of 1..19 digits, or "-" as 0 */
static int
lf_u64(lf_str v, uint64_t *out)
{
    if (v.n == 1 && v.p[0] == '-') {
        *out = 0;
        return 0;
    }
    if (v.n == 0 || v.n > 19)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        unsigned d = DIG(v.p[i]);
        if (d > 9)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* "12.345" seconds (fraction optional, "-" is 0) into milliseconds */
static int
lf_secs_ms(lf_str v, uint64_t maxsec, int64_t *ms)
{
    if (v.n == 1 && v.p[0] == '-') {
        *ms = 0;
        return 0;
    }
    size_t i = 0;
    uint64_t s = 0;
    while (i < v.n && DIG(v.p[i]) <= 9 && i < 13)
        s = s * 10 + DIG(v.p[i++]);
    if (i == 0 || s > maxsec)
        return -1;
    unsigned frac = 0, scale = 100;
    if (i < v.n && v.p[i] == '.') {
        i++;
        size_t fs = i;
        for (; i < v.n && DIG(v.p[i]) <= 9; i++) {
            frac += DIG(v.p[i]) * scale;
            scale /= 10;
        }
        if (i == fs)
            return -1;
    }
    if (i != v.n)
        return -1;
    *ms = (int64_t)s * 1000 + frac;
    return 0;
}

static int
lf_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
lf_mdays(int y, int m)
{
    static const unsigned char d[] = { 31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31 };
    return m == 2 && lf_leap(y) ? 29 : d[m - 1];
}

int64_t
lf_civil_to_ms(int y, int mon, int d, int h, int mi, int s)
{
    /* days from 1970-01-01 (H. Hinnant's days_from_civil) */
    int64_t yy = (int64_t)y - (mon <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned m = (unsigned)mon;
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + (int64_t)doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)s * 1000;
}

static int
lf_month(const char *p)
{
    /* case-sensitive, as NGINX and Apache write them */
    switch (p[0]) {
    case 'J':
        if (p[1] == 'a' && p[2] == 'n') return 1;
        if (p[1] == 'u' && p[2] == 'n') return 6;
        if (p[1] == 'u' && p[2] == 'l') return 7;
        return 0;
    case 'F': return p[1] == 'e' && p[2] == 'b' ? 2 : 0;
    case 'M':
        if (p[1] == 'a' && p[2] == 'r') return 3;
        if (p[1] == 'a' && p[2] == 'y') return 5;
        return 0;
    case 'A':
        if (p[1] == 'p' && p[2] == 'r') return 4;
        if (p[1] == 'u' && p[2] == 'g') return 8;
        return 0;
    case 'S': return p[1] == 'e' && p[2] == 'p' ? 9 : 0;
    case 'O': return p[1] == 'c' && p[2] == 't' ? 10 : 0;
    case 'N': return p[1] == 'o' && p[2] == 'v' ? 11 : 0;
    case 'D': return p[1] == 'e' && p[2] == 'c' ? 12 : 0;
    default: return 0;
    }
}

/* checks ranges, applies the UTC offset (seconds east) */
static int
lf_mktime(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi,
          unsigned s, int off, int64_t *ms)
{
    if (y < 1 || mo < 1 || mo > 12 || d < 1
        || d > (unsigned)lf_mdays((int)y, (int)mo) || h > 23 || mi > 59
        || s > 60)
        return -1;
    *ms = lf_civil_to_ms((int)y, (int)mo, (int)d, (int)h, (int)mi, (int)s)
          - (int64_t)off * 1000;
    return 0;
}

/* "+hhmm" / "-hh:mm" (colon when colon != 0) into seconds east of UTC */
static int
lf_tzoff(const char *p, size_t n, int colon, int *off)
{
    unsigned hh, mm;
    if (n != (colon ? 6u : 5u) || (p[0] != '+' && p[0] != '-')
        || lf_digits(p + 1, 2, &hh) != 0
        || (colon && p[3] != ':')
        || lf_digits(p + (colon ? 4 : 3), 2, &mm) != 0 || hh > 23 || mm > 59)
        return -1;
    *off = (int)(hh * 3600 + mm * 60) * (p[0] == '-' ? -1 : 1);
    return 0;
}

/* "10/Oct/2000:13:55:36 -0700" */
static int
lf_time_local(lf_str v, int64_t *ms)
{
    const char *p = v.p;
    unsigned d, y, h, mi, s;
    int off, mo;
    if (v.n != 26 || p[2] != '/' || p[6] != '/' || p[11] != ':'
        || p[14] != ':' || p[17] != ':' || p[20] != ' '
        || lf_digits(p, 2, &d) || (mo = lf_month(p + 3)) == 0
        || lf_digits(p + 7, 4, &y) || lf_digits(p + 12, 2, &h)
        || lf_digits(p + 15, 2, &mi) || lf_digits(p + 18, 2, &s)
        || lf_tzoff(p + 21, 5, 0, &off))
        return -1;
    return lf_mktime(y, (unsigned)mo, d, h, mi, s, off, ms);
}

/* "2000-10-10T13:55:36-07:00", "...Z", "...+0530", optional ".fff" */
static int
lf_time_iso(lf_str v, int64_t *ms)
{
    const char *p = v.p;
    unsigned y, mo, d, h, mi, s;
    if (v.n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ')
        || p[13] != ':' || p[16] != ':' || lf_digits(p, 4, &y)
        || lf_digits(p + 5, 2, &mo) || lf_digits(p + 8, 2, &d)
        || lf_digits(p + 11, 2, &h) || lf_digits(p + 14, 2, &mi)
        || lf_digits(p + 17, 2, &s))
        return -1;
    size_t i = 19;
    unsigned frac = 0, scale = 100;
    if (p[i] == '.') {
        size_t fs = ++i;
        for (; i < v.n && DIG(p[i]) <= 9; i++) {
            frac += DIG(p[i]) * scale;
            scale /= 10;
        }
        if (i == fs)
            return -1;
    }
    int off = 0;
    if (i + 1 == v.n && p[i] == 'Z')
        off = 0;
    else if (lf_tzoff(p + i, v.n - i, v.n - i == 6, &off))
        return -1;
    if (lf_mktime(y, mo, d, h, mi, s, off, ms))
        return -1;
    *ms += frac;
    return 0;
}

/* ---- parsing ---------------------------------------------------------- */

static const char lf_empty[] = "";

/* a value NGINX wrote as "-" for "not set" reads as empty */
static lf_str
lf_dash(lf_str v)
{
    if (v.n == 1 && v.p[0] == '-')
        v.n = 0;
    return v;
}

static lf_str
lf_trim(const char *p, size_t n)
{
    while (n > 0 && (p[0] == ' ' || p[0] == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (lf_str){ p, n };
}

/* where step s's value, starting at pos, ends; len if it has no literal,
 * (size_t)-1 if its literal does not occur */
static size_t
lf_field_end(const struct lf_step *s, const char *line, size_t pos,
             size_t len)
{
    if (s->lit_n == 0)
        return len;
    size_t from = pos;
    if (s->bracket && pos < len && line[pos] == '[') {
        const char *rb = memchr(line + pos, ']', len - pos);
        if (rb != NULL)
            from = (size_t)(rb - line) + 1;
    }
    char c = s->lit[0];
    while (from < len) {
        const char *q = memchr(line + from, c, len - from);
        if (q == NULL)
            return (size_t)-1;
        size_t at = (size_t)(q - line);
        if (s->quoted) {
            size_t bs = 0;
            while (at - bs > pos && line[at - bs - 1] == '\\')
                bs++;
            if (bs & 1) {
                from = at + 1;
                continue;
            }
        }
        if (s->lit_n == 1)
            return at;
        if (len - at < s->lit_n)
            return (size_t)-1;
        if (memcmp(q + 1, s->lit + 1, s->lit_n - 1) == 0)
            return at;
        from = at + 1;
    }
    return (size_t)-1;
}

/* slices seen on this line before they are resolved into out */
struct lf_tmp {
    lf_str   request, method, target, uri, args, protocol, host;
    int      host_rank;
};

static int
lf_fail(lf_record *out, int code, const char *why, size_t col)
{
    out->err = why;
    out->err_col = col;
    return code;
}

static int
lf_field(unsigned var, lf_str v, lf_record *out, struct lf_tmp *t,
         size_t col)
{
    uint64_t u;
    int64_t ms;
    switch (var) {
    case V_SKIP:
        return 0;
    case V_ADDR:
        out->addr = lf_dash(v);
        return 0;
    case V_XFF: {
        const char *comma = memchr(v.p, ',', v.n);
        out->xff = lf_dash(lf_trim(v.p, comma ? (size_t)(comma - v.p) : v.n));
        return 0;
    }
    case V_TIME_LOCAL:
        if (lf_time_local(v, &out->time_ms))
            return lf_fail(out, LF_ERR_TIME, "bad time", col);
        return 0;
    case V_TIME_ISO:
        if (lf_time_iso(v, &out->time_ms))
            return lf_fail(out, LF_ERR_TIME, "bad time", col);
        return 0;
    case V_MSEC:
        if ((v.n == 1 && v.p[0] == '-')
            || lf_secs_ms(v, 99999999999ull, &out->time_ms))
            return lf_fail(out, LF_ERR_TIME, "bad time", col);
        return 0;
    case V_REQUEST:
        t->request = v;
        return 0;
    case V_METHOD:
        t->method = lf_dash(v);
        return 0;
    case V_REQUEST_URI:
        t->target = lf_dash(v);
        return 0;
    case V_URI:
        t->uri = lf_dash(v);
        return 0;
    case V_ARGS:
        t->args = lf_dash(v);
        return 0;
    case V_PROTOCOL:
        t->protocol = lf_dash(v);
        return 0;
    case V_STATUS: {
        unsigned st;
        if (v.n != 3 || lf_digits(v.p, 3, &st) || st < 100)
            return lf_fail(out, LF_ERR_STATUS, "bad status", col);
        out->status = (int)st;
        return 0;
    }
    case V_BODY_BYTES:
    case V_BYTES:
        if (lf_u64(v, &u))
            return lf_fail(out, LF_ERR_NUMBER, "bad number", col);
        if (var == V_BYTES)
            out->bytes = u;
        else
            out->body_bytes = u;
        return 0;
    case V_RTIME:
        if (lf_secs_ms(v, 4000000, &ms))
            return lf_fail(out, LF_ERR_NUMBER, "bad number", col);
        out->request_time_ms = (uint32_t)ms;
        return 0;
    case V_REFERER:
        out->referer = lf_dash(v);
        return 0;
    case V_UA:
        out->user_agent = lf_dash(v);
        return 0;
    case V_HOST:
    case V_HTTP_HOST:
    case V_SERVER_NAME: {
        int rank = var == V_HOST ? 3 : var == V_HTTP_HOST ? 2 : 1;
        if (rank > t->host_rank) {
            t->host_rank = rank;
            t->host = lf_dash(v);
        }
        return 0;
    }
    case V_PORT:
        if (lf_u64(v, &u) || u > 65535)
            return lf_fail(out, LF_ERR_NUMBER, "bad number", col);
        out->server_port = (uint32_t)u;
        return 0;
    default:
        return 0;
    }
}

/* "GET /p?q HTTP/1.1": method to the first space, protocol after the last
 * one, the target between; a request without a space has none of them */
static void
lf_split_request(lf_str r, struct lf_tmp *t)
{
    const char *sp = memchr(r.p, ' ', r.n);
    if (sp == NULL)
        return;
    lf_str method = { r.p, (size_t)(sp - r.p) };
    const char *tp = sp + 1, *end = r.p + r.n;
    const char *last = end;
    while (last > tp && last[-1] != ' ')
        last--;
    lf_str target, proto = { lf_empty, 0 };
    if (last > tp) {               /* a second space: protocol follows */
        target = (lf_str){ tp, (size_t)(last - 1 - tp) };
        proto = (lf_str){ last, (size_t)(end - last) };
    } else {
        target = (lf_str){ tp, (size_t)(end - tp) };
    }
    if (t->method.p == NULL)
        t->method = method;
    if (t->target.p == NULL)
        t->target = target;
    if (t->protocol.p == NULL)
        t->protocol = proto;
}

/* length of a leading "http://" or "https://" (any case), else 0 */
static size_t
lf_scheme_len(lf_str t)
{
    if (t.n >= 7 && strncasecmp(t.p, "http://", 7) == 0)
        return 7;
    if (t.n >= 8 && strncasecmp(t.p, "https://", 8) == 0)
        return 8;
    return 0;
}

static void
lf_resolve(const struct lf_tmp *t, lf_record *out)
{
    struct lf_tmp r = *t;
    if (r.request.p != NULL)
        lf_split_request(r.request, &r);
    if (r.method.p != NULL)
        out->method = r.method;
    if (r.protocol.p != NULL)
        out->protocol = r.protocol;
    if (r.host.p != NULL)
        out->host = r.host;
    if (r.target.p != NULL && r.target.n > 0) {
        out->target = r.target;
        lf_str t = r.target;
        /* absolute form "http://host/p?q" (proxies, scanners): the path is
         * what follows the authority, "/" when nothing does */
        size_t skip = lf_scheme_len(t);
        if (skip > 0) {
            size_t a = skip;
            while (a < t.n && t.p[a] != '/' && t.p[a] != '?')
                a++;
            t.p += a;
            t.n -= a;
        }
        const char *qm = memchr(t.p, '?', t.n);
        size_t pn = qm != NULL ? (size_t)(qm - t.p) : t.n;
        out->path = (lf_str){ t.p, pn };
        if (qm != NULL)
            out->query = (lf_str){ qm + 1, t.n - pn - 1 };
        if (skip > 0 && pn == 0)
            out->path = (lf_str){ "/", 1 };
    } else if (r.uri.p != NULL) {
        out->path = r.uri;
        if (r.args.p != NULL)
            out->query = r.args;
    }
}

static const lf_record lf_zero = {
    .addr = { lf_empty, 0 }, .xff = { lf_empty, 0 },
    .method = { lf_empty, 0 }, .target = { lf_empty, 0 },
    .path = { lf_empty, 0 }, .query = { lf_empty, 0 },
    .protocol = { lf_empty, 0 }, .referer = { lf_empty, 0 },
    .user_agent = { lf_empty, 0 }, .host = { lf_empty, 0 },
};

int
lf_parse(const lf_format *f, const char *line, size_t len, lf_record *out)
{
    *out = lf_zero;
    out->has = f->has;
    if (len < f->lead_n || memcmp(line, f->lead, f->lead_n) != 0) {
        size_t i = 0;
        while (i < len && i < f->lead_n && line[i] == f->lead[i])
            i++;
        return lf_fail(out, LF_ERR_MATCH, "line does not match format",
                       i + 1);
    }
    struct lf_tmp t;
    memset(&t, 0, sizeof t);
    size_t pos = f->lead_n;
    for (size_t k = 0; k < f->nsteps; k++) {
        const struct lf_step *s = &f->steps[k];
        size_t end = lf_field_end(s, line, pos, len);
        if (end == (size_t)-1)
            return lf_fail(out, LF_ERR_MATCH, "line does not match format",
                           pos + 1);
        lf_str v = { line + pos, end - pos };
        if (s->var != V_SKIP) {
            int rc = lf_field(s->var, v, out, &t, pos + 1);
            if (rc != 0)
                return rc;
        }
        pos = end + s->lit_n;
    }
    lf_resolve(&t, out);
    return LF_OK;
}

const char *
lf_strerror(const lf_record *out, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    snprintf(buf, n, "%s at column %zu", out->err ? out->err : "no error",
             out->err_col);
    return buf;
}

static int
lf_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t
lf_unescape(const char *src, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            char e = src[i + 1];
            if (e == '"' || e == '\\') {
                dst[o++] = e;
                i += 2;
                continue;
            }
            if (e == 'x' && i + 3 < n) {
                int hi = lf_hex((unsigned char)src[i + 2]);
                int lo = lf_hex((unsigned char)src[i + 3]);
                if (hi >= 0 && lo >= 0) {
                    dst[o++] = (char)(hi << 4 | lo);
                    i += 4;
                    continue;
                }
            }
        }
        dst[o++] = c;
        i++;
    }
    return o;
}
