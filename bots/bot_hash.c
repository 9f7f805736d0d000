/*
 * bot_hash.c -- SipHash-2-4 (Aumasson & Bernstein), portable C.
 */
#include "bots/bot_hash.h"

#include <string.h>

#define BOT_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define BOT_SIPROUND                                                       \
    do {                                                                   \
        v0 += v1; v1 = BOT_ROTL(v1, 13); v1 ^= v0; v0 = BOT_ROTL(v0, 32); \
        v2 += v3; v3 = BOT_ROTL(v3, 16); v3 ^= v2;                         \
        v0 += v3; v3 = BOT_ROTL(v3, 21); v3 ^= v0;                         \
        v2 += v1; v1 = BOT_ROTL(v1, 17); v1 ^= v2; v2 = BOT_ROTL(v2, 32); \
    } while (0)

static uint64_t
bot_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16
           | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32
           | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48
           | (uint64_t)p[7] << 56;
}

uint64_t
bot_siphash24(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = bot_le64(key), k1 = bot_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t m, b = (uint64_t)len << 56;
    size_t i, full = len - len % 8;
    uint8_t tail[8] = { 0 };

    for (i = 0; i < full; i += 8) {
        m = bot_le64(in + i);
        v3 ^= m;
        BOT_SIPROUND;
        BOT_SIPROUND;
        v0 ^= m;
    }
    if (len > full) {
        memcpy(tail, in + full, len - full);
    }
    b |= bot_le64(tail);
    v3 ^= b;
    BOT_SIPROUND;
    BOT_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    BOT_SIPROUND;
    BOT_SIPROUND;
    BOT_SIPROUND;
    BOT_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
