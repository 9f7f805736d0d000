/* colblock_crc.h -- for the column-block unit test and fuzz target: the
 * little-endian field helpers and the checksum fix-up that lets a test
 * damage a block's structure without tripping its CRCs first (the
 * checksums as aggregator/colblock.h defines them).  Header-only. */
#ifndef TALLY_TESTS_COLBLOCK_CRC_H
#define TALLY_TESTS_COLBLOCK_CRC_H

#include "aggregator/colblock.h"
#include "spool/spool.h"

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the header checksum and every payload checksum that lies
 * inside the len bytes of b (a damaged block may declare more). */
static inline void
fix_crcs(uint8_t *b, size_t len)
{
    if (len < CB_HDR_SIZE)
        return;
    size_t ncols = b[6], off = CB_HDR_SIZE + CB_DESC_SIZE * ncols;
    if (off > len)
        return;
    for (size_t c = 0; c < ncols; c++) {
        uint8_t *d = b + CB_HDR_SIZE + CB_DESC_SIZE * c;
        uint32_t n = get32(d + 4);
        if (n <= len - off)
            put32(d + 24, spool_crc32c(0, b + off, n));
        off += n;
        if (off > len)
            break;
    }
    uint32_t crc = spool_crc32c(0, b, 16);
    crc = spool_crc32c(crc, b + CB_HDR_SIZE, CB_DESC_SIZE * ncols);
    put32(b + 16, crc);
}

#endif
