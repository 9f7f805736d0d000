/* tz.c -- see tz.h.  Format: RFC 8536 (TZif); footer: POSIX.1-2017
 * section 8.3 TZ, with the RFC 8536 section 3.3.1 extensions (hours
 * -167..167 in rule times, "<+0545>"-style quoted names). */
#include "aggregator/tz.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_FILE_MAX   (1u << 20)     /* no real zone file is > 10 KiB */
#define TZ_TRANS_MAX  100000u
#define TZ_SECS_DAY   86400

/* ---- civil dates (H. Hinnant's algorithms) ---- */

int64_t
tz_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void
tz_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
tz_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned
tz_days_in_month(int64_t y, unsigned m)
{
    static const unsigned md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12)
        return 0;
    return md[m - 1] + (m == 2 && tz_leap(y));
}

unsigned
tz_weekday(int64_t day)
{
    /* 1970-01-01 was a Thursday (ISO 3) */
    int64_t w = (day + 3) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

static int64_t
tz_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---- POSIX TZ rule ---- */

typedef struct {
    char kind;          /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' */
    int n, m, w, d;
    int32_t time;       /* seconds after local midnight, may be < 0 or > 24h */
} tz_rdate;

typedef struct {
    int32_t std_off, dst_off;   /* east positive */
    int has_dst;
    tz_rdate start, end;
} tz_rule;

struct tz_zone {
    char name[TZ_NAME_MAX];
    size_t ntrans;
    int64_t *trans;             /* ascending UTC instants */
    int32_t *trans_off;         /* offset in effect from trans[i] on */
    int32_t off0;               /* before the first transition */
    int has_rule;
    tz_rule rule;
    struct tz_zone *next;
};

static const char *
tz_parse_name(const char *p)
{
    if (*p == '<') {
        p++;
        while (*p && *p != '>')
            p++;
        return *p == '>' ? p + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]h[h[h]][:mm[:ss]]; maxh bounds the hours.  Returns NULL on error. */
static const char *
tz_parse_hms(const char *p, int maxh, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return NULL;
    int h = 0, mi = 0, s = 0, nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 3) {
        h = h * 10 + (*p++ - '0');
        nd++;
    }
    if (h > maxh)
        return NULL;
    if (*p == ':') {
        p++;
        if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
            return NULL;
        mi = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
                return NULL;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    *out = sign * (h * 3600 + mi * 60 + s);
    return p;
}

static const char *
tz_parse_num(const char *p, int lo, int hi, int *out)
{
    int v = 0, nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 4) {
        v = v * 10 + (*p++ - '0');
        nd++;
    }
    if (nd == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *
tz_parse_rdate(const char *p, tz_rdate *r)
{
    memset(r, 0, sizeof *r);
    if (*p == 'J') {
        r->kind = 'J';
        p = tz_parse_num(p + 1, 1, 365, &r->n);
    } else if (*p == 'M') {
        r->kind = 'M';
        p = tz_parse_num(p + 1, 1, 12, &r->m);
        if (p == NULL || *p++ != '.')
            return NULL;
        p = tz_parse_num(p, 1, 5, &r->w);
        if (p == NULL || *p++ != '.')
            return NULL;
        p = tz_parse_num(p, 0, 6, &r->d);
    } else {
        r->kind = 'N';
        p = tz_parse_num(p, 0, 365, &r->n);
    }
    if (p == NULL)
        return NULL;
    r->time = 7200;
    if (*p == '/')
        p = tz_parse_hms(p + 1, 167, &r->time);
    return p;
}

/* Parses a TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" or
 * "<+0545>-5:45".  Returns 0 or -1. */
static int
tz_parse_rule(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    const char *p = tz_parse_name(s);
    int32_t v;
    if (p == NULL || (p = tz_parse_hms(p, 24, &v)) == NULL)
        return -1;
    r->std_off = -v;
    if (*p == '\0')
        return 0;
    if ((p = tz_parse_name(p)) == NULL)
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = tz_parse_hms(p, 24, &v)) == NULL)
            return -1;
        r->dst_off = -v;
    }
    if (*p == '\0') {
        /* no rule: the US rules, as glibc and the tz reference code do */
        r->start = (tz_rdate){ 'M', 0, 3, 2, 0, 7200 };
        r->end = (tz_rdate){ 'M', 0, 11, 1, 0, 7200 };
        return 0;
    }
    if (*p++ != ',' || (p = tz_parse_rdate(p, &r->start)) == NULL)
        return -1;
    if (*p++ != ',' || (p = tz_parse_rdate(p, &r->end)) == NULL)
        return -1;
    return *p == '\0' ? 0 : -1;
}

/* Local day number of rule date r in year y. */
static int64_t
tz_rdate_day(const tz_rdate *r, int64_t y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1);
    switch (r->kind) {
    case 'J':
        return jan1 + r->n - 1 + (tz_leap(y) && r->n >= 60);
    case 'N':
        return jan1 + r->n;
    default: {
        int64_t first = tz_days_from_civil(y, (unsigned)r->m, 1);
        unsigned wd_first = (tz_weekday(first) + 1) % 7;   /* 0 = Sunday */
        int64_t day = first + (r->d - (int)wd_first + 7) % 7 + 7 * (r->w - 1);
        int64_t last = first + tz_days_in_month(y, (unsigned)r->m) - 1;
        while (day > last)
            day -= 7;
        return day;
    }
    }
}

typedef struct {
    int64_t at;
    int32_t off_after;
} tz_tr;

/* The (up to) two footer transitions of year y, unsorted. */
static void
tz_rule_year(const tz_rule *r, int64_t y, tz_tr out[2])
{
    out[0].at = tz_rdate_day(&r->start, y) * TZ_SECS_DAY + r->start.time - r->std_off;
    out[0].off_after = r->dst_off;
    out[1].at = tz_rdate_day(&r->end, y) * TZ_SECS_DAY + r->end.time - r->dst_off;
    out[1].off_after = r->std_off;
}

static int
tz_tr_cmp(const void *a, const void *b)
{
    const tz_tr *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

/* Footer transitions of the years y0..y1 (at most 8 years), sorted.
 * Returns how many. */
static size_t
tz_rule_span(const tz_rule *r, int64_t y0, int64_t y1, tz_tr *out)
{
    size_t n = 0;
    for (int64_t y = y0; y <= y1 && n + 2 <= 16; y++) {
        tz_rule_year(r, y, out + n);
        n += 2;
    }
    qsort(out, n, sizeof *out, tz_tr_cmp);
    return n;
}

static int64_t
tz_year_of(int64_t t)
{
    int64_t y;
    unsigned m, d;
    tz_civil_from_days(tz_floordiv(t, TZ_SECS_DAY), &y, &m, &d);
    return y;
}

static int32_t
tz_rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    tz_tr tr[16];
    int64_t y = tz_year_of(t + r->std_off);
    size_t n = tz_rule_span(r, y - 1, y + 1, tr);
    int32_t off = tr[0].off_after == r->dst_off ? r->std_off : r->dst_off;
    for (size_t i = 0; i < n && tr[i].at <= t; i++)
        off = tr[i].off_after;
    return off;
}

/* ---- lookups ---- */

int32_t
tz_offset_at(const tz_zone *z, int64_t t)
{
    if (z->ntrans == 0)
        return z->has_rule ? tz_rule_offset(&z->rule, t) : z->off0;
    if (t < z->trans[0])
        return z->off0;
    if (t >= z->trans[z->ntrans - 1] && z->has_rule)
        return tz_rule_offset(&z->rule, t);
    size_t lo = 0, hi = z->ntrans;      /* last i with trans[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->trans_off[lo];
}

/* Transitions in (a, b], in order, at most max.  Returns how many. */
static size_t
tz_transitions(const tz_zone *z, int64_t a, int64_t b, tz_tr *out, size_t max)
{
    size_t n = 0, lo = 0, hi = z->ntrans;
    while (lo < hi) {                   /* first i with trans[i] > a */
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < z->ntrans && z->trans[i] <= b && n < max; i++)
        out[n++] = (tz_tr){ z->trans[i], z->trans_off[i] };
    if (z->has_rule && z->rule.has_dst) {
        int64_t floor_t = z->ntrans ? z->trans[z->ntrans - 1] : INT64_MIN;
        tz_tr tr[16];
        size_t k = tz_rule_span(&z->rule, tz_year_of(a) - 1, tz_year_of(b) + 1, tr);
        for (size_t i = 0; i < k && n < max; i++)
            if (tr[i].at > a && tr[i].at <= b && tr[i].at > floor_t)
                out[n++] = tr[i];
    }
    return n;
}

int64_t
tz_local_to_utc(const tz_zone *z, int64_t local)
{
    /* offsets are within +-26 h, so every candidate instant local - off
     * lies in this window */
    int64_t a = local - 2 * TZ_SECS_DAY, b = local + 2 * TZ_SECS_DAY;
    tz_tr tr[32];
    size_t n = tz_transitions(z, a, b, tr, 32);
    int32_t offs[33];
    offs[0] = tz_offset_at(z, a);
    for (size_t i = 0; i < n; i++)
        offs[i + 1] = tr[i].off_after;
    int found = 0;
    int64_t best = 0;
    for (size_t i = 0; i <= n; i++) {
        int64_t t = local - offs[i];
        if (tz_offset_at(z, t) == offs[i] && (!found || t < best)) {
            best = t;
            found = 1;
        }
    }
    if (found)
        return best;
    /* in a gap: the transition whose skipped local times contain `local` */
    for (size_t i = 0; i < n; i++) {
        int32_t before = offs[i], after = offs[i + 1];
        if (tr[i].at + before <= local && local < tr[i].at + after)
            return tr[i].at;
    }
    return local - offs[0];
}

int64_t
tz_day_start(const tz_zone *z, int64_t day)
{
    return tz_local_to_utc(z, day * TZ_SECS_DAY);
}

int64_t
tz_day_of(const tz_zone *z, int64_t t)
{
    return tz_floordiv(t + tz_offset_at(z, t), TZ_SECS_DAY);
}

const char *
tz_zone_name(const tz_zone *z)
{
    return z->name;
}

/* ---- loading ---- */

int
tz_name_valid(const char *name)
{
    if (name == NULL)
        return 0;
    size_t len = strlen(name), comp = 0;
    if (len == 0 || len >= TZ_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '/') {
            if (comp == 0)
                return 0;
            comp = 0;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-'))
            return 0;
        comp++;
    }
    return comp > 0;
}

static uint32_t
tz_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
tz_be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)tz_be32(p) << 32 | tz_be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chr;
} tz_counts;

static int
tz_header(const unsigned char *p, size_t len, tz_counts *c, int *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    if (*version < 1 || *version > 9)
        return -1;
    c->isut = tz_be32(p + 20);
    c->isstd = tz_be32(p + 24);
    c->leap = tz_be32(p + 28);
    c->time = tz_be32(p + 32);
    c->type = tz_be32(p + 36);
    c->chr = tz_be32(p + 40);
    if (c->type == 0 || c->type > 256 || c->time > TZ_TRANS_MAX
        || c->leap > TZ_TRANS_MAX || c->chr > 65536
        || (c->isut != 0 && c->isut != c->type)
        || (c->isstd != 0 && c->isstd != c->type))
        return -1;
    return 0;
}

/* Parses a whole TZif file into z.  Returns 0 or -1. */
static int
tz_parse_file(const unsigned char *buf, size_t len, tz_zone *z)
{
    tz_counts c;
    int version;
    if (tz_header(buf, len, &c, &version) != 0)
        return -1;
    size_t tsz = 4;
    const unsigned char *p = buf + 44;
    size_t block = (size_t)c.time * 5 + c.type * 6 + c.chr + c.leap * 8 + c.isstd + c.isut;
    if (block > len - 44)
        return -1;
    if (version >= 2) {             /* skip to the 64-bit section */
        const unsigned char *h2 = p + block;
        int v2;
        if (tz_header(h2, len - (size_t)(h2 - buf), &c, &v2) != 0)
            return -1;
        p = h2 + 44;
        tsz = 8;
        block = (size_t)c.time * 9 + c.type * 6 + c.chr + c.leap * 12 + c.isstd + c.isut;
        if (block > len - (size_t)(p - buf))
            return -1;
    }
    const unsigned char *times = p, *idx = p + (size_t)c.time * tsz;
    const unsigned char *types = idx + c.time;
    int32_t offs[256];
    for (uint32_t i = 0; i < c.type; i++) {
        int32_t o = (int32_t)tz_be32(types + 6 * i);
        if (o < -89999 || o > 93599 || types[6 * i + 4] > 1)
            return -1;
        offs[i] = o;
    }
    z->ntrans = c.time;
    z->off0 = offs[0];
    if (c.time) {
        z->trans = malloc(c.time * sizeof *z->trans);
        z->trans_off = malloc(c.time * sizeof *z->trans_off);
        if (z->trans == NULL || z->trans_off == NULL)
            return -1;
    }
    for (uint32_t i = 0; i < c.time; i++) {
        int64_t t = tsz == 8 ? tz_be64(times + 8 * i)
                             : (int64_t)(int32_t)tz_be32(times + 4 * i);
        if (idx[i] >= c.type || (i > 0 && t <= z->trans[i - 1]))
            return -1;
        z->trans[i] = t;
        z->trans_off[i] = offs[idx[i]];
    }
    if (version >= 2) {
        const unsigned char *f = p + block, *end = buf + len;
        if (f < end && *f == '\n') {
            const unsigned char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
            size_t flen = nl ? (size_t)(nl - f - 1) : 0;
            if (nl == NULL || flen >= 128)
                return -1;
            char s[128];
            memcpy(s, f + 1, flen);
            s[flen] = '\0';
            if (flen > 0) {
                if (tz_parse_rule(s, &z->rule) != 0)
                    return -1;
                z->has_rule = 1;
            }
        }
    }
    return 0;
}

static void
tz_zone_free(tz_zone *z)
{
    if (z) {
        free(z->trans);
        free(z->trans_off);
        free(z);
    }
}

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(tz_zone *) tz_cache;
static char tz_dir[512];

void
tz_set_dir(const char *dir)
{
    pthread_mutex_lock(&tz_lock);
    snprintf(tz_dir, sizeof tz_dir, "%s", dir ? dir : "");
    pthread_mutex_unlock(&tz_lock);
}

static const tz_zone *
tz_find(const char *name)
{
    for (tz_zone *z = atomic_load_explicit(&tz_cache, memory_order_acquire); z;
         z = z->next)
        if (strcmp(z->name, name) == 0)
            return z;
    return NULL;
}

static tz_zone *
tz_load(const char *name, char *err, size_t errlen)
{
    if (tz_dir[0] == '\0') {
        const char *env = getenv("TZDIR");
        snprintf(tz_dir, sizeof tz_dir, "%s",
                 env && env[0] == '/' ? env : "/usr/share/zoneinfo");
    }
    char path[sizeof tz_dir + TZ_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", tz_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "Unknown time zone '%s'", name);
        return NULL;
    }
    unsigned char *buf = malloc(TZ_FILE_MAX);
    size_t len = buf ? fread(buf, 1, TZ_FILE_MAX, f) : 0;
    int toolong = buf && len == TZ_FILE_MAX;
    fclose(f);
    tz_zone *z = calloc(1, sizeof *z);
    if (buf == NULL || z == NULL || toolong || tz_parse_file(buf, len, z) != 0) {
        snprintf(err, errlen, "Time zone '%s' is not a valid TZif file", name);
        free(buf);
        tz_zone_free(z);
        return NULL;
    }
    free(buf);
    snprintf(z->name, sizeof z->name, "%s", name);
    return z;
}

const tz_zone *
tz_get(const char *name, char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (name == NULL || name[0] == '\0')
        name = "UTC";
    if (!tz_name_valid(name)) {
        snprintf(err, errlen, "Invalid time zone name '%.64s'", name);
        return NULL;
    }
    const tz_zone *z = tz_find(name);
    if (z)
        return z;
    pthread_mutex_lock(&tz_lock);
    z = tz_find(name);
    if (z == NULL) {
        tz_zone *nz = tz_load(name, err, errlen);
        if (nz) {
            nz->next = atomic_load_explicit(&tz_cache, memory_order_relaxed);
            atomic_store_explicit(&tz_cache, nz, memory_order_release);
            z = nz;
        }
    }
    pthread_mutex_unlock(&tz_lock);
    return z;
}
