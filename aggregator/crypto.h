/*
 * crypto.h -- the aggregator's only door to libsodium: random bytes,
 * BLAKE2b-256 hashing, constant-time comparison, base64url.
 * aggregator/crypto.c and crypto_pw.c (passwords) are the only aggregator files that include sodium.h.
 */
#ifndef TALLY_AGG_CRYPTO_H
#define TALLY_AGG_CRYPTO_H

#include <stddef.h>

#define CRYPTO_HASH_SIZE 32

/* Initialises libsodium (idempotent, thread-safe).  Returns 0 or -1. */
int crypto_start(void);

/* Fills buf with len bytes from the OS random source. */
void crypto_random(void *buf, size_t len);

/* out = BLAKE2b-256(in), unkeyed. */
void crypto_hash256(const void *in, size_t len,
                    unsigned char out[CRYPTO_HASH_SIZE]);

/* Returns 1 if the two 32-byte values are equal, 0 otherwise, in time
 * independent of their contents. */
int crypto_equal32(const unsigned char a[CRYPTO_HASH_SIZE],
                   const unsigned char b[CRYPTO_HASH_SIZE]);

/* Encodes len bytes as unpadded base64url into out (capacity cap, which
 * must be at least crypto_b64_len(len) + 1).  Returns the string length
 * or 0 if cap is too small. */
size_t crypto_b64url(char *out, size_t cap, const void *in, size_t len);
size_t crypto_b64_len(size_t len);

/* Overwrites len bytes at p with zeros (not optimised away). */
void crypto_wipe(void *p, size_t len);

#endif
