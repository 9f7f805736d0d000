/*
 * test_q_range.c -- date_range presets and pairs resolved for fixed "now"
 * values.  Expected instants were computed independently (Python
 * zoneinfo / `date -d`), not with tz.c.
 */
#include "aggregator/q_range.h"
#include "tests/check.h"

static const tz_zone *
Z(const char *name)
{
    const tz_zone *z = tz_get(name, NULL, 0);
    CHECK(z != NULL);
    return z;
}

/* Resolves preset s at now (UTC seconds) in zone and checks [first, last]
 * (inclusive UTC seconds). */
static int
preset(const char *zone, int64_t now, const char *s, int64_t first, int64_t last)
{
    q_range r;
    char err[200];
    const tz_zone *z = Z(zone);
    if (!z || q_range_parse_preset(s, &r, err, sizeof err) != 0) {
        fprintf(stderr, "preset %s: %s\n", s, err);
        return 0;
    }
    q_range_resolve(&r, z, now * 1000 + 123, -1);
    if (r.first_s != first || r.last_s != last) {
        fprintf(stderr, "%s %s: got [%lld, %lld] want [%lld, %lld]\n", zone, s,
                (long long)r.first_s, (long long)r.last_s, (long long)first,
                (long long)last);
        return 0;
    }
    return r.from_ms == first * 1000 && r.to_ms == (last + 1) * 1000;
}

static void
test_presets_utc(void)
{
    int64_t now = 1710460800 + 12 * 3600;          /* 2024-03-15T12:00:00Z */
    CHECK(preset("UTC", now, "day", 1710460800, 1710547199));
    /* Nd = the N days before today, today excluded (api_query_parser
     * last_n_days: first = today - N, last = today - 1) */
    CHECK(preset("UTC", now, "7d", 1709856000, 1710460799));
    CHECK(preset("UTC", now, "28d", 1710460800 - 28 * 86400, 1710460799));
    CHECK(preset("UTC", now, "30d", 1710460800 - 30 * 86400, 1710460799));
    CHECK(preset("UTC", now, "91d", 1710460800 - 91 * 86400, 1710460799));
    /* month/year: the whole calendar month/year */
    CHECK(preset("UTC", now, "month", 1709251200, 1711929599));
    CHECK(preset("UTC", now, "year", 1704067200, 1735689599));
    /* Nmo: N whole months before this one; Feb 2024 has 29 days */
    CHECK(preset("UTC", now, "6mo", 1693526400, 1709251199));
    CHECK(preset("UTC", now, "12mo", 1677628800, 1709251199));
    CHECK(preset("UTC", now, "1mo", 1706745600, 1709251199));
    CHECK(preset("UTC", now, "24h", now - 86400, now));
    CHECK(preset("UTC", now, "realtime", now - 300, now + 5));
    CHECK(preset("UTC", now, "realtime_30m", now - 1800, now + 5));
    CHECK(preset("UTC", now, "all", 1710460800, 1710547199));   /* no stats yet */
    CHECK(preset("UTC", now, "5000d", 1710460800 - 5000LL * 86400, 1710460799));
}

static void
test_day_lists(void)
{
    q_range r;
    char err[200];
    const tz_zone *z = Z("UTC");
    CHECK(q_range_parse_preset("7d", &r, err, sizeof err) == 0);
    q_range_resolve(&r, z, (1710460800LL + 3600) * 1000, -1);
    CHECK(r.last_day - r.first_day + 1 == 7);
    CHECK(r.last_day == 1710460800 / 86400 - 1);
    CHECK(r.day_aligned && r.hour_aligned);
    CHECK(q_range_parse_preset("all", &r, err, sizeof err) == 0);
    q_range_resolve(&r, z, 1710460800LL * 1000, 1704067200 / 86400);
    CHECK(r.first_s == 1704067200 && r.last_s == 1710547199);
    CHECK(r.first_day == 1704067200 / 86400);
    CHECK(q_range_parse_preset("24h", &r, err, sizeof err) == 0);
    q_range_resolve(&r, z, 1710460800LL * 1000 + 1500, -1);
    CHECK(!r.day_aligned && !r.hour_aligned);
    CHECK(r.first_day == 1710460800 / 86400 - 1 && r.last_day == 1710460800 / 86400);
    CHECK(r.last_s == 1710460801 && r.to_ms == 1710460802000LL);
}

static void
test_berlin_boundaries(void)
{
    /* 2024-02-29T23:30Z = 2024-03-01 00:30 in Berlin: today is March 1st */
    int64_t now = 1709249400;
    CHECK(preset("Europe/Berlin", now, "day", 1709247600, 1709334000 - 1));
    CHECK(preset("Europe/Berlin", now, "7d", 1708642800, 1709247600 - 1));
    /* March ends on the DST day: 2024-04-01 00:00 CEST = 2024-03-31T22:00Z */
    CHECK(preset("Europe/Berlin", now, "month", 1709247600, 1711922400 - 1));
    CHECK(preset("Europe/Berlin", now, "year", 1704063600, 1735686000 - 1));
    /* 2024-12-31T23:30Z is already 2025 in Berlin */
    now = 1735687800;
    CHECK(preset("Europe/Berlin", now, "day", 1735686000, 1735686000 + 86400 - 1));
    CHECK(preset("Europe/Berlin", now, "year", 1735686000, 1767222000 - 1));
    CHECK(preset("Europe/Berlin", now, "12mo", 1704063600, 1735686000 - 1));
    /* the same instant is still 2024 in UTC */
    CHECK(preset("UTC", now, "year", 1704067200, 1735689599));
    /* DST days: 23 and 25 hours long */
    CHECK(preset("Europe/Berlin", 1711886400, "day", 1711839600, 1711922400 - 1));
    CHECK(preset("Europe/Berlin", 1730030400, "day", 1729980000, 1730070000 - 1));
}

static void
test_leap_day(void)
{
    int64_t now = 1709251200 - 12 * 3600;           /* 2024-02-29T12:00Z */
    CHECK(preset("UTC", now, "month", 1706745600, 1709251199));
    CHECK(preset("UTC", now, "day", 1709251200 - 86400, 1709251199));
    CHECK(preset("UTC", now, "1mo", 1704067200, 1706745599));
}

static void
test_half_hour_zones(void)
{
    /* 2024-01-01T00:00Z = 05:30 in Kolkata, 05:45 in Kathmandu */
    CHECK(preset("Asia/Kolkata", 1704067200, "day", 1704047400, 1704047400 + 86399));
    CHECK(preset("Asia/Kathmandu", 1704067200, "day", 1704046500, 1704046500 + 86399));
    CHECK(preset("Asia/Kathmandu", 1704067200, "12mo", 1672510500, 1704046500 - 1));
    CHECK(preset("Asia/Kathmandu", 1704067200, "1mo", 1701368100, 1704046500 - 1));
    q_range r;
    char err[200];
    CHECK(q_range_parse_preset("day", &r, err, sizeof err) == 0);
    q_range_resolve(&r, Z("Asia/Kolkata"), 1704067200000LL, -1);
    CHECK(r.day_aligned && !r.hour_aligned);
}

static void
test_pairs(void)
{
    q_range r;
    char err[200];
    const tz_zone *be = Z("Europe/Berlin");
    CHECK(q_range_parse_pair("2024-03-01", "2024-03-31", &r, err, sizeof err) == 0);
    CHECK(r.kind == Q_DR_DATES);
    q_range_resolve(&r, be, 0, -1);
    CHECK(r.first_s == 1709247600 && r.last_s == 1711922399);
    CHECK(r.last_day - r.first_day == 30 && r.day_aligned);

    CHECK(q_range_parse_pair("2024-01-01T12:00:00+02:00", "2024-01-01T15:59:59+02:00",
                             &r, err, sizeof err) == 0);
    CHECK(r.kind == Q_DR_DATETIMES);
    q_range_resolve(&r, be, 0, -1);
    CHECK(r.first_s == 1704103200 && r.last_s == 1704117599);
    CHECK(r.from_ms == 1704103200000LL && r.to_ms == 1704117600000LL);
    CHECK(r.hour_aligned && !r.day_aligned);

    /* a datetime pair that covers exactly whole local days is day-aligned */
    CHECK(q_range_parse_pair("2024-03-01T00:00:00+01:00", "2024-03-01T23:59:59.999+01:00",
                             &r, err, sizeof err) == 0);
    q_range_resolve(&r, be, 0, -1);
    CHECK(r.day_aligned && r.first_day == r.last_day);

    CHECK(q_range_parse_pair("2024-01-01T00:00:00Z", "2024-01-01 05:30:00.123456-05:30",
                             &r, err, sizeof err) == 0);
    CHECK(r.in_first == 1704067200 && r.in_last == 1704067200 + 11 * 3600);

    static const char *bad[][2] = {
        { "2024-02-30", "2024-03-01" },            /* no such day */
        { "2023-02-29", "2023-03-01" },            /* not a leap year */
        { "2024-01-02", "2024-01-01" },            /* reversed */
        { "2024-01-01", "2024-01-01T00:00:00Z" },  /* mixed kinds */
        { "2024-01-01T00:00:00", "2024-01-02T00:00:00" },  /* no offset */
        { "2024-01-01T24:00:00Z", "2024-01-02T00:00:00Z" },
        { "2024-01-01T00:00Z", "2024-01-02T00:00:00Z" },    /* no seconds */
        { "2024-01-01T00:00:00-00:00", "2024-01-02T00:00:00Z" },
        { "24-01-01", "2024-01-02" },
        { "1969-12-31", "2024-01-02" },
        { "2024-1-01", "2024-01-02" },
        { "2024-01-01 ", "2024-01-02" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        int rc = q_range_parse_pair(bad[i][0], bad[i][1], &r, err, sizeof err);
        CHECK(rc == -1);
        CHECK(strncmp(err, "#/date_range: Invalid date_range", 32) == 0);
        if (rc != -1)
            fprintf(stderr, "accepted %s %s\n", bad[i][0], bad[i][1]);
    }
    CHECK(q_range_parse_pair("2024-01-02", "2024-01-01", &r, err, sizeof err) == -1);
    CHECK(strstr(err, "start is after end") != NULL);
}

static void
test_bad_presets(void)
{
    static const char *bad[] = { "0d", "5001d", "07d", "-1d", "+7d", "7", "d",
                                 "101mo", "0mo", "week", "Day", "7D", " 7d",
                                 "7d ", "12345678d", "30m", "" };
    q_range r;
    char err[200];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = q_range_parse_preset(bad[i], &r, err, sizeof err);
        CHECK(rc == -1);
        if (rc != -1)
            fprintf(stderr, "accepted preset '%s'\n", bad[i]);
    }
    CHECK(q_range_parse_preset("week", &r, err, sizeof err) == -1);
    CHECK_STR(err, "#/date_range: Invalid date_range \"week\"");
    CHECK(q_range_parse_preset("100mo", &r, err, sizeof err) == 0 && r.n == 100);
}

static void
test_format(void)
{
    char buf[40];
    q_format_datetime(Z("Europe/Berlin"), 1711922399, buf, sizeof buf);
    CHECK_STR(buf, "2024-03-31T23:59:59+02:00");
    q_format_datetime(Z("Europe/Berlin"), 1709247600, buf, sizeof buf);
    CHECK_STR(buf, "2024-03-01T00:00:00+01:00");
    q_format_datetime(Z("UTC"), 1704067200, buf, sizeof buf);
    CHECK_STR(buf, "2024-01-01T00:00:00Z");
    q_format_datetime(Z("Etc/UTC"), 1704067200, buf, sizeof buf);
    CHECK_STR(buf, "2024-01-01T00:00:00Z");
    q_format_datetime(Z("Europe/London"), 1704067200, buf, sizeof buf);
    CHECK_STR(buf, "2024-01-01T00:00:00+00:00");
    q_format_datetime(Z("Asia/Kathmandu"), 1704067200, buf, sizeof buf);
    CHECK_STR(buf, "2024-01-01T05:45:00+05:45");
    q_format_datetime(Z("America/St_Johns"), 1704067200, buf, sizeof buf);
    CHECK_STR(buf, "2023-12-31T20:30:00-03:30");
    q_format_date(19782, buf, sizeof buf);
    CHECK_STR(buf, "2024-02-29");
}

int
main(void)
{
    RUN(test_presets_utc);
    RUN(test_day_lists);
    RUN(test_berlin_boundaries);
    RUN(test_leap_day);
    RUN(test_half_hour_zones);
    RUN(test_pairs);
    RUN(test_bad_presets);
    RUN(test_format);
    return check_summary("q_range");
}
