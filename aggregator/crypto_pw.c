/* crypto_pw.c -- see crypto_pw.h.  Thin wrappers over libsodium's
 * crypto_pwhash_str (argon2id). */
#include "aggregator/crypto_pw.h"

#include <sodium.h>
#include <string.h>

_Static_assert(CRYPTO_PW_STR >= crypto_pwhash_STRBYTES,
               "CRYPTO_PW_STR too small for crypto_pwhash_str");

int
crypto_pw_hash(const char *pw, size_t len, char out[CRYPTO_PW_STR])
{
    memset(out, 0, CRYPTO_PW_STR);
    if (crypto_pwhash_str_alg(out, pw, (unsigned long long)len,
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -1;
    return strncmp(out, CRYPTO_PW_PREFIX, strlen(CRYPTO_PW_PREFIX)) == 0 ? 0 : -1;
}

int
crypto_pw_verify(const char *stored, const char *pw, size_t len)
{
    if (stored == NULL
        || strncmp(stored, CRYPTO_PW_PREFIX, strlen(CRYPTO_PW_PREFIX)) != 0
        || strnlen(stored, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
        return 0;
    return crypto_pwhash_str_verify(stored, pw, (unsigned long long)len) == 0;
}

int
crypto_pw_needs_rehash(const char *stored)
{
    return crypto_pwhash_str_needs_rehash(stored,
                                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}
