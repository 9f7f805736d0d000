/*
 * tz.h -- IANA time zones for site-local days: a small TZif reader
 * (RFC 8536, versions 1-3, as shipped in /usr/share/zoneinfo) with the
 * POSIX TZ footer rule (Jn, n and Mm.w.d[/time], including the v3
 * extension of hours outside 0..24) for instants past the last transition.
 *
 * Zones are loaded once and cached for the life of the process: loading is
 * serialised by a mutex, the cache is a list published with release/acquire
 * atomics, and a loaded zone is immutable, so lookups and conversions never
 * lock.  Leap-second records ("right/" zones) are ignored: times are POSIX
 * seconds, as everywhere else in Tally.
 *
 * Civil-date helpers (proleptic Gregorian, day 0 = 1970-01-01) live here too
 * so that q_range.c and the executor agree on day numbers.
 */
#ifndef TALLY_AGG_TZ_H
#define TALLY_AGG_TZ_H

#include <stddef.h>
#include <stdint.h>

#define TZ_NAME_MAX 128

typedef struct tz_zone tz_zone;

/* 1 if name is an acceptable IANA zone name: 1..TZ_NAME_MAX-1 bytes of
 * '/'-separated non-empty components made of [A-Za-z0-9_+-] (so no "..",
 * no leading '/', no '.' at all).  Says nothing about whether the zone
 * exists. */
int tz_name_valid(const char *name);

/* Returns the zone called name (e.g. "Europe/Berlin"; NULL or "" mean
 * "UTC"), loading it from the zoneinfo directory on first use.  The zone is
 * owned by the process-wide cache and stays valid until exit: callers never
 * free it.  Thread-safe.  On failure returns NULL and writes a message
 * naming the zone into err (errlen bytes, may be 0). */
const tz_zone *tz_get(const char *name, char *err, size_t errlen);

/* Directory zones are read from (default /usr/share/zoneinfo, or $TZDIR
 * when set at first use).  Only for tests and call it before any tz_get;
 * dir is copied. */
void tz_set_dir(const char *dir);

/* The zone's name as given to tz_get ("UTC" for NULL/""); owned by the
 * zone. */
const char *tz_zone_name(const tz_zone *z);

/* Offset from UTC in seconds (east positive) in effect at UTC instant t
 * (POSIX seconds). */
int32_t tz_offset_at(const tz_zone *z, int64_t t);

/* Converts a local wall-clock time, given as seconds since 1970-01-01
 * 00:00:00 *local* (i.e. days_from_civil * 86400 + seconds of day), to the
 * UTC instant.  Ambiguous local times (DST overlap) give the earlier
 * instant; local times that do not exist (DST gap) give the first valid
 * instant after them, i.e. the transition instant. */
int64_t tz_local_to_utc(const tz_zone *z, int64_t local);

/* UTC instant of the start (first instant) of site-local day `day`. */
int64_t tz_day_start(const tz_zone *z, int64_t day);

/* Site-local day number containing UTC instant t. */
int64_t tz_day_of(const tz_zone *z, int64_t t);

/* Days since 1970-01-01 of y-m-d (any y, m 1..12, d 1..31). */
int64_t tz_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Inverse of tz_days_from_civil. */
void tz_civil_from_days(int64_t day, int64_t *y, unsigned *m, unsigned *d);

/* Days in month m (1..12) of year y. */
unsigned tz_days_in_month(int64_t y, unsigned m);

/* 0 = Monday .. 6 = Sunday (ISO) for day number `day`. */
unsigned tz_weekday(int64_t day);

#endif
