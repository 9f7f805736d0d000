/* Tests for spool/crc32c.c: known vectors, incremental use, and the
 * hardware path against the portable one on many lengths and alignments. */
#include "spool/spool.h"
#include "tests/check.h"

#include <stdlib.h>

static void
test_known_vectors(void)
{
    unsigned char zeros[32] = {0}, ones[32];

    memset(ones, 0xFF, sizeof ones);
    CHECK_EQ_U64(spool_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(spool_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    /* RFC 3720 (iSCSI) B.4 test patterns */
    CHECK_EQ_U64(spool_crc32c(0, zeros, 32), 0x8A9136AAu);
    CHECK_EQ_U64(spool_crc32c(0, ones, 32), 0x62A8AB43u);
    CHECK_EQ_U64(spool_crc32c_sw(0, zeros, 32), 0x8A9136AAu);
    CHECK_EQ_U64(spool_crc32c(0, "", 0), 0);
    CHECK_EQ_U64(spool_crc32c(0x12345678u, "", 0), 0x12345678u);
}

static void
test_incremental(void)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t len = strlen(s);
    uint32_t whole = spool_crc32c(0, s, len);

    CHECK_EQ_U64(whole, 0x22620404u);
    for (size_t cut = 0; cut <= len; cut++) {
        uint32_t c = spool_crc32c(0, s, cut);
        CHECK_EQ_U64(spool_crc32c(c, s + cut, len - cut), whole);
        c = spool_crc32c_sw(0, s, cut);
        CHECK_EQ_U64(spool_crc32c_sw(c, s + cut, len - cut), whole);
    }
}

static void
test_hw_matches_sw(void)
{
    enum { N = 4096 };
    unsigned char *buf = malloc(N + 16);
    uint32_t seed = 12345;

    for (size_t i = 0; i < N + 16; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
    for (size_t align = 0; align < 8; align++)
        for (size_t len = 0; len < 300; len++)
            CHECK_EQ_U64(spool_crc32c(0, buf + align, len),
                         spool_crc32c_sw(0, buf + align, len));
    CHECK_EQ_U64(spool_crc32c(7, buf + 3, N), spool_crc32c_sw(7, buf + 3, N));
    /* a single changed bit changes the checksum */
    uint32_t before = spool_crc32c(0, buf, N);
    buf[N / 2] ^= 0x10;
    CHECK(spool_crc32c(0, buf, N) != before);
    free(buf);
}

int
main(void)
{
    RUN(test_known_vectors);
    RUN(test_incremental);
    RUN(test_hw_matches_sw);
    return check_summary("spool/crc32c");
}
