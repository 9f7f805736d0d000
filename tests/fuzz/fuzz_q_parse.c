/*
 * fuzz_q_parse.c -- libFuzzer target for q_parse() and q_query_to_json().
 *
 * The first byte picks the site's zone and "now" (so date ranges are
 * resolved across zones and DST days); the rest is the request body.
 * Every input must either parse -- and then echo to JSON that parses
 * again to the same echo -- or be refused with a non-empty message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/q_parse.h"

static const char *const zones[] = {
    "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
    "Australia/Lord_Howe", "Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Chatham",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    static const int64_t nows[] = {
        1710504000000LL,            /* 2024-03-15T12:00Z */
        1711846800000LL,            /* Berlin DST start instant */
        1735687800000LL,            /* 2024-12-31T23:30Z */
        1709249400000LL,            /* 2024-02-29T23:30Z */
    };
    q_site_info site = { zones[sel & 7], nows[(sel >> 3) & 3],
                         (sel & 0x20) ? 19000 : -1 };
    char err[512];
    q_query q;
    int rc = q_parse((const char *)data + 1, size - 1, &site, &q, err, sizeof err);
    if (rc != 0) {
        if (err[0] == '\0')
            abort();
        q_query_free(&q);
        return 0;
    }
    if (q.nmetrics == 0 || q.site_id == NULL || q.range.from_ms >= q.range.to_ms
        || q.norder == 0 || q.limit < 1 || q.limit > Q_MAX_LIMIT)
        abort();
    json_t *o;
    if (q_query_to_json(&q, &o) != 0)
        abort();
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL)
        abort();
    /* the echo is itself a valid query (with the range as datetimes) and
     * echoes to itself */
    q_query q2;
    if (q_parse(s, strlen(s), &site, &q2, err, sizeof err) != 0)
        abort();
    json_t *o2;
    if (q_query_to_json(&q2, &o2) != 0)
        abort();
    char *s2 = json_dumps(o2, JSON_COMPACT);
    json_decref(o2);
    if (s2 == NULL || strcmp(s, s2) != 0)
        abort();
    free(s);
    free(s2);
    q_query_free(&q2);
    q_query_free(&q);
    return 0;
}
