/*
 * crc32c.c -- CRC-32C (Castagnoli), the checksum of spool headers and
 * records.  Uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * at run time), else slice-by-8 tables built once on first use.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* for builds without -D_GNU_SOURCE (NGINX) */
#endif

#include "spool/spool.h"
#include "spool/le.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define SP_HAVE_SSE42 1
#include <nmmintrin.h>
#endif

#define SP_CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t sp_crc_table[8][256];
static pthread_once_t sp_crc_once = PTHREAD_ONCE_INIT;

static void
sp_crc_init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (SP_CRC32C_POLY & (0u - (c & 1)));
        sp_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = sp_crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = (c >> 8) ^ sp_crc_table[0][c & 0xFF];
            sp_crc_table[t][i] = c;
        }
    }
}

/* Slice-by-8 on the raw (non-inverted) register value. */
static uint32_t
sp_crc_sw(uint32_t c, const unsigned char *p, size_t len)
{
    pthread_once(&sp_crc_once, sp_crc_init_tables);
    while (len >= 8) {
        uint32_t lo = sp_get32(p) ^ c;
        uint32_t hi = sp_get32(p + 4);
        c = sp_crc_table[7][lo & 0xFF] ^ sp_crc_table[6][(lo >> 8) & 0xFF]
            ^ sp_crc_table[5][(lo >> 16) & 0xFF] ^ sp_crc_table[4][lo >> 24]
            ^ sp_crc_table[3][hi & 0xFF] ^ sp_crc_table[2][(hi >> 8) & 0xFF]
            ^ sp_crc_table[1][(hi >> 16) & 0xFF] ^ sp_crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ sp_crc_table[0][(c ^ *p++) & 0xFF];
    return c;
}

#ifdef SP_HAVE_SSE42
/* The crc32 instruction computes exactly CRC-32C's register update. */
__attribute__((target("sse4.2"))) static uint32_t
sp_crc_hw(uint32_t c, const unsigned char *p, size_t len)
{
#if defined(__x86_64__)
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* unaligned-safe; one mov */
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
#endif
    while (len >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        c = _mm_crc32_u32(c, v);
        p += 4;
        len -= 4;
    }
    while (len--)
        c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

/* See spool.h.  Pure function, thread-safe. */
uint32_t
spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t c = ~crc;

    if (len == 0)
        return crc;
#ifdef SP_HAVE_SSE42
    if (__builtin_cpu_supports("sse4.2"))
        return ~sp_crc_hw(c, p, len);
#endif
    return ~sp_crc_sw(c, p, len);
}

/* The portable implementation alone, so tests can check it against the
 * hardware one.  See spool.h. */
uint32_t
spool_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    if (len == 0)
        return crc;
    return ~sp_crc_sw(~crc, buf, len);
}
