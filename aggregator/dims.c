/* dims.c -- see dims.h. */
#include "aggregator/dims.h"

const char *
dim_name(enum dim d)
{
    static const char *const names[DIM_COUNT] = {
        "total", "event:page", "event:hostname", "event:name", "event:props",
        "visit:entry_page", "visit:exit_page", "visit:source",
        "visit:referrer", "visit:channel", "visit:utm_medium",
        "visit:utm_source", "visit:utm_campaign", "visit:utm_content",
        "visit:utm_term", "visit:country", "visit:browser",
        "visit:browser_version", "visit:os", "visit:os_version",
        "visit:device",
    };
    return (unsigned)d < DIM_COUNT ? names[d] : "";
}
