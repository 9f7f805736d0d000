/*
 * ctl.h -- admin changes as control-stream entries (docs/cluster.md):
 * every `tallyd sites|goals|keys|users|share` write against a replica is
 * one self-contained, deterministic command in the Redis stream
 * CTL_STREAM, and every replica applies the commands in stream order
 * (db_ctl.h, ctl_sync.h).  Everything random or derived -- the API key
 * hash, the share token hash, the argon2id password hash, the times --
 * is computed by the writer before the entry is added, so every replica
 * stores byte-identical rows.  Plaintext keys, tokens and passwords are
 * never in an entry.
 *
 * Plain C, no Redis or SQLite types: the codec is unit-tested
 * (tests/aggregator/test_ctl.c) and fuzzed (tests/fuzz/fuzz_ctl.c).
 *
 * Entry text (the stream field "c"), one line of ASCII:
 *
 *   tally-ctl/1 VERB KEY=VALUE KEY=VALUE ...
 *
 * VALUE bytes outside 0x21..0x7e, and '%', '=', are written %XX (upper
 * case hex); the decoder accepts either case.  Keys: t (unix seconds),
 * id (decimal > 0), kind (event|page), site, tz, name, value, pwhash,
 * hash (64 hex digits).  Every key appears at most once, except site in
 * key.add (up to CTL_SITES_MAX).  The verbs and their keys (* optional):
 *
 *   site.add      site tz t          site.remove   site
 *   goal.add      site kind value t  goal.remove   site id
 *   key.add       hash t name* site*  key.revoke   id t
 *   key.scope     id site
 *   user.add      name pwhash t      user.passwd   name pwhash
 *   user.remove   name
 *   share.add     hash site t        share.revoke  id t
 */
#ifndef TALLY_AGG_CTL_H
#define TALLY_AGG_CTL_H

#include <stddef.h>
#include <stdint.h>

#define CTL_STREAM      "tally:ctl"
#define CTL_FIELD       "c"
#define CTL_MAGIC       "tally-ctl/1"
#define CTL_ENTRY_MAX   65536          /* longest entry text, bytes       */
#define CTL_SITE_MAX    255            /* a domain                         */
#define CTL_TZ_MAX      63             /* an IANA zone name                */
#define CTL_NAME_MAX    255            /* a key name or a user name        */
#define CTL_VALUE_MAX   2000           /* a goal value (== GOAL_VALUE_MAX) */
#define CTL_PWHASH_MAX  127            /* an argon2id string               */
#define CTL_HASH_SIZE   32             /* == DB_HASH_SIZE                  */
#define CTL_SITES_MAX   16             /* sites a new key is scoped to     */

enum ctl_verb {
    CTL_NONE = 0,
    CTL_SITE_ADD, CTL_SITE_REMOVE,
    CTL_GOAL_ADD, CTL_GOAL_REMOVE,
    CTL_KEY_ADD, CTL_KEY_REVOKE, CTL_KEY_SCOPE,
    CTL_USER_ADD, CTL_USER_PASSWD, CTL_USER_REMOVE,
    CTL_SHARE_ADD, CTL_SHARE_REVOKE,
    CTL_VERB_END
};

/* What applying an entry did (db_ctl_apply), the same on every replica. */
enum ctl_status {
    CTL_DONE = 0,        /* applied                                       */
    CTL_EXISTS = 1,      /* nothing new: user/goal exists; site updated   */
    CTL_NOTFOUND = 2,    /* the site, goal, key, user or link is unknown  */
    CTL_INVALID = 3      /* malformed or unknown entry: skipped           */
};

enum ctl_goal_kind { CTL_GOAL_EVENT = 1, CTL_GOAL_PAGE = 2 };  /* goals.h */

/* One decoded command.  Fields a verb does not use are zero / "". */
typedef struct {
    enum ctl_verb verb;
    int64_t       t;                          /* unix seconds            */
    int64_t       id;                         /* goal, key or share id   */
    int           kind;                       /* enum ctl_goal_kind      */
    char          site[CTL_SITE_MAX + 1];
    char          tz[CTL_TZ_MAX + 1];
    char          name[CTL_NAME_MAX + 1];
    char          value[CTL_VALUE_MAX + 1];
    char          pwhash[CTL_PWHASH_MAX + 1];
    unsigned char hash[CTL_HASH_SIZE];
    int           has_hash;
    char          sites[CTL_SITES_MAX][CTL_SITE_MAX + 1];  /* key.add   */
    size_t        nsites;
} ctl_cmd;

/* The verb's name ("site.add", ...), or "?" for CTL_NONE / out of range. */
const char *ctl_verb_name(enum ctl_verb v);

/* A short text for a status ("applied", "exists", ...). */
const char *ctl_status_name(int status);

/* Encodes c into out (cap bytes, NUL terminated).  c must hold every key
 * its verb requires (as ctl_decode would check).  Returns the length,
 * or -1 when c is incomplete or invalid, or it does not fit. */
long ctl_encode(const ctl_cmd *c, char *out, size_t cap);

/* Decodes the entry text (len bytes, any content, not NUL terminated)
 * into *c (fully overwritten).  Returns 0, or -1 with a short reason in
 * err (errlen bytes) -- unknown verb, malformed, a key missing, repeated
 * or not allowed for the verb, a value too long or not valid.  Never
 * reads outside [in, in + len). */
int ctl_decode(const char *in, size_t len, ctl_cmd *c, char *err,
               size_t errlen);

#endif
