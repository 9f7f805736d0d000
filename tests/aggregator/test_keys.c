/* Tests for aggregator/keys.c and crypto.c: key format, hashing, the
 * Bearer header, and the add/check/revoke round trip on a real database. */
#include "aggregator/crypto.h"
#include "aggregator/db.h"
#include "aggregator/keys.h"
#include "tests/check.h"

#include <stdlib.h>
#include <unistd.h>

static void
test_generate(void)
{
    char k1[KEYS_BUF], k2[KEYS_BUF];
    unsigned char h1[DB_HASH_SIZE], h2[DB_HASH_SIZE], h[DB_HASH_SIZE];
    CHECK(crypto_start() == 0);
    keys_generate(k1, h1);
    keys_generate(k2, h2);
    CHECK_EQ_U64(strlen(k1), KEYS_LEN);
    CHECK(strncmp(k1, "tly_", 4) == 0);
    for (size_t i = 4; i < KEYS_LEN; i++)
        CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", k1[i]));
    CHECK(strcmp(k1, k2) != 0);
    keys_hash(k1, strlen(k1), h);
    CHECK(crypto_equal32(h, h1));
    CHECK(!crypto_equal32(h, h2));
    /* BLAKE2b-256("") known answer */
    unsigned char e[DB_HASH_SIZE];
    static const unsigned char want[8] = { 0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2 };
    crypto_hash256("", 0, e);
    CHECK(memcmp(e, want, 8) == 0);
}

static void
test_bearer(void)
{
    const char *t;
    size_t n;
    CHECK(keys_bearer("Bearer abc", &t, &n) == 0);
    CHECK_MEM(t, n, "abc");
    CHECK(keys_bearer("  bearer   abc  ", &t, &n) == 0);
    CHECK_MEM(t, n, "abc");
    CHECK(keys_bearer("Basic abc", &t, &n) == -1);
    CHECK(keys_bearer("Bearer", &t, &n) == -1);
    CHECK(keys_bearer("Bearer   ", &t, &n) == -1);
    CHECK(keys_bearer("Bearerabc", &t, &n) == -1);
    CHECK(keys_bearer(NULL, &t, &n) == -1);
}

static void
test_roundtrip(void)
{
    char path[] = "/tmp/tally-keys-XXXXXX", err[512], key[KEYS_BUF], hdr[128];
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    db *d;
    CHECK(db_open(path, DB_RW, &d, err, sizeof(err)) == 0);
    int64_t id = 0, got = 0;
    CHECK(keys_add(d, "ci", key, &id) == 0);
    CHECK(id > 0);
    snprintf(hdr, sizeof(hdr), "Bearer %s", key);
    CHECK(keys_check(d, hdr, &got) == 1);
    CHECK_EQ_U64(got, id);
    CHECK(keys_check(d, NULL, NULL) == 0);
    CHECK(keys_check(d, "Bearer tly_wrong", NULL) == 0);
    hdr[strlen(hdr) - 1] ^= 1;                       /* one char off */
    CHECK(keys_check(d, hdr, NULL) == 0);
    hdr[strlen(hdr) - 1] ^= 1;

    /* a read-only connection sees it too */
    db *ro;
    CHECK(db_open(path, DB_RO, &ro, err, sizeof(err)) == 0);
    CHECK(keys_check(ro, hdr, NULL) == 1);

    CHECK(db_key_revoke(d, id, 1700000000) == 1);
    CHECK(db_key_revoke(d, id, 1700000000) == 0);
    CHECK(db_key_revoke(d, 999, 1700000000) == 0);
    CHECK(keys_check(d, hdr, NULL) == 0);
    CHECK(keys_check(ro, hdr, NULL) == 0);
    db_close(ro);
    db_close(d);
    unlink(path);
    char p[64];
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

int
main(void)
{
    RUN(test_generate);
    RUN(test_bearer);
    RUN(test_roundtrip);
    return check_summary("keys");
}
