/*
 * le.h -- explicit little-endian loads and stores on byte buffers, private
 * to spool/.  Byte by byte, so they never depend on the host's byte order
 * or on alignment; compilers turn them into single moves on x86.
 */
#ifndef TALLY_SPOOL_LE_H
#define TALLY_SPOOL_LE_H

#include <stdint.h>

static inline uint16_t
sp_get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t
sp_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static inline uint64_t
sp_get64(const unsigned char *p)
{
    return (uint64_t)sp_get32(p) | (uint64_t)sp_get32(p + 4) << 32;
}

static inline void
sp_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void
sp_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void
sp_put64(unsigned char *p, uint64_t v)
{
    sp_put32(p, (uint32_t)v);
    sp_put32(p + 4, (uint32_t)(v >> 32));
}

#endif /* TALLY_SPOOL_LE_H */
