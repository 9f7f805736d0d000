/*
 * migrate_v1.h -- converts the raw events of a schema v1 database.
 *
 * The schema migration (db_schema.c) renames v1's events table to
 * events_v1; this feeds its rows, oldest first, through the ingest as if
 * they came from the spool (URL rebuilt as https://hostname + pathname,
 * referrer, User-Agent, props and revenue as stored; v1 had no country),
 * so they get visits and rollups like new events, then drops events_v1
 * -- all in one transaction, so a crash leaves either v1 data waiting or
 * everything converted.
 */
#ifndef TALLY_AGG_MIGRATE_V1_H
#define TALLY_AGG_MIGRATE_V1_H

#include "aggregator/db.h"
#include "aggregator/ingest.h"

/* Converts events_v1 if it exists (no-op otherwise).  Runs its own
 * transaction (none may be open).  Returns 0 or -1. */
int migrate_v1_run(db *d, ingest *g);

#endif
