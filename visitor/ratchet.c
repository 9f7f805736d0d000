/*
 * ratchet.c -- the daily key ratchet and the 48-byte state image: one
 * ratchet step, id-key derivation, wiping, encoding and decoding.  Pure
 * functions on memory, no I/O (the state file lives in statefile.c).
 */

#include "visitor/visitor.h"

#include <sodium.h>
#include <string.h>

#define TV_MAGIC        "TALLYSLT"
#define TV_VERSION      1u
#define TV_RATCHET_MSG  "tally/ratchet/v1"
#define TV_IDKEY_MSG    "tally/visitor-id/v1"

#define TV_SECONDS_PER_DAY 86400

int
tv_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

uint32_t
tv_day_of(int64_t unix_seconds)
{
    if (unix_seconds < 0)
        return 0;
    int64_t day = unix_seconds / TV_SECONDS_PER_DAY;
    if (day > (int64_t)UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)day;
}

void
tv_ratchet_step(unsigned char key[TV_KEY_SIZE])
{
    unsigned char next[TV_KEY_SIZE];

    /* separate output buffer: the key must not change while it is used */
    crypto_generichash(next, sizeof next,
                       (const unsigned char *)TV_RATCHET_MSG,
                       sizeof TV_RATCHET_MSG - 1, key, TV_KEY_SIZE);
    memcpy(key, next, TV_KEY_SIZE);
    sodium_memzero(next, sizeof next);
}

void
tv_state_derive(tv_state *st)
{
    crypto_generichash(st->idkey, TV_IDKEY_SIZE,
                       (const unsigned char *)TV_IDKEY_MSG,
                       sizeof TV_IDKEY_MSG - 1, st->key, TV_KEY_SIZE);
}

void
tv_state_wipe(tv_state *st)
{
    sodium_memzero(st, sizeof *st);
}

static void
put_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t
get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

void
tv_state_encode(const tv_state *st, unsigned char out[TV_STATE_SIZE])
{
    memcpy(out, TV_MAGIC, 8);
    put_u32le(out + 8, TV_VERSION);
    put_u32le(out + 12, st->day);
    memcpy(out + 16, st->key, TV_KEY_SIZE);
}

int
tv_state_decode(const unsigned char *buf, size_t len, tv_state *st)
{
    if (buf == NULL || len != TV_STATE_SIZE || memcmp(buf, TV_MAGIC, 8) != 0
        || get_u32le(buf + 8) != TV_VERSION)
        return -1;
    st->day = get_u32le(buf + 12);
    memcpy(st->key, buf + 16, TV_KEY_SIZE);
    tv_state_derive(st);
    return 0;
}
