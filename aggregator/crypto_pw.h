/*
 * crypto_pw.h -- the password part of the aggregator's crypto layer
 * (crypto.h holds the rest): argon2id password hashing through
 * libsodium's crypto_pwhash_str with the INTERACTIVE limits.
 * aggregator/crypto_pw.c and aggregator/crypto.c are the only aggregator
 * files that include sodium.h (besides enrichment).
 *
 * A stored password is only ever the encoded argon2id string
 * ("$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>"), never the password.
 * Call crypto_start() (crypto.h) first.
 */
#ifndef TALLY_AGG_CRYPTO_PW_H
#define TALLY_AGG_CRYPTO_PW_H

#include <stddef.h>

#define CRYPTO_PW_STR 128         /* >= crypto_pwhash_STRBYTES */
#define CRYPTO_PW_PREFIX "$argon2id$"

/* Hashes the password (len bytes, any content) into out, a NUL-terminated
 * argon2id string with a fresh random salt.  Returns 0, or -1 when out of
 * memory (argon2id INTERACTIVE needs 64 MiB). */
int crypto_pw_hash(const char *pw, size_t len, char out[CRYPTO_PW_STR]);

/* Returns 1 when pw (len bytes) matches the encoded string stored, 0
 * when it does not or stored is not a valid argon2id string. */
int crypto_pw_verify(const char *stored, const char *pw, size_t len);

/* 1 when stored was made with other parameters than today's (the caller
 * may re-hash after a successful verify), 0 otherwise. */
int crypto_pw_needs_rehash(const char *stored);

#endif
