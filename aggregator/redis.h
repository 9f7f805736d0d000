/*
 * redis.h -- a thin, blocking Redis client for tallyd (ship and the Redis
 * source).  The only code in Tally that includes hiredis headers is
 * redis.c; everything else sees the types below.
 *
 * URL:  redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 *       HOST is a name, an IPv4 address or "[v6]"; PORT defaults to 6379,
 *       DB to 0.  A password (and user, Redis 6 ACL) is sent with AUTH, a
 *       non-zero DB with SELECT, right after connecting.
 *
 * Every operation has a timeout (connect and each read/write).  After a
 * network or protocol error the connection is "broken": every call fails
 * until redis_reconnect() succeeds.  Error replies from the server (e.g.
 * "ERR The ID specified in XADD is equal or smaller ...") are NOT
 * connection errors: they come back as REDIS_R_ERROR replies.
 *
 * Log lines and error texts never contain the URL's host or password:
 * callers describe the server as "redis".
 */
#ifndef TALLY_AGG_REDIS_H
#define TALLY_AGG_REDIS_H

#include <stddef.h>

typedef struct {
    char host[256];
    int  port;
    char user[128];     /* empty: plain AUTH PASSWORD */
    char pass[256];     /* empty: no AUTH */
    int  db;
} redis_url;

/* Parses url into *u.  Returns 0, or -1 with a reason in err (which never
 * repeats the password). */
int redis_url_parse(const char *url, redis_url *u, char *err, size_t errlen);

typedef struct redis_conn redis_conn;

/* A reply.  Owned by whoever got it from redis_get/redis_cmd; free it with
 * redis_reply_free (elements of an array belong to the array). */
typedef struct redis_reply redis_reply;

enum redis_rtype {
    REDIS_R_STRING = 1, REDIS_R_ARRAY = 2, REDIS_R_INTEGER = 3,
    REDIS_R_NIL = 4, REDIS_R_STATUS = 5, REDIS_R_ERROR = 6,
    REDIS_R_OTHER = 7
};

/* Creates a client for u with the given timeout (ms, applied to connect
 * and to every socket read/write) and tries to connect.  Returns NULL only
 * on allocation failure; when the first connection fails the client is
 * returned broken (see redis_ok / redis_errstr) and redis_reconnect()
 * retries.  Free with redis_close. */
redis_conn *redis_new(const redis_url *u, int timeout_ms);

/* Drops any connection and connects again (then AUTH and SELECT).
 * Returns 0 or -1 (reason in redis_errstr). */
int redis_reconnect(redis_conn *c);

/* 1 if connected and not broken, else 0. */
int redis_ok(const redis_conn *c);

/* The last connection or protocol error, "" if none. */
const char *redis_errstr(const redis_conn *c);

/* Closes and frees c (NULL is fine). */
void redis_close(redis_conn *c);

/* Queues one command (binary-safe arguments) in the output buffer without
 * sending it: pipelining.  Returns 0, or -1 if the client is broken. */
int redis_append(redis_conn *c, int argc, const char **argv,
                 const size_t *lens);

/* Sends what is queued (if anything) and reads the next reply, in command
 * order.  Returns the reply, or NULL on a network/protocol error or timeout
 * (the client is then broken). */
redis_reply *redis_get(redis_conn *c);

/* redis_append + redis_get for one command of NUL-terminated arguments.
 * Only when nothing else is queued. */
redis_reply *redis_cmd(redis_conn *c, int argc, const char **argv);

/* Accessors.  str: the bytes of a STRING, STATUS or ERROR reply (NUL
 * terminated, *len set if len is not NULL), else NULL.  len_of: number of
 * elements of an ARRAY, else 0.  at: element i of an ARRAY, else NULL. */
int redis_reply_type(const redis_reply *r);
const char *redis_reply_str(const redis_reply *r, size_t *len);
long long redis_reply_int(const redis_reply *r);
size_t redis_reply_len(const redis_reply *r);
const redis_reply *redis_reply_at(const redis_reply *r, size_t i);
void redis_reply_free(redis_reply *r);

/* 1 if r is an ERROR reply whose text starts with prefix, else 0. */
int redis_reply_is_error(const redis_reply *r, const char *prefix);

#endif
