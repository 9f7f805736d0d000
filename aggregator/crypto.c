/* crypto.c -- see crypto.h.  Thin wrappers over libsodium. */
#include "aggregator/crypto.h"

#include <sodium.h>

int
crypto_start(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

void
crypto_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

void
crypto_hash256(const void *in, size_t len, unsigned char out[CRYPTO_HASH_SIZE])
{
    crypto_generichash(out, CRYPTO_HASH_SIZE, in, len, NULL, 0);
}

int
crypto_equal32(const unsigned char a[CRYPTO_HASH_SIZE],
               const unsigned char b[CRYPTO_HASH_SIZE])
{
    return crypto_verify_32(a, b) == 0;
}

size_t
crypto_b64_len(size_t len)
{
    return sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

size_t
crypto_b64url(char *out, size_t cap, const void *in, size_t len)
{
    if (cap < crypto_b64_len(len) + 1)
        return 0;
    sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return crypto_b64_len(len);
}

void
crypto_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}
