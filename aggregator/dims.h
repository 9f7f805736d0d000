/*
 * dims.h -- the breakdown dimensions of the hourly rollups and the visit
 * attribute tuple.  The numbers are stored in rollup_hourly.dim: never
 * renumber, only append.  docs/storage.md explains every one.
 *
 * Event dimensions take their value from each event; visit dimensions
 * from the visit the event belongs to (its first pageview, or its first
 * event when it has no pageview; the exit page from its last pageview).
 * Value 0 in k1/k2 means "none" (empty string); other values are ids in
 * the strings table.
 */
#ifndef TALLY_AGG_DIMS_H
#define TALLY_AGG_DIMS_H

enum dim {
    DIM_TOTAL = 0,            /* site totals, k1 = k2 = 0              */
    DIM_PAGE = 1,             /* event:page        k1 = pathname       */
    DIM_HOSTNAME = 2,         /* event:hostname    k1 = hostname       */
    DIM_NAME = 3,             /* event:name        k1 = event name     */
    DIM_PROP = 4,             /* event:props:<k1>  k2 = value          */
    DIM_ENTRY_PAGE = 5,       /* visit:entry_page                      */
    DIM_EXIT_PAGE = 6,        /* visit:exit_page                       */
    DIM_SOURCE = 7,           /* visit:source                          */
    DIM_REFERRER = 8,         /* visit:referrer                        */
    DIM_CHANNEL = 9,          /* visit:channel                         */
    DIM_UTM_MEDIUM = 10,
    DIM_UTM_SOURCE = 11,
    DIM_UTM_CAMPAIGN = 12,
    DIM_UTM_CONTENT = 13,
    DIM_UTM_TERM = 14,
    DIM_COUNTRY = 15,         /* visit:country (ISO alpha-2)           */
    DIM_BROWSER = 16,
    DIM_BROWSER_VERSION = 17, /* k1 = browser, k2 = version            */
    DIM_OS = 18,
    DIM_OS_VERSION = 19,      /* k1 = os, k2 = version                 */
    DIM_DEVICE = 20,
    DIM_COUNT = 21
};

/* The first visit dimension; DIM_ENTRY_PAGE .. DIM_DEVICE are visit
 * dimensions, DIM_PAGE .. DIM_PROP event dimensions. */
#define DIM_FIRST_VISIT DIM_ENTRY_PAGE

/* An event's acquisition and client attributes (string ids, 0 = none),
 * stored once per distinct tuple in the attrs table. */
enum attr {
    ATTR_SOURCE = 0, ATTR_REFERRER, ATTR_CHANNEL,
    ATTR_UTM_MEDIUM, ATTR_UTM_SOURCE, ATTR_UTM_CAMPAIGN, ATTR_UTM_CONTENT,
    ATTR_UTM_TERM, ATTR_COUNTRY, ATTR_BROWSER, ATTR_BROWSER_VERSION,
    ATTR_OS, ATTR_OS_VERSION, ATTR_DEVICE,
    ATTR_COUNT = 14
};

/* Rollup metrics, in rollup_hourly column order. */
enum metric {
    M_VISITORS_HOUR = 0,  /* distinct visitors in this hour              */
    M_VISITORS_NEW,       /* visitors counted for the day in this hour    */
    M_VISITS,
    M_PAGEVIEWS,
    M_EVENTS,
    M_BOUNCES,
    M_DURATION,           /* sum of visit durations, seconds              */
    M_COUNT = 7
};

/* The rollup_hourly.dim names as the Stats API spells them ("event:page",
 * "visit:browser_version", "event:props" for DIM_PROP).  Static. */
const char *dim_name(enum dim d);

#endif
