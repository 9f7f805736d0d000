/*
 * bot_hash.h -- SipHash-2-4, the keyed 64-bit hash behind the bot cache.
 *
 * Keyed (with a random per-matcher key) so that nobody can craft a user
 * agent whose hash collides with a popular browser's and poison the cache.
 */
#ifndef TALLY_BOT_HASH_H
#define TALLY_BOT_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * SipHash-2-4 of data[0..len) under the 16-byte key.  Pure function; reads
 * key and data only during the call.  data may be NULL when len is 0.
 */
uint64_t bot_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif /* TALLY_BOT_HASH_H */
