/*
 * q_range.h -- Stats API v2 `date_range` values resolved in the site's
 * time zone, following Plausible's source (lib/plausible/stats/
 * api_query_parser.ex parse_input_date_range/1 and query_builder.ex
 * build_datetime_range/4, 2025):
 *
 *   "day"        today (site-local)
 *   "Nd"         the N days BEFORE today, today excluded (1 <= N <= 5000;
 *                "7d", "28d", "30d", "91d" are the documented ones)
 *   "month"      the whole current calendar month (1st .. last day; days
 *                after today simply have no data)
 *   "Nmo"        the N whole months before the current one (1 <= N <= 100;
 *                "6mo", "12mo" documented)
 *   "year"       the whole current calendar year (Jan 1 .. Dec 31)
 *   "all"        the site's first stats day .. today (today .. today when
 *                the site has no stats, as in Plausible)
 *   "24h"        [now - 24 h, now]
 *   "realtime"   [now - 5 min, now + 5 s]   (Plausible's dashboard value)
 *   "realtime_30m" [now - 30 min, now + 5 s]
 *   ["YYYY-MM-DD","YYYY-MM-DD"]        whole site-local days, inclusive
 *   ["<ISO datetime>","<ISO datetime>"] instants with an explicit offset
 *                ("Z" or +hh:mm), both ends inclusive at second precision
 *
 * Every range becomes seconds [first_s, last_s], both inclusive, like
 * Plausible's DateTimeRange (a day range ends at 23:59:59 local), and the
 * half-open millisecond range [from_ms, to_ms) = [first_s*1000,
 * (last_s+1)*1000) that the executor filters raw events with.
 */
#ifndef TALLY_AGG_Q_RANGE_H
#define TALLY_AGG_Q_RANGE_H

#include "aggregator/tz.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    Q_DR_DAY = 0,
    Q_DR_LAST_N_DAYS,
    Q_DR_MONTH,
    Q_DR_LAST_N_MONTHS,
    Q_DR_YEAR,
    Q_DR_ALL,
    Q_DR_24H,
    Q_DR_REALTIME,
    Q_DR_REALTIME_30M,
    Q_DR_DATES,
    Q_DR_DATETIMES
} q_dr_kind;

typedef struct {
    q_dr_kind kind;
    int       n;                 /* N of "Nd" / "Nmo" */
    int64_t   in_first, in_last; /* Q_DR_DATES: local days; Q_DR_DATETIMES:
                                    UTC seconds (as given) */
    /* resolved by q_range_resolve: */
    int       day_aligned;       /* first_s/last_s+1 are local midnights */
    int       hour_aligned;      /* from_ms and to_ms are whole UTC hours
                                    (hourly rollups usable) */
    int64_t   first_day, last_day; /* site-local days touched, inclusive */
    int64_t   first_s, last_s;   /* UTC seconds, inclusive */
    int64_t   from_ms, to_ms;    /* UTC milliseconds, [from, to) */
} q_range;

/* Parses a string preset ("day", "7d", "month", ...).  Returns 0, or -1
 * with a message in err naming the value. */
int q_range_parse_preset(const char *s, q_range *r, char *err, size_t errlen);

/* Parses a pair of ISO 8601 dates ("2024-01-31") or of datetimes with an
 * offset ("2024-01-31T10:00:00Z", "2024-01-31T10:00:00.5+05:30").  Both
 * must be of the same kind and from <= to.  Returns 0 or -1 with err. */
int q_range_parse_pair(const char *from, const char *to, q_range *r,
                       char *err, size_t errlen);

/* Resolves a parsed range for "now" (UTC ms) in zone z.  first_day is the
 * site-local day of the site's first stats, or -1 if unknown/none (only
 * "all" uses it).  Fills the resolved fields. */
void q_range_resolve(q_range *r, const tz_zone *z, int64_t now_ms,
                     int64_t first_day);

/* Parses "YYYY-MM-DD" (exactly, years 1970..9999) into a day number.
 * Returns 0 or -1. */
int q_parse_date(const char *s, int64_t *day);

/* Parses an ISO 8601 datetime with seconds and a mandatory offset:
 * YYYY-MM-DD(T| )hh:mm:ss[.fraction](Z|+hh:mm|-hh:mm).  The fraction is
 * truncated.  Returns 0 and UTC seconds in *t, or -1. */
int q_parse_datetime(const char *s, int64_t *t);

/* Formats UTC second t in zone z as "YYYY-MM-DDThh:mm:ss+hh:mm" (or "...Z"
 * when the zone is UTC/Etc/UTC, as Elixir's DateTime.to_iso8601 does) into
 * out (at least 32 bytes). */
void q_format_datetime(const tz_zone *z, int64_t t, char *out, size_t outlen);

/* Formats day number as "YYYY-MM-DD" into out (at least 11 bytes). */
void q_format_date(int64_t day, char *out, size_t outlen);

#endif
