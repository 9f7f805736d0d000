/*
 * redis_source.h -- the consumer side of edge shipping: reads the spool
 * records that `tallyd ship` put into Redis Streams (see docs/redis.md).
 *
 * Layout written by the shipper:
 *   SET     tally:edges            the edge names (SADD on every connect)
 *   STREAM  tally:edge:<NAME>      one entry per spool record, fields
 *             r    the whole record as in the segment (20-byte header +
 *                  payload); verify with spool_record_decode
 *             seg  the segment file name it came from
 *             off  its offset in that segment (decimal)
 *           entry IDs strictly increase; they are opaque to the consumer.
 *
 * The consumer (tallyd serve --source redis://...) keeps, per stream, the
 * last ID it applied, in the same SQLite transaction as the rows, reads on
 * with rsrc_read(after_id = that ID), and trims (rsrc_trim) only after
 * the commit, behind the slowest replica.
 */
#ifndef TALLY_AGG_REDIS_SOURCE_H
#define TALLY_AGG_REDIS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#define RSRC_EDGES_KEY     "tally:edges"
#define RSRC_STREAM_PREFIX "tally:edge:"
#define RSRC_ID_MAX        48      /* "<u64>-<u64>" + NUL fits */
#define RSRC_EDGE_MAX      64      /* longest edge name */

typedef struct rsrc rsrc;

/* Parses url (redis://..., see redis.h) and connects.  Returns NULL with a
 * reason in err only for a bad URL or no memory; a server that is down is
 * not an error here: every call reconnects first when needed and fails
 * (-1) while the server is unreachable. */
rsrc *rsrc_open(const char *url, char *err, size_t errlen);

/* Closes and frees src (NULL is fine). */
void rsrc_close(rsrc *src);

/* The last connection or server error, "" if none. */
const char *rsrc_errstr(const rsrc *src);

/* 1 if name is a valid edge name: 1..RSRC_EDGE_MAX bytes of
 * [A-Za-z0-9._-] (no '{' or '}', so no hash tag, no ':'). */
int rsrc_edge_valid(const char *name);

/* Writes "tally:edge:<edge>" into out (cap bytes).  Returns 0, or -1 if
 * edge is not valid or it does not fit. */
int rsrc_stream_name(char *out, size_t cap, const char *edge);

/* SMEMBERS tally:edges: the edge names, sorted, as a malloc'd array of
 * malloc'd strings (*n of them; free with rsrc_free_names).  Names that
 * are not valid edge names are left out.  Returns 0 or -1. */
int rsrc_edges(rsrc *src, char ***names, size_t *n);
void rsrc_free_names(char **names, size_t n);

/* Called for every entry read, in ID order.  rec/len: the "r" field (the
 * "c" field in the control stream, ctl.h; NULL
 * and 0 when the entry has none -- a damaged entry the consumer must count
 * and log, then skip); seg: the segment name ("" if absent); off: the
 * offset (0 if absent).  rec and seg are valid only during the call.
 * Return 0 to go on, non-zero to stop after this entry. */
typedef int (*rsrc_entry_fn)(void *ctx, const char *id,
                             const unsigned char *rec, size_t len,
                             const char *seg, uint64_t off);

/* Reads up to max entries of `stream` with IDs strictly greater than
 * after_id ("0-0" or NULL: from the start), calling cb for each.  With
 * block_ms > 0 it waits up to block_ms (capped at 2000) for an entry when
 * none is there yet (XREAD BLOCK).  last_id (RSRC_ID_MAX bytes, may be
 * NULL) receives the ID of the last entry delivered.  Returns the number
 * of entries delivered (0: none yet), or -1 on a connection or server
 * error (nothing is skipped: read again from the same after_id). */
int rsrc_read(rsrc *src, const char *stream, const char *after_id,
              size_t max, int block_ms, rsrc_entry_fn cb, void *ctx,
              char *last_id);

/* XADD stream * field val: appends one entry of one field (len bytes,
 * binary safe) and writes its new ID into id (RSRC_ID_MAX bytes).
 * Returns 0, or -1 (connection or server error: rsrc_errstr). */
int rsrc_add(rsrc *src, const char *stream, const char *field,
             const unsigned char *val, size_t len, char *id);

/* XTRIM stream MINID minid: removes the entries whose ID is lower than
 * minid (to drop everything up to and including ID X, pass
 * rsrc_id_next(X)).  Returns the number of entries removed, or -1. */
long long rsrc_trim(rsrc *src, const char *stream, const char *minid);

/* Parses a stream ID "MS-SEQ".  Returns 0 or -1. */
int rsrc_id_parse(const char *id, uint64_t *ms, uint64_t *seq);

/* Writes the smallest ID greater than id into out (RSRC_ID_MAX bytes).
 * Returns 0, or -1 if id is not an ID or is the largest one. */
int rsrc_id_next(const char *id, char *out);

/* Compares two IDs numerically: <0, 0, >0.  Unparsable IDs sort first. */
int rsrc_id_cmp(const char *a, const char *b);

#endif
