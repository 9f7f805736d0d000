/*
 * tally_policy.c -- small policy helpers of the edge module (see
 * tally_policy.h).
 */

#include "ngx_module/tally_policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


int
tp_skip_value(const char *s, size_t len)
{
    return !(len == 0 || (len == 1 && s[0] == '0'));
}


int
tp_country(const char *s, size_t len, char out[2])
{
    size_t  i;
    char    c;

    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }

    if (len != 2) {
        return 0;
    }

    for (i = 0; i < 2; i++) {
        c = s[i];
        if (c >= 'a' && c <= 'z') {
            c = (char) (c - 'a' + 'A');
        }
        if (c < 'A' || c > 'Z') {
            return 0;
        }
        out[i] = c;
    }

    return 1;
}


static int
tp_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


int
tp_list_has(const tp_str *list, size_t n, const char *s, size_t len)
{
    size_t  i, j;

    for (i = 0; i < n; i++) {
        if (list[i].len != len) {
            continue;
        }
        for (j = 0; j < len; j++) {
            if (tp_lower((unsigned char) list[i].ptr[j])
                != tp_lower((unsigned char) s[j]))
            {
                break;
            }
        }
        if (j == len) {
            return 1;
        }
    }

    return 0;
}


typedef struct {
    const char  *json;         /* key in the JSON object */
    const char  *metric;       /* Prometheus metric name */
    const char  *label;        /* Prometheus status label, or NULL */
    const char  *type;         /* counter or gauge */
    const char  *help;
} tp_counter_desc;


static const tp_counter_desc  tp_desc[TP_NCOUNTERS] = {
    { "accepted_events", "tally_accepted_events_total", NULL, "counter",
      "Events stored and acknowledged." },
    { "accepted_requests", "tally_accepted_requests_total", NULL, "counter",
      "Beacon requests answered 202 after storing them." },
    { "400", "tally_rejected_requests_total", "400", "counter",
      "Beacon requests rejected, by status." },
    { "403", "tally_rejected_requests_total", "403", "counter", NULL },
    { "405", "tally_rejected_requests_total", "405", "counter", NULL },
    { "413", "tally_rejected_requests_total", "413", "counter", NULL },
    { "415", "tally_rejected_requests_total", "415", "counter", NULL },
    { "dropped_bots", "tally_dropped_bots_total", NULL, "counter",
      "Beacons from bots answered 202 and not stored." },
    { "excluded", "tally_excluded_total", NULL, "counter",
      "Beacons excluded by tally_skip, answered 202 and not stored." },
    { "unavailable", "tally_unavailable_total", NULL, "counter",
      "Beacons answered 503 (spool full or not writable)." },
    { "bytes_written", "tally_spool_written_bytes_total", NULL, "counter",
      "Bytes of records written to the spool." },
    { "syncs", "tally_syncs_total", NULL, "counter",
      "Successful fdatasync() calls on spool segments." },
    { "write_errors", "tally_write_errors_total", NULL, "counter",
      "Failed spool writes, syncs and segment creations." },
    { "spool_bytes", "tally_spool_bytes", NULL, "gauge",
      "Bytes of segments in the spool directory (backlog)." },
};


size_t
tp_status_format(int prometheus, const uint64_t *v, uint64_t max_bytes,
                 char *buf, size_t cap)
{
    size_t  i, n;
    int     w;

#define TP_OUT(...)                                                        \
    do {                                                                   \
        w = snprintf(buf + n, cap - n, __VA_ARGS__);                       \
        if (w < 0 || (size_t) w >= cap - n) {                              \
            return n;                                                      \
        }                                                                  \
        n += (size_t) w;                                                   \
    } while (0)

    n = 0;

    if (!prometheus) {
        TP_OUT("{");
        for (i = 0; i < TP_NCOUNTERS; i++) {
            if (i == TP_REJECTED_400) {
                TP_OUT("\"rejected\":{");
            }
            TP_OUT("\"%s\":%" PRIu64, tp_desc[i].json, v[i]);
            if (i == TP_REJECTED_415) {
                TP_OUT("}");
            }
            TP_OUT(",");
        }
        TP_OUT("\"spool_max_bytes\":%" PRIu64 "}\n", max_bytes);
        return n;
    }

    for (i = 0; i < TP_NCOUNTERS; i++) {
        if (tp_desc[i].help != NULL) {
            TP_OUT("# HELP %s %s\n# TYPE %s %s\n", tp_desc[i].metric,
                   tp_desc[i].help, tp_desc[i].metric, tp_desc[i].type);
        }
        if (tp_desc[i].label != NULL) {
            TP_OUT("%s{status=\"%s\"} %" PRIu64 "\n", tp_desc[i].metric,
                   tp_desc[i].label, v[i]);
        } else {
            TP_OUT("%s %" PRIu64 "\n", tp_desc[i].metric, v[i]);
        }
    }
    TP_OUT("# HELP tally_spool_max_bytes The configured tally_spool_max_size"
           " (0: none).\n# TYPE tally_spool_max_bytes gauge\n"
           "tally_spool_max_bytes %" PRIu64 "\n", max_bytes);

#undef TP_OUT

    return n;
}
