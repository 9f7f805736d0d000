/*
 * replica.h -- what tallyd replicas tell each other through Redis, so
 * that a stream is trimmed only behind the slowest of them (see
 * docs/cluster.md):
 *
 *   SET   tally:replicas          the registered replica names
 *   HASH  tally:replica:<NAME>    hb            heartbeat, unix ms
 *                                 <stream>      last entry ID applied and
 *                                               committed ("MS-SEQ")
 *                                 n:<stream>    entries applied up to it
 *
 * <stream> is an edge stream or the control stream tally:ctl (ctl.h).
 * A registered replica with no <stream> field has applied nothing of
 * that stream: nobody trims it.  Trimming (replica_trim) is one Lua
 * script, so it is atomic with respect to a replica registering: either
 * the trim sees the new replica, or the new replica sees the trim in
 * XINFO STREAM (replica_stream_info) and refuses to start.
 *
 * Every call works on a redis_conn (redis.h) that the caller reconnects;
 * they return -1 on a connection or server error.
 */
#ifndef TALLY_AGG_REPLICA_H
#define TALLY_AGG_REPLICA_H

#include "aggregator/redis.h"

#include <stddef.h>
#include <stdint.h>

#define REPLICA_SET_KEY    "tally:replicas"
#define REPLICA_KEY_PREFIX "tally:replica:"
#define REPLICA_ID_MAX     48            /* == RSRC_ID_MAX */
#define REPLICA_STREAM_MAX 96            /* "tally:edge:" + 64 + NUL fits */

/* A committed position of this replica in one stream. */
typedef struct {
    const char *stream;
    const char *id;
    uint64_t    applied;
} replica_pos;

/* 1 if name is a valid replica name (same rules as an edge name:
 * 1..64 bytes of [A-Za-z0-9._-]). */
int replica_name_valid(const char *name);

/* Registers replica `name` (SADD tally:replicas) and writes its
 * heartbeat (now_ms) and the n positions (HSET), in one round trip.
 * Returns 0 or -1. */
int replica_publish(redis_conn *c, const char *name, const replica_pos *p,
                    size_t n, int64_t now_ms);

/* Trims `stream` behind the lowest position of every registered replica
 * and of own_id (the caller's own committed position, NULL or "" when it
 * only counts through its registration): XTRIM MINID just above that
 * minimum, or nothing when a registered replica has no position in the
 * stream.  Atomic (EVAL).  Returns the number of entries removed, or -1. */
long long replica_trim(redis_conn *c, const char *stream, const char *own_id);

/* What XINFO STREAM says about a stream. */
typedef struct {
    int      exists;          /* 0: no such stream (nothing else set)  */
    uint64_t length;          /* entries in it now                     */
    uint64_t added;           /* entries ever added (entries-added)    */
    char     first[REPLICA_ID_MAX];   /* first entry's ID, "" if empty */
    char     last_gen[REPLICA_ID_MAX];/* last-generated-id             */
} replica_sinfo;

/* XINFO STREAM stream into *out.  Redis 7 or later (entries-added).
 * Returns 0 or -1. */
int replica_stream_info(redis_conn *c, const char *stream,
                        replica_sinfo *out);

/* The entries of stream that trimming removed and that a consumer who
 * applied `applied` entries never saw (trimming removes the oldest
 * entries first): max(0, added - length - applied). */
uint64_t replica_missed(const replica_sinfo *si, uint64_t applied);

/* The registered replica names, sorted (free with rsrc_free_names from
 * redis_source.h).  Returns 0 or -1. */
int replica_names(redis_conn *c, char ***names, size_t *n);

/* Reads replica name's heartbeat (*hb_ms, 0 if none) and its position in
 * stream (id: "" when it has none; *applied).  Returns 1 if the replica
 * hash exists, 0 if not, -1. */
int replica_get(redis_conn *c, const char *name, const char *stream,
                int64_t *hb_ms, char id[REPLICA_ID_MAX], uint64_t *applied);

/* Unregisters name: SREM tally:replicas and DEL tally:replica:<name>.
 * Returns 1 if it was registered, 0 if not, -1. */
int replica_forget(redis_conn *c, const char *name);

/* `tallyd replicas [list] --redis URL` and `tallyd replicas forget
 * --redis URL NAME` (replicas_cli.c); argv: the words after "replicas".
 * Returns the exit status (cli.h). */
int cli_replicas(int argc, char **argv);

#endif
