/* keys.c -- see keys.h. */
#include "aggregator/keys.h"
#include "aggregator/crypto.h"

#include <string.h>
#include <strings.h>
#include <time.h>

void
keys_generate(char key[KEYS_BUF], unsigned char hash[DB_HASH_SIZE])
{
    unsigned char raw[32];
    crypto_random(raw, sizeof(raw));
    memcpy(key, KEYS_PREFIX, 4);
    crypto_b64url(key + 4, KEYS_BUF - 4, raw, sizeof(raw));
    crypto_wipe(raw, sizeof(raw));
    keys_hash(key, KEYS_LEN, hash);
}

void
keys_hash(const char *key, size_t len, unsigned char hash[DB_HASH_SIZE])
{
    crypto_hash256(key, len, hash);
}

int
keys_bearer(const char *header, const char **tok, size_t *len)
{
    if (header == NULL)
        return -1;
    while (*header == ' ' || *header == '\t')
        header++;
    if (strncasecmp(header, "Bearer", 6) != 0
        || (header[6] != ' ' && header[6] != '\t'))
        return -1;
    const char *t = header + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;
    *tok = t;
    *len = n;
    return 0;
}

int
keys_check(db *d, const char *authorization, int64_t *id)
{
    const char *tok;
    size_t len;
    if (keys_bearer(authorization, &tok, &len) != 0 || len > 256)
        return 0;
    unsigned char hash[DB_HASH_SIZE];
    keys_hash(tok, len, hash);
    return db_key_find(d, hash, id);
}

int
keys_add(db *d, const char *name, char key[KEYS_BUF], int64_t *id)
{
    unsigned char hash[DB_HASH_SIZE];
    keys_generate(key, hash);
    return db_key_add(d, hash, name, (int64_t)time(NULL), id);
}
