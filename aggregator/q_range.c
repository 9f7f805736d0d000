/* q_range.c -- see q_range.h. */
#include "aggregator/q_range.h"

#include <stdio.h>
#include <string.h>

#define Q_DAY 86400

static int
q_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* YYYY-MM-DD at s (10 chars, not necessarily terminated there). */
static int
q_parse_date10(const char *s, int64_t *day)
{
    int y, m, d;
    if (q_digits(s, 4, &y) || s[4] != '-' || q_digits(s + 5, 2, &m)
        || s[7] != '-' || q_digits(s + 8, 2, &d))
        return -1;
    if (y < 1970 || m < 1 || m > 12 || d < 1
        || (unsigned)d > tz_days_in_month(y, (unsigned)m))
        return -1;
    *day = tz_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

int
q_parse_date(const char *s, int64_t *day)
{
    if (s == NULL || strlen(s) != 10)
        return -1;
    return q_parse_date10(s, day);
}

int
q_parse_datetime(const char *s, int64_t *t)
{
    if (s == NULL)
        return -1;
    size_t len = strlen(s);
    int64_t day;
    int hh, mi, ss;
    if (len < 20 || q_parse_date10(s, &day) != 0 || (s[10] != 'T' && s[10] != ' ')
        || q_digits(s + 11, 2, &hh) || s[13] != ':' || q_digits(s + 14, 2, &mi)
        || s[16] != ':' || q_digits(s + 17, 2, &ss))
        return -1;
    if (hh > 23 || mi > 59 || ss > 59)
        return -1;
    const char *p = s + 19;
    if (*p == '.' || *p == ',') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 9) {
            p++;
            nd++;
        }
        if (nd == 0)
            return -1;
    }
    int off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, sign = *p == '-' ? -1 : 1;
        if (q_digits(p + 1, 2, &oh) || p[3] != ':' || q_digits(p + 4, 2, &om)
            || oh > 23 || om > 59)
            return -1;
        if (sign < 0 && oh == 0 && om == 0)
            return -1;              /* "-00:00" means unknown offset */
        off = sign * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return -1;                  /* no offset: ambiguous, refused */
    }
    if (*p != '\0')
        return -1;
    *t = day * Q_DAY + hh * 3600 + mi * 60 + ss - off;
    return 0;
}

void
q_format_date(int64_t day, char *out, size_t outlen)
{
    int64_t y;
    unsigned m, d;
    tz_civil_from_days(day, &y, &m, &d);
    snprintf(out, outlen, "%04d-%02u-%02u", (int)(y % 10000), m % 100, d % 100);
}

void
q_format_datetime(const tz_zone *z, int64_t t, char *out, size_t outlen)
{
    int32_t off = tz_offset_at(z, t);
    int64_t local = t + off;
    int64_t day = local >= 0 ? local / Q_DAY : (local - Q_DAY + 1) / Q_DAY;
    int64_t sod = local - day * Q_DAY;
    char date[16];
    q_format_date(day, date, sizeof date);
    const char *name = tz_zone_name(z);
    if (off == 0 && (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)) {
        snprintf(out, outlen, "%sT%02d:%02d:%02dZ", date, (int)(sod / 3600),
                 (int)(sod / 60 % 60), (int)(sod % 60));
        return;
    }
    int32_t a = off < 0 ? -off : off;
    /* offsets with seconds (LMT, before 1900) are not reachable: dates
     * start in 1970 */
    snprintf(out, outlen, "%sT%02d:%02d:%02d%c%02d:%02d", date, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), off < 0 ? '-' : '+',
             (int)(a / 3600), (int)(a / 60 % 60));
}

/* "N<unit>" with 1 <= N <= max, no sign, no leading zero. */
static int
q_count_suffix(const char *s, const char *unit, int max, int *n)
{
    size_t len = strlen(s), ul = strlen(unit);
    if (len <= ul || len - ul > 4 || strcmp(s + len - ul, unit) != 0 || s[0] == '0')
        return -1;
    int v = 0;
    for (size_t i = 0; i < len - ul; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > max)
        return -1;
    *n = v;
    return 0;
}

int
q_range_parse_preset(const char *s, q_range *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    static const struct { const char *name; q_dr_kind kind; } fixed[] = {
        { "day", Q_DR_DAY }, { "month", Q_DR_MONTH }, { "year", Q_DR_YEAR },
        { "all", Q_DR_ALL }, { "24h", Q_DR_24H }, { "realtime", Q_DR_REALTIME },
        { "realtime_30m", Q_DR_REALTIME_30M },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (strcmp(s, fixed[i].name) == 0) {
            r->kind = fixed[i].kind;
            return 0;
        }
    if (q_count_suffix(s, "d", 5000, &r->n) == 0) {
        r->kind = Q_DR_LAST_N_DAYS;
        return 0;
    }
    if (q_count_suffix(s, "mo", 100, &r->n) == 0) {
        r->kind = Q_DR_LAST_N_MONTHS;
        return 0;
    }
    snprintf(err, errlen, "#/date_range: Invalid date_range \"%.40s\"", s);
    return -1;
}

int
q_range_parse_pair(const char *from, const char *to, q_range *r, char *err,
                   size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (q_parse_date(from, &r->in_first) == 0 && q_parse_date(to, &r->in_last) == 0) {
        r->kind = Q_DR_DATES;
    } else if (q_parse_datetime(from, &r->in_first) == 0
               && q_parse_datetime(to, &r->in_last) == 0) {
        r->kind = Q_DR_DATETIMES;
    } else {
        snprintf(err, errlen,
                 "#/date_range: Invalid date_range [\"%.40s\", \"%.40s\"]: expected two "
                 "dates (YYYY-MM-DD) or two ISO 8601 datetimes with an offset",
                 from, to);
        return -1;
    }
    if (r->in_first > r->in_last) {
        snprintf(err, errlen,
                 "#/date_range: Invalid date_range [\"%.40s\", \"%.40s\"]: start is after end",
                 from, to);
        return -1;
    }
    return 0;
}

/* Sets a whole-day range [d0, d1] (local days). */
static void
q_days(q_range *r, const tz_zone *z, int64_t d0, int64_t d1)
{
    r->first_day = d0;
    r->last_day = d1;
    r->day_aligned = 1;
    r->first_s = tz_day_start(z, d0);
    r->last_s = tz_day_start(z, d1 + 1) - 1;
}

static int64_t
q_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Instant range [t0, t1] (UTC seconds, inclusive). */
static void
q_instants(q_range *r, const tz_zone *z, int64_t t0, int64_t t1)
{
    r->first_s = t0;
    r->last_s = t1;
    r->first_day = tz_day_of(z, t0);
    r->last_day = tz_day_of(z, t1);
    r->day_aligned = tz_day_start(z, r->first_day) == t0
                     && tz_day_start(z, r->last_day + 1) == t1 + 1;
}

void
q_range_resolve(q_range *r, const tz_zone *z, int64_t now_ms, int64_t first_day)
{
    int64_t now = q_floordiv(now_ms, 1000);
    int64_t today = tz_day_of(z, now);
    int64_t y;
    unsigned m, d;
    tz_civil_from_days(today, &y, &m, &d);
    switch (r->kind) {
    case Q_DR_DAY:
        q_days(r, z, today, today);
        break;
    case Q_DR_LAST_N_DAYS:
        q_days(r, z, today - r->n, today - 1);
        break;
    case Q_DR_MONTH:
        q_days(r, z, tz_days_from_civil(y, m, 1),
               tz_days_from_civil(y, m, tz_days_in_month(y, m)));
        break;
    case Q_DR_LAST_N_MONTHS: {
        int64_t mi = y * 12 + (m - 1) - r->n;     /* first month, 0-based */
        q_days(r, z, tz_days_from_civil(mi / 12, (unsigned)(mi % 12) + 1, 1),
               tz_days_from_civil(y, m, 1) - 1);
        break;
    }
    case Q_DR_YEAR:
        q_days(r, z, tz_days_from_civil(y, 1, 1), tz_days_from_civil(y, 12, 31));
        break;
    case Q_DR_ALL:
        q_days(r, z, first_day >= 0 && first_day <= today ? first_day : today, today);
        break;
    case Q_DR_24H:
        q_instants(r, z, now - 24 * 3600, now);
        break;
    case Q_DR_REALTIME:
        q_instants(r, z, now - 5 * 60, now + 5);
        break;
    case Q_DR_REALTIME_30M:
        q_instants(r, z, now - 30 * 60, now + 5);
        break;
    case Q_DR_DATES:
        q_days(r, z, r->in_first, r->in_last);
        break;
    case Q_DR_DATETIMES:
        q_instants(r, z, r->in_first, r->in_last);
        break;
    }
    r->from_ms = r->first_s * 1000;
    r->to_ms = (r->last_s + 1) * 1000;
    r->hour_aligned = r->from_ms % 3600000 == 0 && r->to_ms % 3600000 == 0;
}
