/*
 * import.h -- `tallyd import`: NGINX / Apache access logs into the same
 * tables as the tracker's beacons (docs/import.md).
 *
 *   tallyd import --db FILE --site DOMAIN [--format F] [--status LIST]
 *                 [--include-static] [--keep-bots] FILE...   ("-" = stdin)
 *   tallyd import --db FILE --site DOMAIN [...] --follow FILE
 *                 [--salt-file PATH] [--poll-ms N]
 *
 * Each line that the pageview rules keep (logfilter.h) becomes a
 * "pageview" spool event at the line's own time and goes through the
 * ingest pipeline (ingest.h) -- enrichment, visits, hourly rollups --
 * like a beacon.  The client address is only ever held in memory: it is
 * hashed into the visitor id (visitor.h) with a key per imported UTC day
 * and dropped; the day keys are random, held in memory only and wiped
 * when the import ends (with --follow --salt-file, the edge's ratchet
 * key for the current day instead, so followed logs and beacons agree).
 *
 * Exactly once: every imported line is recorded in a ledger of keyed
 * 64-bit hashes (db_import.h) in the transaction of its rows, so
 * importing a file twice, or overlapping rotated files, counts each line
 * once; a follower also stores its file position in that transaction.
 */
#ifndef TALLY_AGG_IMPORT_H
#define TALLY_AGG_IMPORT_H

/* Runs `tallyd import` with the arguments after the command word.
 * Returns the exit status: 0 done (malformed lines do not fail an
 * import), 1 runtime error (unreadable input, database error), 2 usage
 * error (message on stderr). */
int imp_main(int argc, char **argv);

#endif
