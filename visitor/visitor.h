/*
 * visitor.h -- the daily salt ratchet and the visitor hash, shared bit for
 * bit by the NGINX module and tallyd.  Built on libsodium; this library is
 * the only Tally code outside aggregator/crypto.c that includes sodium.h.
 *
 * STATE FILE (48 bytes, integers little-endian, mode 0600)
 *
 *   0   8   magic "TALLYSLT"
 *   8   4   format version (1)
 *   12  4   UTC day: days since 1970-01-01
 *   16  32  key of that day, K_day
 *   48 (end)
 *
 *   The file carries no checksum of its own: it is only ever replaced
 *   atomically (written to "<path>.tmp", fsynced, renamed over <path>, the
 *   directory fsynced) while holding an exclusive flock() on "<path>.lock",
 *   so a reader sees either the old or the new state, never a mix.  A file
 *   of any other size or magic or version is an error, not a new state:
 *   silently replacing it would change every visitor id of the day.
 *
 * RATCHET
 *
 *   K_{d+1} = BLAKE2b-256(key = K_d, message = "tally/ratchet/v1")
 *             (libsodium crypto_generichash, 32-byte output)
 *
 *   Only the newest key is ever stored; stepping forward wipes the old one
 *   (sodium_memzero).  BLAKE2b is one-way, so the key of a past day cannot
 *   be computed from today's: yesterday's visitor ids cannot be recomputed
 *   from an IP address by anyone, the operator included.  The state never
 *   moves backwards: asked for a day before the stored day, the library
 *   keeps the stored day (and says so).
 *
 * VISITOR ID
 *
 *   k_id  = BLAKE2b-128(key = K_day, message = "tally/visitor-id/v1")
 *   msg   = u16le(len(site)) || site || ip16 || ua
 *   id    = SipHash-2-4(key = k_id, msg)  (crypto_shorthash), read as a
 *           little-endian uint64
 *
 *   site is the site domain as stored (lower case), ip16 the client address
 *   as 16 bytes (IPv6 network order; IPv4 as the IPv4-mapped ::ffff:a.b.c.d),
 *   ua the User-Agent header bytes as received (empty if absent).
 */

#ifndef TALLY_VISITOR_H
#define TALLY_VISITOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TV_STATE_SIZE   48
#define TV_KEY_SIZE     32
#define TV_IDKEY_SIZE   16

/* In-memory state: the day and its key, plus the derived id key. */
typedef struct {
    uint32_t      day;
    unsigned char key[TV_KEY_SIZE];
    unsigned char idkey[TV_IDKEY_SIZE];
} tv_state;

/* Initialises libsodium; call once per process before anything else.
 * Returns 0, or -1 if libsodium cannot start. */
int tv_init(void);

/* The UTC day number (days since 1970-01-01) of a Unix time in seconds.
 * Times before 1970 give day 0 (so a clock set far back can never make the
 * ratchet run); times past day UINT32_MAX give UINT32_MAX. */
uint32_t tv_day_of(int64_t unix_seconds);

/* K_{d+1} from K_d, in place (the old key is overwritten; no copy of it is
 * left on the stack). */
void tv_ratchet_step(unsigned char key[TV_KEY_SIZE]);

/* Derives st->idkey from st->key. */
void tv_state_derive(tv_state *st);

/* Wipes the whole state from memory. */
void tv_state_wipe(tv_state *st);

/* Serialises / parses the 48-byte state file image.  Parse returns 0, or -1
 * if the image is not a valid version-1 state (wrong size, magic or
 * version); on success st->idkey is derived. */
void tv_state_encode(const tv_state *st, unsigned char out[TV_STATE_SIZE]);
int tv_state_decode(const unsigned char *buf, size_t len, tv_state *st);

/* Result flags of tv_state_sync. */
#define TV_SYNC_CREATED   0x1   /* the file did not exist and was created */
#define TV_SYNC_ADVANCED  0x2   /* the stored state was moved forward     */
#define TV_SYNC_CLOCKBACK 0x4   /* today < stored day: kept stored day    */

/* tv_state_sync refuses (error, file untouched) to ratchet more than this
 * many days in one go: a clock a century ahead is wrong, and ratcheting
 * would destroy today's key for good. */
#define TV_SYNC_MAX_STEPS 36525u

/* Brings *st to the state for UTC day `today` using the state file at path:
 * takes the lock, reads the file (creating it from the OS random source if
 * missing, mode 0600), ratchets it forward to `today` if it is behind,
 * rewrites it atomically if it changed, releases the lock, and leaves the
 * result in *st (the old contents of *st are wiped first).  If the file is
 * ahead of `today` (clock set back) the file's day is kept.  Returns 0 and
 * ORs TV_SYNC_* into *flags (may be NULL); on error returns -1 and writes a
 * message into err (errlen bytes) naming the path and the reason; *st is
 * then wiped and the file is unchanged (unless only the final directory
 * fsync failed: the new file is then in place but maybe not yet durable).
 *
 * Details: the lock is an exclusive flock() on "<path>.lock" (created 0600
 * if missing), so concurrent callers -- threads or processes -- serialise
 * and all end with the same state.  A file of the wrong size, magic or
 * version is an error and is left untouched.  A new file (and the temp
 * file) is created mode 0600 and owned by the caller; a root caller that
 * replaces an existing file keeps that file's owner and group (a root
 * master that creates the file hands it, and the lock file, to its workers
 * with tv_state_chown).  After a
 * replacement the old inode is overwritten with zeros (best effort).  The
 * directory must be writable by whoever ratchets (the temp file is created
 * beside the state file).  Call it at start and whenever
 * tv_day_of(now) > st->day; with TV_SYNC_CLOCKBACK set, st->day > today. */
int tv_state_sync(const char *path, uint32_t today, tv_state *st,
                  int *flags, char *err, size_t errlen);

/* Gives the state file and its lock file "<path>.lock" to uid:gid, e.g. a
 * root NGINX master handing them to its workers after tv_state_sync created
 * them.  Returns 0, or -1 with a message in err. */
int tv_state_chown(const char *path, uid_t uid, gid_t gid, char *err,
                   size_t errlen);

/* Converts a textual IPv4 or IPv6 address into the 16-byte form.  Returns 0,
 * or -1 if text is not an address.  text need not be NUL terminated.
 * Accepts dotted-quad IPv4 ("192.0.2.1") and any inet_pton IPv6 form
 * ("2001:db8::1", "::ffff:192.0.2.1" -- which gives the same 16 bytes as
 * "192.0.2.1"); rejects brackets, ports, zone ids ("%eth0"), spaces. */
int tv_ip_parse(const char *text, size_t len, unsigned char ip16[16]);

/* Converts a 4-byte IPv4 address (network order) into the 16-byte form. */
void tv_ip_from_v4(const unsigned char v4[4], unsigned char ip16[16]);

/* The visitor id of (site, ip, ua) under st's day key (st->idkey, as set by
 * tv_state_derive / tv_state_decode / tv_state_sync).  site_len is at most
 * 65535 (longer sites are hashed as their first 65535 bytes); ua may be
 * NULL (same as empty).  No copy of the message (which holds the address)
 * is left in memory.  Messages longer than 4 KiB are built on the heap;
 * if that allocation fails the process aborts rather than return a wrong
 * id. */
uint64_t tv_visitor_id(const tv_state *st, const char *site, size_t site_len,
                       const unsigned char ip16[16], const char *ua,
                       size_t ua_len);

#endif /* TALLY_VISITOR_H */
