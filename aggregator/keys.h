/*
 * keys.h -- API keys.  A key is "tly_" followed by the unpadded base64url
 * encoding of 32 random bytes (47 characters).  Only its BLAKE2b-256 hash
 * is stored (db.h api_keys); the key is shown once, when created.
 */
#ifndef TALLY_AGG_KEYS_H
#define TALLY_AGG_KEYS_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

#define KEYS_PREFIX   "tly_"
#define KEYS_LEN      47             /* strlen of a key */
#define KEYS_BUF      (KEYS_LEN + 1)

/* Generates a new random key into key (NUL terminated) and its hash. */
void keys_generate(char key[KEYS_BUF], unsigned char hash[DB_HASH_SIZE]);

/* Hashes a presented key (len bytes, any content). */
void keys_hash(const char *key, size_t len, unsigned char hash[DB_HASH_SIZE]);

/* Extracts the token from an Authorization header value ("Bearer
 * <token>", scheme case-insensitive, surrounding blanks ignored).
 * Returns 0 and (*tok, *len) pointing into header, or -1. */
int keys_bearer(const char *header, const char **tok, size_t *len);

/* Checks an Authorization header against the active keys in d.  Returns
 * 1 (valid, *id set if id is not NULL), 0 (missing, malformed, unknown
 * or revoked) or -1 on a database error. */
int keys_check(db *d, const char *authorization, int64_t *id);

/* Creates a key named name in d.  Returns 0 with the key in key and its
 * id in *id, or -1. */
int keys_add(db *d, const char *name, char key[KEYS_BUF], int64_t *id);

#endif
