/*
 * test_tz.c -- aggregator/tz.c against published facts (DST dates and
 * offsets from the IANA tz database / government notices) and against the
 * C library's own zoneinfo reader (glibc localtime_r) for thousands of
 * instants.  The C library is used here only, never in tz.c.
 */
#include "aggregator/tz.h"
#include "tests/check.h"

#include <stdlib.h>
#include <time.h>

static const tz_zone *
zone(const char *name)
{
    char err[128];
    const tz_zone *z = tz_get(name, err, sizeof err);
    if (z == NULL)
        fprintf(stderr, "tz_get(%s): %s\n", name, err);
    return z;
}

static void
test_civil(void)
{
    /* 2024-01-01T00:00:00Z is 1704067200 (date -u -d 2024-01-01 +%s) */
    CHECK(tz_days_from_civil(2024, 1, 1) * 86400 == 1704067200);
    CHECK(tz_days_from_civil(1970, 1, 1) == 0);
    CHECK(tz_days_from_civil(2000, 3, 1) == 11017);
    int64_t y;
    unsigned m, d;
    tz_civil_from_days(19782, &y, &m, &d);   /* 2024-02-29 */
    CHECK(y == 2024 && m == 2 && d == 29);
    CHECK(tz_days_in_month(2024, 2) == 29);
    CHECK(tz_days_in_month(2100, 2) == 28);
    CHECK(tz_days_in_month(2000, 2) == 29);
    CHECK(tz_weekday(tz_days_from_civil(2024, 7, 1)) == 0);  /* Monday */
    CHECK(tz_weekday(0) == 3);                               /* Thursday */
    for (int64_t day = -800000; day < 800000; day += 37) {
        tz_civil_from_days(day, &y, &m, &d);
        if (tz_days_from_civil(y, m, d) != day) {
            CHECK(!"civil round trip");
            break;
        }
    }
}

static void
test_names(void)
{
    CHECK(tz_name_valid("Europe/Berlin"));
    CHECK(tz_name_valid("America/Argentina/Buenos_Aires"));
    CHECK(tz_name_valid("Etc/GMT+5"));
    CHECK(tz_name_valid("America/Port-au-Prince"));
    CHECK(!tz_name_valid(""));
    CHECK(!tz_name_valid(NULL));
    CHECK(!tz_name_valid("../etc/passwd"));
    CHECK(!tz_name_valid("Europe/../../etc/passwd"));
    CHECK(!tz_name_valid("/etc/passwd"));
    CHECK(!tz_name_valid("Europe//Berlin"));
    CHECK(!tz_name_valid("Europe/Berlin/"));
    CHECK(!tz_name_valid("Europe/Ber lin"));
    CHECK(!tz_name_valid("Europe\\Berlin"));
    char err[128];
    CHECK(tz_get("../../etc/passwd", err, sizeof err) == NULL);
    CHECK(strstr(err, "Invalid time zone name") != NULL);
    CHECK(tz_get("Mars/Olympus_Mons", err, sizeof err) == NULL);
    CHECK(strstr(err, "Unknown time zone 'Mars/Olympus_Mons'") != NULL);
    CHECK(tz_get("Europe", err, sizeof err) == NULL);   /* a directory */
    CHECK(tz_get("Europe/Berlin", err, sizeof err) == tz_get("Europe/Berlin", NULL, 0));
    CHECK(tz_get(NULL, NULL, 0) != NULL);
    CHECK_STR(tz_zone_name(tz_get("", NULL, 0)), "UTC");
}

static void
test_berlin(void)
{
    const tz_zone *z = zone("Europe/Berlin");
    if (!z)
        return;
    /* EU rule: clocks go forward 2024-03-31 01:00 UTC, back 2024-10-27
     * 01:00 UTC; CET = +1, CEST = +2 */
    CHECK(tz_offset_at(z, 1711846800 - 1) == 3600);
    CHECK(tz_offset_at(z, 1711846800) == 7200);
    CHECK(tz_offset_at(z, 1729990800 - 1) == 7200);
    CHECK(tz_offset_at(z, 1729990800) == 3600);
    int64_t day = tz_days_from_civil(2024, 3, 31);
    /* 02:30 local on 2024-03-31 does not exist: first valid instant after
     * it is the transition, 03:00 CEST = 01:00Z */
    CHECK(tz_local_to_utc(z, day * 86400 + 2 * 3600 + 1800) == 1711846800);
    CHECK(tz_local_to_utc(z, day * 86400 + 3 * 3600) == 1711846800);
    CHECK(tz_local_to_utc(z, day * 86400 + 2 * 3600 - 1) == 1711846800 - 1);
    /* 02:30 local on 2024-10-27 happens twice: the earlier is 00:30Z */
    day = tz_days_from_civil(2024, 10, 27);
    CHECK(tz_local_to_utc(z, day * 86400 + 2 * 3600 + 1800) == 1729989000);
    CHECK(tz_local_to_utc(z, day * 86400 + 3 * 3600) == 1729994400);
    /* local midnights: 2024-03-31 starts 2024-03-30T23:00Z, 2024-04-01
     * starts 2024-03-31T22:00Z -- a 23-hour day */
    CHECK(tz_day_start(z, tz_days_from_civil(2024, 3, 31)) == 1711839600);
    CHECK(tz_day_start(z, tz_days_from_civil(2024, 4, 1)) == 1711922400);
    CHECK(tz_day_start(z, tz_days_from_civil(2024, 10, 28))
          - tz_day_start(z, tz_days_from_civil(2024, 10, 27)) == 25 * 3600);
    CHECK(tz_day_of(z, 1711839600) == tz_days_from_civil(2024, 3, 31));
    CHECK(tz_day_of(z, 1711839599) == tz_days_from_civil(2024, 3, 30));
    /* past the last transition of the file (2037): footer rule
     * CET-1CEST,M3.5.0,M10.5.0/3; 2100-03-28 is the last Sunday of March
     * 2100, transition at 01:00Z = 4109878800 */
    CHECK(tz_offset_at(z, 4109878800 - 1) == 3600);
    CHECK(tz_offset_at(z, 4109878800) == 7200);
}

static void
test_new_york(void)
{
    const tz_zone *z = zone("America/New_York");
    if (!z)
        return;
    /* 2024-03-10 02:00 EST -> EDT (07:00Z); 2024-11-03 02:00 EDT -> EST (06:00Z) */
    CHECK(tz_offset_at(z, 1710054000 - 1) == -18000);
    CHECK(tz_offset_at(z, 1710054000) == -14400);
    CHECK(tz_offset_at(z, 1730613600 - 1) == -14400);
    CHECK(tz_offset_at(z, 1730613600) == -18000);
    CHECK(tz_day_start(z, tz_days_from_civil(2024, 7, 4)) == 1720065600);
}

static void
test_half_hours(void)
{
    const tz_zone *z = zone("Asia/Kolkata");
    if (z) {
        CHECK(tz_offset_at(z, 1704067200) == 19800);        /* +05:30 */
        CHECK(tz_offset_at(z, 1719792000) == 19800);
        /* 2024-01-01 local starts 2023-12-31T18:30Z */
        CHECK(tz_day_start(z, tz_days_from_civil(2024, 1, 1)) == 1704047400);
    }
    z = zone("Asia/Kathmandu");
    if (z) {
        CHECK(tz_offset_at(z, 1704067200) == 20700);        /* +05:45 */
        CHECK(tz_day_start(z, tz_days_from_civil(2024, 1, 1)) == 1704046500);
    }
    z = zone("Australia/Lord_Howe");
    if (z) {
        /* +10:30 standard, +11 summer: DST ends 2024-04-07 02:00 local
         * (+11) = 2024-04-06T15:00Z; starts 2024-10-06 02:00 local (+10:30)
         * = 2024-10-05T15:30Z */
        CHECK(tz_offset_at(z, 1712415600 - 1) == 39600);
        CHECK(tz_offset_at(z, 1712415600) == 37800);
        CHECK(tz_offset_at(z, 1728142200 - 1) == 37800);
        CHECK(tz_offset_at(z, 1728142200) == 39600);
        /* 01:45 local on 2024-04-07 happens twice (01:30-02:00 repeats) */
        int64_t day = tz_days_from_civil(2024, 4, 7);
        CHECK(tz_local_to_utc(z, day * 86400 + 6300) == 1712415600 - 900);
        /* 02:15 local on 2024-10-06 does not exist */
        day = tz_days_from_civil(2024, 10, 6);
        CHECK(tz_local_to_utc(z, day * 86400 + 8100) == 1728142200);
    }
}

static void
test_sao_paulo(void)
{
    const tz_zone *z = zone("America/Sao_Paulo");
    if (!z)
        return;
    /* Brazil abolished DST in 2019: -03 all year since */
    for (int64_t t = 1577836800; t < 1735689600; t += 86400 * 7)  /* 2020..2024 */
        if (tz_offset_at(z, t) != -10800) {
            CHECK(!"Sao_Paulo not -03");
            break;
        }
    /* the last DST began 2018-11-04 at local midnight: 00:00 did not exist,
     * the day starts at 01:00 -02 = 03:00Z */
    CHECK(tz_day_start(z, tz_days_from_civil(2018, 11, 4)) == 1541300400);
    CHECK(tz_day_of(z, 1541300400) == tz_days_from_civil(2018, 11, 4));
    CHECK(tz_day_of(z, 1541300399) == tz_days_from_civil(2018, 11, 3));
}

static void
test_utc(void)
{
    const tz_zone *z = zone("UTC");
    if (!z)
        return;
    CHECK(tz_offset_at(z, 0) == 0);
    CHECK(tz_offset_at(z, 4102444800) == 0);
    CHECK(tz_local_to_utc(z, 1704067200) == 1704067200);
    CHECK(tz_day_of(z, -1) == -1);
}

/* Compares with glibc for many instants in each zone. */
static void
test_against_libc(void)
{
    static const char *zones[] = {
        "Europe/Berlin", "America/New_York", "Asia/Kolkata",
        "Australia/Lord_Howe", "Asia/Kathmandu", "America/Sao_Paulo", "UTC",
        "Europe/London", "America/Los_Angeles", "Australia/Sydney",
        "Pacific/Auckland", "America/Santiago", "Asia/Tehran", "Africa/Casablanca",
        "America/St_Johns", "Pacific/Chatham", "Europe/Dublin", "Asia/Gaza",
    };
    unsigned seed = 12345;
    long compared = 0, bad = 0, bad_local = 0;
    for (size_t zi = 0; zi < sizeof zones / sizeof *zones; zi++) {
        const tz_zone *z = zone(zones[zi]);
        if (!z) {
            CHECK(!"zone missing");
            continue;
        }
        setenv("TZ", zones[zi], 1);
        tzset();
        for (int i = 0; i < 6000; i++) {
            seed = seed * 1103515245u + 12345u;
            /* 1990-01-01 .. 2037-12-31, then 2038..2100 (footer rules) */
            int64_t lo = 631152000, hi = i < 5000 ? 2145916800 : 4102444800;
            if (i >= 5000)
                lo = 2145916800;
            int64_t t = lo + (int64_t)(((uint64_t)seed << 16 ^ seed) % (uint64_t)(hi - lo));
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            compared++;
            int32_t off = tz_offset_at(z, t);
            if (off != tm.tm_gmtoff) {
                if (bad++ < 5)
                    fprintf(stderr, "%s at %lld: ours %d libc %ld\n", zones[zi],
                            (long long)t, off, tm.tm_gmtoff);
            }
            /* local -> UTC gives back t, or an earlier instant with the
             * same wall time (overlap) */
            int64_t local = t + off;
            int64_t u = tz_local_to_utc(z, local);
            if (!(u <= t && u + tz_offset_at(z, u) == local))
                if (bad_local++ < 5)
                    fprintf(stderr, "%s local %lld -> %lld (t %lld)\n", zones[zi],
                            (long long)local, (long long)u, (long long)t);
        }
    }
    unsetenv("TZ");
    CHECK(compared == 18 * 6000);
    CHECK_EQ_U64(bad, 0);
    CHECK_EQ_U64(bad_local, 0);
}

/* Every transition instant glibc sees in 2000-2040 must be one of ours. */
static void
test_transitions_libc(void)
{
    static const char *zones[] = { "Europe/Berlin", "Australia/Lord_Howe",
                                   "America/Santiago", "Asia/Tehran" };
    for (size_t zi = 0; zi < 4; zi++) {
        const tz_zone *z = zone(zones[zi]);
        if (!z)
            continue;
        setenv("TZ", zones[zi], 1);
        tzset();
        long mism = 0;
        for (int64_t t = 946684800; t < 2208988800; t += 3600) {
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            if (tm.tm_gmtoff != tz_offset_at(z, t))
                mism++;
        }
        CHECK_EQ_U64(mism, 0);
    }
    unsetenv("TZ");
}

int
main(void)
{
    RUN(test_civil);
    RUN(test_names);
    RUN(test_berlin);
    RUN(test_new_york);
    RUN(test_half_hours);
    RUN(test_sao_paulo);
    RUN(test_utc);
    RUN(test_against_libc);
    RUN(test_transitions_libc);
    return check_summary("tz");
}
