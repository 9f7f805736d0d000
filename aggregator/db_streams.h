/*
 * db_streams.h -- the Redis source's position per stream (rdrain.h), in
 * the same database and the same transactions as the rows it covers.
 *
 *   source_pos(stream TEXT PRIMARY KEY,  "tally:edge:<NAME>"
 *              last_id TEXT,             last entry ID applied ("MS-SEQ")
 *              applied INTEGER,          entries applied up to and
 *                                        including last_id, corrupt ones
 *                                        too (the stream's entries-added
 *                                        minus what trimming removed may
 *                                        never exceed it: see rdrain.c)
 *              ahead TEXT)               entries above last_id applied
 *                                        already: "PID:ID PID:ID ...", per
 *                                        writer pid of the entries' seg,
 *                                        the last ID applied ("" none)
 *
 * Created idempotently by db_streams_init (CREATE TABLE IF NOT EXISTS,
 * outside db_schema.c's migration chain), so `tallyd backup` carries it
 * and a replica seeded from a backup resumes where the copy stopped.
 */
#ifndef TALLY_AGG_DB_STREAMS_H
#define TALLY_AGG_DB_STREAMS_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

#define DB_STREAM_ID_MAX 48     /* == RSRC_ID_MAX */

/* Creates source_pos if missing (a DB_RW handle, outside or inside a
 * transaction).  Returns 0 or -1 (logged). */
int db_streams_init(db *d);

/* Reads the position of stream: 1 found (id gets last_id, cap bytes,
 * *applied the count, *ahead a malloc'd copy of ahead the caller frees),
 * 0 no row (id = "0-0", *applied = 0, *ahead = ""), -1 error. */
int db_streams_get(db *d, const char *stream, char *id, size_t cap,
                   uint64_t *applied, char **ahead);

/* Inserts or replaces the position of stream (call it inside the
 * transaction that stores the rows of those entries).  Returns 0 or -1. */
int db_streams_set(db *d, const char *stream, const char *id,
                   uint64_t applied, const char *ahead);

/* Calls fn for every row, by stream name; strings are valid during the
 * call only.  Returns 0, fn's non-zero value, or -1.  A database without
 * the table has no rows (0). */
int db_streams_each(db *d,
                    int (*fn)(void *ctx, const char *stream, const char *id,
                              uint64_t applied),
                    void *ctx);

#endif
