/*
 * colblock.h -- a column block: N rows x C int64 columns in one byte
 * buffer, each column stored in the smallest of four encodings, and the
 * codec that writes and checks it.  Plain C11, no SQLite; the foundation
 * for storing sealed days of raw events and visits column-wise (not yet
 * used by ingest or queries).
 *
 * FORMAT OF A COLUMN BLOCK
 *
 * Every integer in the block is little-endian, whatever the host.  A block
 * is a 20-byte header, then C 28-byte column descriptors (column 0 first),
 * then the C column payloads, back to back in column order, without
 * padding.  Its length is exactly
 *
 *     20 + 28 * C + (sum of the C payload lengths)
 *
 * The header:
 *
 *     0: Magic number.  0x4B424354 ("TCBK" as bytes)
 *     4: Format version.  Currently 1.  (2 bytes)
 *     6: Number of columns C, 0..32.  (1 byte)
 *     7: Reserved, 0.  (1 byte)
 *     8: Number of rows N, 0..2^24.
 *    12: Length of the whole block in bytes.
 *    16: Header checksum: CRC-32C (spool_crc32c, spool/crc32c.c) of bytes
 *        0..15 of the header followed by the C descriptors (28*C bytes).
 *
 * A column descriptor (28 bytes):
 *
 *     0: Encoding tag (1 byte): 0 CB_CONST, 1 CB_FOR, 2 CB_DELTA, 3 CB_DICT.
 *     1: Bit width w, 0..64 (1 byte): of values (FOR), deltas (DELTA) or
 *        dictionary indexes (DICT); 0 for CONST.
 *     2: Dictionary gap width wd, 0..64 (1 byte): DICT only, else 0.
 *     3: Reserved, 0.  (1 byte)
 *     4: Payload length in bytes (4 bytes).
 *     8: base, a signed 64-bit value (8 bytes):
 *          CONST: the value of every row;  FOR: the minimum;
 *          DELTA: the first row's value;   DICT: the smallest entry.
 *    16: aux, an unsigned 64-bit value (8 bytes):
 *          DELTA: the smallest delta;  DICT: the number of entries K;
 *          CONST, FOR: 0.
 *    24: Payload checksum: CRC-32C of the column's payload bytes.
 *
 * Payloads.  "k values packed in w bits" is a bit string of k*w bits,
 * rounded up to whole bytes with zero bits: value i occupies bits i*w ..
 * i*w+w-1, least significant bit first, where bit b of the string is bit
 * (b % 8) of byte b / 8.  Widths are 0..64; w = 0 takes no bytes and every
 * value is 0.  Row values v[0..N-1]:
 *
 *   CONST  no payload; v[i] = base.
 *   FOR    N values x[i] packed in w bits; v[i] = base + x[i].
 *   DELTA  N-1 values x[i] packed in w bits (none when N <= 1);
 *          v[0] = base, v[i] = v[i-1] + aux + x[i-1]: a non-decreasing
 *          column stored as its first value and its deltas, minus the
 *          smallest delta.
 *   DICT   K-1 values e[j] packed in wd bits, then N indexes x[i] packed
 *          in w bits (each part rounded up to whole bytes on its own);
 *          the dictionary D[0] = base, D[j] = D[j-1] + 1 + e[j-1] (so it
 *          is strictly increasing: the column's distinct values, sorted),
 *          and v[i] = D[x[i]].
 *
 * Every sum above is exact: it never leaves the int64 range (no wrapping).
 *
 * The encoder stores each column in the smallest of the four encodings
 * (ties go to the first in the order CONST, FOR, DELTA, DICT) with the
 * narrowest widths; it writes CONST (base 0) for every column when N = 0.
 *
 * WHEN A BLOCK IS VALID
 *
 * A reader accepts a block only if all of these hold, and otherwise
 * rejects it with an error (never a crash, never a read outside the
 * buffer it was given, whatever the bytes):
 *
 *   - the buffer holds at least the header; magic and version match;
 *     C <= 32, N <= 2^24, reserved bytes are 0; the length field equals
 *     the buffer's length and the header and descriptors fit in it;
 *   - the header checksum matches;
 *   - each descriptor has a known tag, w and wd <= 64, reserved 0, and the
 *     payload length its tag implies: CONST: w = wd = 0, aux = 0, length
 *     0; FOR: wd = 0, aux = 0, ceil(N*w/8); DELTA: N >= 1, wd = 0,
 *     ceil((N-1)*w/8); DICT: N >= 1, 1 <= K <= N, w = the width of K-1
 *     (the bits needed to write K-1), ceil((K-1)*wd/8) + ceil(N*w/8);
 *   - the payload lengths add up to the block's length;
 *   and, for each column decoded:
 *   - its payload checksum matches;
 *   - every value is in the int64 range (no sum above overflows);
 *   - DICT: every index is < K.
 *
 * The header checksum covers the header and descriptors, each payload
 * checksum its column, so decoding one column reads and checks only the
 * header, the descriptors and that column's bytes.
 *
 * Widths are not required to be minimal (the encoder's are).
 */
#ifndef TALLY_COLBLOCK_H
#define TALLY_COLBLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CB_MAGIC 0x4B424354u     /* "TCBK" as little-endian bytes */
#define CB_VERSION 1
#define CB_MAX_COLS 32
#define CB_MAX_ROWS (1u << 24)
#define CB_HDR_SIZE 20
#define CB_DESC_SIZE 28

enum cb_enc { CB_CONST = 0, CB_FOR = 1, CB_DELTA = 2, CB_DICT = 3 };

/* Results: 0 or one of these negative codes. */
enum cb_err {
    CB_OK = 0,
    CB_EINVAL = -1,   /* bad arguments (too many columns or rows, NULL) */
    CB_ENOMEM = -2,   /* out of memory */
    CB_ETRUNC = -3,   /* buffer shorter than the block says it is */
    CB_EMAGIC = -4,   /* not a column block */
    CB_EVERSION = -5, /* a format version this code does not read */
    CB_ECRC = -6,     /* a checksum does not match */
    CB_EFORMAT = -7,  /* inconsistent header, descriptor or values */
    CB_ECOL = -8,     /* column index out of range */
};

/* One column's descriptor, as stored (see the format above). */
typedef struct cb_colinfo {
    uint8_t enc;       /* enum cb_enc */
    uint8_t width;     /* w */
    uint8_t dwidth;    /* wd (DICT) */
    uint32_t crc;      /* payload checksum */
    uint32_t bytes;    /* payload length */
    uint32_t off;      /* payload offset from the block's start */
    int64_t base;
    uint64_t aux;      /* DELTA: smallest delta; DICT: K */
} cb_colinfo;

/* What cb_decode_header learns about a block. */
typedef struct cb_info {
    uint32_t nrows;
    uint32_t ncols;
    uint32_t len;      /* the block's length */
    cb_colinfo col[CB_MAX_COLS];
} cb_info;

/*
 * Encodes nrows rows of ncols columns: cols[c][r] is row r of column c
 * (each cols[c] has nrows values; cols may be NULL when ncols is 0, and
 * cols[c] may be NULL when nrows is 0).  ncols <= CB_MAX_COLS, nrows <=
 * CB_MAX_ROWS.  On success returns 0 and sets *out to a malloc'd block
 * of *outlen bytes that the caller owns and frees with free().  On
 * failure returns CB_EINVAL or CB_ENOMEM and leaves *out and *outlen
 * untouched.  Does not keep any pointer it was given.
 */
int cb_encode(const int64_t *const cols[], size_t ncols, size_t nrows,
              uint8_t **out, size_t *outlen);

/*
 * Checks the header and the descriptors of the block b[0..len-1] (every
 * rule above except the per-column payload ones) and fills *info.
 * Returns 0, or a negative cb_err when the block is invalid (*info is
 * then unspecified).  Reads nothing outside b[0..len-1]; keeps nothing.
 */
int cb_decode_header(const uint8_t *b, size_t len, cb_info *info);

/*
 * Decodes column col of the block b[0..len-1] into dst[0..nrows-1]
 * (the caller's array of at least nrows slots, nrows from the header).
 * Checks the header as cb_decode_header does, then the column's
 * checksum and values.  Returns 0, or a negative cb_err: then dst's
 * contents are unspecified (it may have been written) and must not be
 * used.  Never writes beyond dst[nrows-1]; reads nothing outside b; may
 * allocate K*8 bytes for a dictionary (freed before it returns).
 */
int cb_decode_col(const uint8_t *b, size_t len, size_t col, int64_t *dst);

/* Like cb_decode_col with the header already checked by
 * cb_decode_header(b, len, info) on these same bytes: skips that work
 * (the column's own checks still run, and the column's place is checked
 * against len again, so even a damaged *info cannot make it read outside
 * b).  dst needs info->nrows slots.  Same contract otherwise. */
int cb_decode_col_info(const uint8_t *b, size_t len, const cb_info *info,
                       size_t col, int64_t *dst);

/* Like cb_decode_col_info, and when the column is dictionary-coded (or
 * constant) also writes each row's dictionary index into ix[0..nrows-1]
 * (NULL: not wanted) and the dictionary's size K into *kout: ix[i] <
 * K, and equal indexes mean equal values -- dense ids of the column's
 * distinct values.  *kout is 0 for the other encodings (ix is then not
 * written). */
int cb_decode_col_ix(const uint8_t *b, size_t len, const cb_info *info,
                     size_t col, int64_t *dst, uint32_t *ix, size_t *kout);

/* A static English phrase for a cb_err code (never NULL). */
const char *cb_strerror(int err);

/* The name of an encoding ("const", "for", "delta", "dict", "?"). */
const char *cb_enc_name(int enc);

#endif /* TALLY_COLBLOCK_H */
